"""Sharded runs (``run --shard K/N``): their files are read back as one run, and every way they can fail to
make one run is said, for the report, the gate and the site alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conformance.grid import curated
from conformance.records import read_result_file
from reports import gate, html, site
from reports.results import load
from tests.synthetic_results import write_run

# In case-id order: a merged run's records are, so the unsharded file they are split from is the same run
# record for record, and a report built from either is the same page.
CASES = sorted(curated()[:12], key=lambda case: case.id)


def split(source: Path, count: int, directories: list[Path], skip: tuple[int, ...] = ()) -> list[Path]:
    """The shard files the engine writes for the run in ``source``: case ids dealt out in turn (deterministic), each
    shard's envelope saying which shard it is and planning its own cases. Shard K goes to ``directories[K - 1]``
    (or the only directory given); the shards in ``skip`` are not written, as if their CI jobs never uploaded."""
    envelope, records, *_ = read_result_file(source)
    adapter = envelope["adapter"]
    paths = []
    for index in range(1, count + 1):
        if index in skip:
            continue
        mine = [record for number, record in enumerate(records) if number % count == index - 1]
        header = {**envelope, "shard": {"index": index, "count": count}, "planned": len(mine)}
        lines = [header, *mine, {"type": "end", "planned": len(mine), "records": len(mine)}]
        directory = directories[index - 1] if len(directories) > 1 else directories[0]
        paths.append(write_lines(directory / f"{adapter}.shard-{index}-of-{count}.jsonl", lines))
    return paths


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
    return path


def edit(path: Path, envelope: dict | None = None, drop_end: bool = False, records: list[dict] | None = None) -> None:
    """Change a written result file: fields of its envelope (the device in its records too, as a run on
    that device writes them), its end line gone, or records added."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines[0].update(envelope or {})
    if records:  # the shard planned them too: its counts say so, as a shard that ran them would write them
        lines[0]["planned"] += len(records)
        lines[-1].update(planned=lines[0]["planned"], records=lines[-1]["records"] + len(records))
    for line in lines[1:]:
        if line["type"] == "result" and "device" in (envelope or {}):
            line["device"] = envelope["device"]
    if drop_end:
        lines.pop()
    lines[1:1] = records or []
    write_lines(path, lines)


@pytest.fixture
def unsharded(tmp_path) -> Path:
    """A run of every kind of outcome the default mix draws, in its own directory."""
    return write_run(tmp_path / "whole", "alpha", CASES, seed=3)


@pytest.mark.parametrize("layout", ["one directory", "four directories"])
def test_four_shards_merge_into_the_run_they_were_split_from(unsharded, tmp_path, layout):
    directories = [tmp_path / "shards"] if layout == "one directory" else [tmp_path / f"job-{k}" for k in range(1, 5)]
    paths = split(unsharded, 4, directories)
    assert len({path.name for path in paths}) == 4 and all(load([path]).runs[0].unfinished for path in paths)
    (whole,) = load([unsharded]).runs
    assert len({record["outcome"] for record in whole.records}) > 1  # the outcomes tell misplaced records apart

    (run,) = load(directories).runs
    assert run.records == whole.records
    assert run.end == whole.end == {"type": "end", "planned": 12, "records": 12}
    assert run.envelope == {**whole.envelope, "shards": 4}
    assert run.unfinished is None and run.label == "alpha"
    assert run.paths == paths


def test_shards_on_other_runners_merge_naming_every_machine_and_the_first_start(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "shards"])
    platform = read_result_file(paths[0])[0]["platform"]
    edit(paths[1], envelope={"timestamp_utc": "2001-01-01T00:00:00+00:00", "device_model": "other cpu"})
    edit(paths[2], envelope={"timestamp_utc": "2999-01-01T00:00:00+00:00", "platform": {**platform, "system": "Other"}})
    (run,) = load([tmp_path / "shards"]).runs
    assert run.envelope["timestamp_utc"] == "2001-01-01T00:00:00+00:00"
    assert run.envelope["device_model"] == "test cpu / other cpu"
    assert run.envelope["platform"] == {**platform, "system": f"{platform['system']} / Other"}


def test_a_missing_shard_leaves_the_run_unfinished_naming_it(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "shards"], skip=(3,))
    (run,) = load([tmp_path / "shards"]).runs
    given = ", ".join(map(str, paths))
    assert run.unfinished == f"alpha: shards 3 of 4 missing (given: {given})"
    assert len(run.records) == 9 and run.envelope["planned"] == 9
    assert split(unsharded, 4, [tmp_path / "two"], skip=(1, 4))
    assert "shards 1, 4 of 4 missing" in load([tmp_path / "two"]).runs[0].unfinished


def test_a_killed_shard_leaves_the_run_unfinished_naming_its_file(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "shards"])
    edit(paths[1], drop_end=True)
    (run,) = load([tmp_path / "shards"]).runs
    assert run.end is None
    assert run.unfinished == f"{paths[1]}: no end line (the run was killed or is still going) after 3 records"


def test_the_same_shard_twice_is_an_error_naming_both_files(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "shards"])
    again = tmp_path / "rerun" / paths[1].name
    again.parent.mkdir()
    shutil.copy(paths[1], again)
    with pytest.raises(ValueError, match="shard 2 of 4 of alpha") as error:
        load([tmp_path / "shards", tmp_path / "rerun"])
    assert str(paths[1]) in str(error.value) and str(again) in str(error.value)


