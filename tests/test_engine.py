"""The engine behind ``python -m conformance run``: pipelined workers, shards, -k as pytest reads it,
the same records as ``pytest conformance``, JUnit XML, progress."""

from __future__ import annotations

import subprocess
import sys
import threading
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import pytest

from conformance import engine
from conformance.case import Case
from conformance.engine import Options, Pace, Shard, execute, keyword_filter, keyword_names
from conformance.grid import profile
from conformance.worker import Cases, Worker
from reports.results import load

ROOT = Path(__file__).resolve().parent.parent
CORRECT = "tests.plugin_adapters:Correct"
# Fields that differ between two runs of the same cases: when and how fast.
VOLATILE = {"duration_s"}


def _comparable(records) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in records), key=lambda r: r["case_id"])


# --- shards -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "2", "-1/4", ""])
def test_a_bad_shard_is_refused_with_the_form_to_use(text):
    with pytest.raises(ValueError, match="give K/N with 1 <= K <= N"):
        Shard.parse(text)


@pytest.mark.parametrize("profile_name", ["smoke", "default", "full"])
def test_shards_partition_every_profile_evenly(profile_name):
    ids = [case.id for case in profile(profile_name)]
    owners = Counter()
    for case_id in ids:
        (owner,) = [k for k in range(1, 5) if Shard(k, 4).holds(case_id)]  # exactly one shard holds each case
        owners[owner] += 1
    assert sum(owners.values()) == len(ids)
    # A hash split is binomial: each shard within 5 standard deviations of a quarter (a chance of about 1e-6).
    spread = 5 * (len(ids) * 0.25 * 0.75) ** 0.5
    assert all(abs(count - len(ids) / 4) <= spread for count in owners.values()), owners


def test_a_cases_shard_depends_on_its_id_alone():
    # Pinned: a change of the split would move cases between CI jobs' caches and merged histories.
    assert [k for k in range(1, 5) if Shard(k, 4).holds("1d-n1-ci1-co1-i1-g1-k1-s1-p0.0-op0-d1-nb-f64")] == [3]
    assert [
        k for k in range(1, 4) if Shard(k, 3).holds("2d-n1-ci1-co1-i2x2-g1-k2x2-s1x1-p0.0x0.0-op0x0-d1x1-nb-f64")
    ] == [3]


# --- -k, as pytest reads it ---------------------------------------------------------------------------------

# Names, markers (vendor_correct: the framework), the module, negation, parentheses, one that selects nothing.
EXPRESSIONS = [
    "2d and k3x3",
    "not f64",
    "vendor_correct and (1d or 3d)",
    "test_conformance and -b-",
    "CORRECT",
    "nomatch",
]


def _pytest_selection(expression: str, results: Path) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--adapter", CORRECT, "--profile", "smoke", "-k", expression, "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert not results.exists() or not any(results.iterdir()), "collecting wrote a result file"
    return sorted(line.split("[", 1)[1][:-1] for line in completed.stdout.splitlines() if "::test_case[" in line)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_k_selects_what_pytest_selects(expression, tmp_path):
    selected = keyword_filter(expression)
    ours = sorted(
        f"vendor-correct:{case.id}"
        for case in profile("smoke")
        if case.mode == "explicit"
        and case.direction == "forward"  # vendor-correct has no backward pass
        and selected(keyword_names("vendor-correct", "vendor-correct", case))
    )
    assert ours == _pytest_selection(expression, tmp_path / "results")
    assert (len(ours) == 0) == (expression == "nomatch")


def test_a_malformed_k_names_the_expression():
    with pytest.raises(ValueError, match=r"-k '2d and \(':"):
        keyword_filter("2d and (")


# --- the worker's pipeline ----------------------------------------------------------------------------------


def test_a_pipelined_worker_keeps_order_through_a_crash_and_a_hang():
    cases = [Case(input_size=(4,), kernel=3), Case(input_size=(3, 3), kernel=2), Case(input_size=(5,), kernel=2)]
    for spec, failure in (("tests.plugin_adapters:Crashes", "crash"), ("tests.plugin_adapters:HangsOn2D", "timeout")):
        worker = Worker(spec, timeout=2)
        try:
            answers = list(worker.attempts(cases * 2, depth=4))
        finally:
            worker.stop()
        assert [case for case, _ in answers] == cases * 2
        assert [attempt.status for _, attempt in answers] == ["ok", failure, "ok"] * 2
        assert all(attempt.output.shape == case.output_shape for (_, attempt), case in zip(answers[::2], cases[::2]))