@pytest.mark.parametrize(
    "field, changed",
    [
        ("profile", {"profile": "full"}),
        ("suite_commit", {"suite_commit": "0123456789abcdef"}),
        ("device", {"device": "cuda"}),
        ("shard count", {"shard": {"index": 4, "count": 5}}),
    ],
)
def test_shards_that_disagree_are_an_error_naming_the_field_and_files(unsharded, tmp_path, field, changed):
    paths = split(unsharded, 4, [tmp_path / "shards"])
    edit(paths[3], envelope=changed)
    with pytest.raises(ValueError, match=f"shards of alpha .* disagree on {field}: ") as error:
        load([tmp_path / "shards"])
    assert all(str(path) in str(error.value) for path in paths)


def test_shards_in_two_versions_are_one_run_in_error_or_two_runs(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "drifted"])
    for path in paths[2:]:
        edit(path, envelope={"framework_versions": {"alpha": "1.1"}})
    with pytest.raises(ValueError, match=r"disagree on framework_versions: alpha 1\.0 in .*; alpha 1\.1 in ") as error:
        load([tmp_path / "drifted"])
    assert all(str(path) in str(error.value) for path in paths)

    # Two runs, each of its own four shards, are two versions of the adapter, as unsharded ones are.
    older = write_run(tmp_path / "older", "alpha", CASES, versions={"alpha": "0.9"}, seed=4)
    split(older, 4, [tmp_path / "two"])
    split(unsharded, 4, [tmp_path / "two" / "newer"])
    runs = load([tmp_path / "two"]).runs
    assert [run.label for run in runs] == ["alpha (alpha 0.9)", "alpha (alpha 1.0)"]
    assert [run.unfinished for run in runs] == [None, None]


def test_a_case_in_two_shards_is_an_error_naming_it(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "shards"])
    _, records, *_ = read_result_file(paths[0])
    edit(paths[2], records=[records[0]])
    with pytest.raises(ValueError, match=f"case {records[0]['case_id']} is in two shards: {paths[0]} and {paths[2]}"):
        load([tmp_path / "shards"])


def test_a_run_given_both_unsharded_and_sharded_is_an_error(unsharded, tmp_path):
    paths = split(unsharded, 4, [tmp_path / "shards"])
    with pytest.raises(ValueError, match="appears twice with the same versions") as error:
        load([unsharded, tmp_path / "shards"])
    assert all(str(path) in str(error.value) for path in [unsharded, *paths])


@pytest.fixture
def two_layouts(unsharded, tmp_path) -> tuple[Path, Path]:
    """The same result set twice: alpha whole, and alpha in four shards' directories; beta unsharded in both."""
    whole, sharded = tmp_path / "whole-set" / "set", tmp_path / "sharded-set" / "set"
    (whole / "alpha").mkdir(parents=True)
    shutil.copy(unsharded, whole / "alpha")
    split(unsharded, 4, [sharded / f"alpha-job-{k}" for k in range(1, 5)])
    written = write_run(whole / "beta", "beta", CASES, seed=5)
    (sharded / "beta").mkdir(parents=True)
    shutil.copy(written, sharded / "beta")  # one file: written twice, the two could differ by their start times
    return whole, sharded


def test_the_report_gate_and_site_read_shards_as_the_unsharded_run(two_layouts, tmp_path):
    whole, sharded = two_layouts
    pages = [html.build(load([path]), tmp_path / "report" / name).read_text() for name, path in zip("ws", two_layouts)]
    assert pages[0] == pages[1] and "alpha" in pages[0]

    baseline = gate.baseline_from(load([whole]))
    assert gate.baseline_from(load([sharded])) == baseline
    verdicts = [gate.gate(baseline, load([path])) for path in two_layouts]
    assert verdicts[0].passed and verdicts[1].passed and verdicts[0].text() == verdicts[1].text()
    assert verdicts[1].compared == 2 * len(CASES)

    data = [site.collect([path]) for path in two_layouts]
    assert data[0] == data[1] and [run["adapter"] for run in data[1]["sets"][0]["runs"]] == ["alpha", "beta"]


def test_the_gate_fails_a_dropped_shard_and_a_regression_in_a_shard(two_layouts):
    whole, sharded = two_layouts
    baseline = gate.baseline_from(load([whole]))
    (dropped,) = (sharded / "alpha-job-3").glob("*.jsonl")
    dropped.unlink()
    verdict = gate.gate(baseline, load([sharded]))
    assert not verdict.passed
    text = verdict.text()
    assert "run did not finish" in text and "alpha: shards 3 of 4 missing" in text
    _, lost, *_ = read_result_file(next((whole / "alpha").glob("*.jsonl")))
    assert "missing case" in text and f"alpha: {lost[2]['case_id']}" in text  # the third case was shard 3's

    (second,) = (sharded / "alpha-job-2").glob("*.jsonl")
    envelope, records, end, _ = read_result_file(second)
    passed = next(record for record in records if record["outcome"] == "pass")
    regressed = [{**record, "outcome": "value_mismatch"} if record is passed else record for record in records]
    write_lines(second, [envelope, *regressed, end])
    verdict = gate.gate(baseline, load([sharded]))
    assert f"alpha: {passed['case_id']}: passed, now value_mismatch" in verdict.text()