# --- one run, two front ends; shards merge back into it -----------------------------------------------------


def _engine(tmp_path, name, adapter=CORRECT, **options):
    with open(tmp_path / f"{name}.log", "w") as log:
        return execute(Options(adapters=[adapter], results=tmp_path / name, **options), out=log)


def test_the_engine_and_pytest_write_the_same_records(tmp_path):
    finished = _engine(tmp_path, "engine", keyword="2d")
    assert finished.exit_status == 0 and len(finished.records["vendor-correct"]) > 20
    subprocess.run(
        [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--adapter", CORRECT,
         "--profile", "smoke", "-k", "2d", "--results", str(tmp_path / "pytest")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    (engine,), (front,) = load([tmp_path / "engine"]).runs, load([tmp_path / "pytest"]).runs
    assert _comparable(engine.records) == _comparable(front.records)
    assert engine.end == front.end == {"type": "end", "planned": len(engine.records), "records": len(engine.records)}


def test_a_sharded_run_merges_into_the_unsharded_one(tmp_path):
    whole = _engine(tmp_path, "whole")
    for index in (1, 2, 3):
        _engine(tmp_path, "shards", shard=Shard(index, 3))
    shard_files = sorted(path.name for path in (tmp_path / "shards").iterdir())
    assert shard_files == [f"vendor-correct.shard-{k}-of-3.jsonl" for k in (1, 2, 3)]
    (unsharded,), (merged,) = load([tmp_path / "whole"]).runs, load([tmp_path / "shards"]).runs
    assert len(unsharded.records) == len(whole.records["vendor-correct"]) > 100
    assert _comparable(merged.records) == _comparable(unsharded.records)
    assert merged.envelope["planned"] == unsharded.envelope["planned"] and merged.unfinished is None


def test_junit_xml_has_a_testcase_per_result_and_a_failure_per_unexplained_outcome(tmp_path):
    path = tmp_path / "junit.xml"
    finished = _engine(tmp_path, "flipped", "tests.plugin_adapters:FlippedKernel", keyword="1d", junitxml=path)
    suite = ElementTree.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    failures = [case for case in cases if case.find("failure") is not None]
    assert finished.exit_status == 1 and len(cases) == len(finished.records["vendor-flipped"]) > 5
    assert len(failures) == len(finished.unexplained) == int(suite.get("failures")) > 0
    assert all(case.get("name").startswith("test_case[vendor-flipped:1d-") for case in cases)


def test_progress_bars_show_each_adapter_with_its_rate_only_when_asked(tmp_path, capfd):
    _engine(tmp_path, "quiet", keyword="1d")  # not a terminal: no bar
    assert "case/s" not in capfd.readouterr().err
    _engine(tmp_path, "shown", keyword="1d", progress=True)
    shown = capfd.readouterr().err
    assert "vendor-correct" in shown and "case/s" in shown and "100%" in shown


def test_the_summary_counts_results_and_the_exit_status_follows_pytest(tmp_path):
    finished = _engine(tmp_path, "none", keyword="nomatch")
    assert finished.exit_status == 5  # nothing selected, as pytest says it
    log = (tmp_path / "none.log").read_text()
    assert "0 results" in log
    assert not (tmp_path / "none" / "vendor-correct.jsonl").exists()  # nothing selected: no empty result file


def test_large_cases_go_through_the_pipeline_without_deadlock():
    # Each input is 256 KiB and each output 1 MiB, far past a pipe's buffer: queued naively, the parent
    # would block sending while the child blocks answering.
    big = [
        Case(input_size=(64, 64), kernel=2, stride=2, batch=2, in_channels=4, out_channels=8, bias=b)
        for b in (False, True)
    ]
    worker = Worker(CORRECT, timeout=60)
    answers = []
    thread = threading.Thread(target=lambda: answers.extend(worker.attempts(big * 3)), daemon=True)
    try:
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "the pipeline deadlocked"
    finally:
        worker.stop()
    assert [attempt.status for _, attempt in answers] == ["ok"] * 6
    assert all(attempt.output.shape == (2, 8, 128, 128) for _, attempt in answers)


# --- an idle core lent to the slowest adapter ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("busy", "left", "expected"),
    [
        (2, {"jax": 500, "torch": 10}, None),  # every core busy
        (1, {"jax": 500, "torch": 10}, "jax"),  # the slowest work left gets the core
        (1, {"jax": 1, "torch": 10}, None),  # too little left to pay for a framework's import
        (1, {"jax": 0, "torch": 0}, None),  # nothing left
    ],
)
def test_a_spare_core_goes_to_the_adapter_with_the_most_work_left(busy, left, expected):
    pace = Pace(cores=2)
    for _ in range(Pace.RECENT):
        pace.add("jax", 0.1)  # 0.1 s a case
        pace.add("torch", 0.001)
    sources = {name: Cases([None] * count) for name, count in left.items()}
    assert pace.adapter_to_help(sources, busy=busy) == expected


def test_the_pace_is_that_of_recent_cases_not_the_frameworks_warm_up():
    pace = Pace(cores=2)
    pace.add("tf", 5.0)  # the first call builds the framework's runtime
    assert pace.left("tf", 1000) == 0.0  # not shown its pace yet
    for _ in range(Pace.RECENT):
        pace.add("tf", 0.002)
    assert pace.left("tf", 1000) == pytest.approx(2.0)
    assert pace.adapter_to_help({"tf": Cases([None] * 1000)}, busy=1) is None  # 2 s left: not worth an import


def test_a_second_process_shares_the_adapters_cases_and_each_is_recorded_once(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "WORTH_A_PROCESS", 0.5)  # half a second of work left is worth a second process
    monkeypatch.setattr(Pace, "RECENT", 5)  # its pace is known after 5 cases
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    finished = _engine(tmp_path, "lent", "tests.plugin_adapters:SlowCorrect", keyword="2d")  # 30 ms a case
    (run,) = finished.runs.values()
    assert run.processes == 2
    (merged,) = load([tmp_path / "lent"]).runs
    ids = [record["case_id"] for record in merged.records]
    expected = [case.id for case in profile("smoke") if case.rank == 2 and run.speaks(case)]
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids) > 60
    assert merged.unfinished is None and {record["outcome"] for record in merged.records} == {"pass"}
    assert len({record["repro"] for record in merged.records}) == 2  # both processes computed cases


def test_a_malformed_k_on_the_command_line_is_one_line_and_status_2():
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--adapter", CORRECT, "-k", "2d and ("],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert completed.stderr.startswith("python -m conformance run: error: -k '2d and (':")


@pytest.mark.parametrize("threads", ["-1", "two"])
def test_a_bad_thread_count_is_one_line_and_status_2(threads):
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--adapter", CORRECT, "--threads", threads],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert f"argument --threads: {threads!r}: give a whole number of threads" in completed.stderr


# --- an interrupted run --------------------------------------------------------------------------------------


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_sigterm_and_ctrl_c_end_a_run_with_its_end_lines(tmp_path, signal_name):
    """A cancelled CI job sends SIGTERM; the run closes its files as on Ctrl-C, every record kept."""
    import json
    import signal
    import time

    path = tmp_path / "vendor-slow.jsonl"
    command = [sys.executable, "-m", "conformance", "run", "--adapter", "tests.plugin_adapters:SlowCorrect",
               "--profile", "default", "--results", str(tmp_path), "--no-progress"]  # fmt: skip
    # Ctrl-C as a terminal sends it, whatever this test runs under: a background job inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler in the child.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (path.exists() and path.read_text().count("\n") >= 5) and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(getattr(signal, signal_name))
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    records = [line for line in lines if line["type"] == "result"]
    assert lines[-1] == {"type": "end", "planned": lines[0]["planned"], "records": len(records)}
    assert 4 <= len(records) < lines[0]["planned"]
    assert (
        load([tmp_path])
        .runs[0]
        .unfinished.endswith(f"{len(records)} of {lines[0]['planned']} planned cases have records")
    )


@pytest.mark.parametrize("allowed", [[], ["tests.no_such_module:Adapter"]])
def test_an_adapter_that_cannot_load_is_a_junit_error_unless_allowed(tmp_path, allowed):
    junit = tmp_path / "junit.xml"
    options = Options(
        adapters=[CORRECT, "tests.no_such_module:Adapter"],
        results=tmp_path / "results",
        keyword="1d and f64",
        junitxml=junit,
        allow_unavailable=allowed,
    )
    finished = execute(options, out=(tmp_path / "log").open("w"))
    assert finished.exit_status == (0 if allowed else 1)
    suite = ElementTree.parse(junit).getroot()[0]
    (loading,) = [case for case in suite if case.get("name") == "test_case[tests.no_such_module:Adapter:load]"]
    assert [child.tag for child in loading] == (["skipped"] if allowed else ["error"])
    assert "No module named 'tests.no_such_module'" in loading[0].get("message")
    assert suite.get("errors") == ("0" if allowed else "1")
    assert [path.name for path in (tmp_path / "results").iterdir()] == ["vendor-correct.jsonl"]
