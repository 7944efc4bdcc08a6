"""The file formats: one typed definition each, its published JSON Schema, and result files that are never
lost (refused, resumed or replaced; locked while written; a torn last line skipped, never a torn middle)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from conformance.__main__ import SCHEMAS_DIR, schemas
from conformance.errors import UserError
from conformance.grid import curated
from conformance.records import (
    LINES,
    SCHEMA_VERSION,
    Record,
    ResultFile,
    envelope,
    read_result_file,
    schema,
)
from reports import gate, site
from tests.synthetic_results import record, write_run

ROOT = Path(__file__).resolve().parent.parent
CASES = curated()[:6]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _header(adapter: str = "alpha", planned: int = len(CASES)):
    return envelope(
        adapter=adapter,
        device="cpu",
        versions={"alpha": "1.0"},
        precision={},
        profile="made-up",
        device_model="test cpu",
        planned=planned,
    )


def test_the_published_schemas_are_the_ones_the_code_derives():
    """schemas/ is what `python -m conformance schemas` writes: a change of format shows in the diff."""
    for name, derived in schemas().items():
        jsonschema.Draft202012Validator.check_schema(derived)
        published = json.loads((SCHEMAS_DIR / name).read_text(encoding="utf-8"))
        assert published == derived, f"schemas/{name} is stale: run python -m conformance schemas"


def test_the_result_file_schema_is_the_record_type():
    definitions = schema()["$defs"]
    for kind, cls in LINES.items():
        assert list(definitions[cls.__name__]["properties"]) == [f.name for f in dataclasses.fields(cls)]
        assert definitions[cls.__name__]["properties"]["type"]["const"] == kind
    assert definitions["Record"]["properties"]["outcome"]["enum"][0] == "pass"


def test_every_line_a_run_writes_validates_against_the_published_schema(tmp_path):
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS_DIR / "result-file.schema.json").read_text()))
    path = write_run(tmp_path, "alpha", CASES, seed=5)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["envelope", *["result"] * len(CASES), "end"]
    for line in lines:
        validator.validate(line)
    bad = {**lines[1], "outcome": "passed"}  # a planted fault: the schema must refuse it
    assert not validator.is_valid(bad)


def test_every_case_of_the_profiles_meets_the_case_schema():
    """The readers check a record's case by its equality with the fields its id names (records._fast_check):
    as strict as the schema only if those fields always meet the schema."""
    from conformance.grid import profile

    validator = jsonschema.Draft202012Validator({"$defs": schema()["$defs"], "$ref": "#/$defs/Case"})
    for case in profile("default"):
        assert validator.is_valid(case.fields()), case.id
    assert not validator.is_valid({**CASES[0].fields(), "groups": "1"})  # a planted fault


def test_the_committed_baselines_and_site_data_validate():
    for path in sorted((ROOT / "baselines").glob("*.json")):
        assert gate.read_baseline(path)["adapters"]
    for path in sorted((ROOT / "site-data").glob("*.json")):
        assert site.read_data(path)["sets"]
    baseline = json.loads((ROOT / "baselines" / "pinned-smoke.json").read_text())
    first = next(iter(baseline["adapters"].values()))
    first["cases"][next(iter(first["cases"]))]["outcome"] = "passed"  # a planted fault
    assert not jsonschema.Draft202012Validator(gate.schema()).is_valid(baseline)


# One bad line of each kind in an otherwise good file: (what to do to the first record, words the error says).
BAD_RECORDS = {
    "unknown outcome": ({"outcome": "passed"}, "field 'outcome'"),
    "wrong type": ({"explained": "yes"}, "field 'explained'"),
    "negative duration": ({"duration_s": -1}, "field 'duration_s'"),
    "bad case id": ({"case_id": "2d-garbage"}, "field 'case_id'"),
    "case fields not the id's": ({"case": CASES[0].fields()}, "field 'case'"),
    "unknown field": ({"colour": "red"}, "colour"),
    "another adapter": ({"adapter": "beta"}, "field 'adapter'"),
    "unsafe adapter": ({"adapter": "../beta"}, "field 'adapter'"),
    "a javascript link": (
        {"divergence": {**record(CASES[0], "alpha", "xfail").to_json()["divergence"], "links": ["javascript:x"]}},
        "field 'divergence.links[0]'",
    ),
}


@pytest.mark.parametrize("change, words", BAD_RECORDS.values(), ids=list(BAD_RECORDS))
def test_a_bad_record_is_an_error_naming_file_line_and_field(tmp_path, change, words):
    path = write_run(tmp_path, "alpha", CASES, mix=(("pass", 1.0),))
    lines = path.read_text().splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), **change})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError) as error:
        read_result_file(path)
    assert str(error.value).startswith(f"{path}:3: ") and words in str(error.value)


def test_a_torn_last_line_is_skipped_with_a_warning_and_a_torn_middle_line_is_an_error(tmp_path):
    path = write_run(tmp_path, "alpha", CASES, finish=False, mix=(("pass", 1.0),))
    text = path.read_text()
    path.write_text(text + text.splitlines()[1][:40])  # killed while writing the next record
    contents = read_result_file(path)
    assert len(contents.records) == len(CASES) and contents.end is None
    assert contents.warnings == [
        f"{path}:{len(CASES) + 2}: torn last line skipped (the run was killed, or the disk was full)"
    ]
    lines = text.splitlines()
    lines[3] = lines[3][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=f"^{path}:4: not a JSON line"):
        read_result_file(path)


def test_a_file_of_a_future_schema_version_says_which_versions(tmp_path):
    path = write_run(tmp_path, "alpha", CASES)
    lines = path.read_text().splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "schema_version": 99})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=rf":1: field 'schema_version': 99; this suite reads version {SCHEMA_VERSION}"):
        read_result_file(path)


def _killed_after(directory: Path, count: int) -> Path:
    """A run of CASES killed after ``count`` records: no end line."""
    file = ResultFile(directory, _header())
    for case in CASES[:count]:
        file.append(record(case, "alpha", "pass"))
    file.release()
    return file.path


def test_an_existing_result_file_is_refused_untouched_unless_resumed_or_replaced(tmp_path):
    path = _killed_after(tmp_path, 3)
    before = _digest(path)
    with pytest.raises(UserError, match="already holds results of alpha: --resume continues"):
        ResultFile(tmp_path, _header())
    assert _digest(path) == before

    resumed = ResultFile(tmp_path, _header(), existing="resume")
    assert resumed.recorded == {case.id for case in CASES[:3]} and _digest(path) == before  # nothing written yet
    for case in CASES[3:]:
        resumed.append(record(case, "alpha", "pass"))
    resumed.close()
    contents = read_result_file(path)
    assert [r["case_id"] for r in contents.records] == [case.id for case in CASES]
    assert contents.end == {"type": "end", "planned": len(CASES), "records": len(CASES)}

    again = ResultFile(tmp_path, _header(), existing="resume")  # a finished run resumed: still one end line
    again.close()
    assert path.read_text().count('"type": "end"') == 1 and read_result_file(path).end["records"] == len(CASES)

    replaced = ResultFile(tmp_path, _header(planned=1), existing="overwrite")  # any run may replace it
    replaced.append(record(CASES[0], "alpha", "pass"))
    replaced.close()
    assert len(read_result_file(path).records) == 1


def test_a_resumed_file_must_be_of_the_same_run(tmp_path):
    _killed_after(tmp_path, 2)
    other = dataclasses.replace(_header(), profile="full")
    with pytest.raises(UserError, match="cannot resume a run of another kind \\(profile: 'made-up' in the file"):
        ResultFile(tmp_path, other, existing="resume")
    with pytest.raises(UserError, match="planned: 6 in the file, 4 now"):
        ResultFile(tmp_path, _header(planned=4), existing="resume")


def test_a_resumed_file_loses_its_torn_last_line(tmp_path):
    path = _killed_after(tmp_path, 2)
    path.write_text(path.read_text() + '{"type": "resu')
    resumed = ResultFile(tmp_path, _header(), existing="resume")
    for case in CASES[2:]:
        resumed.append(record(case, "alpha", "pass"))
    resumed.close()
    contents = read_result_file(path)
    assert len(contents.records) == len(CASES) and not contents.warnings


def test_a_file_being_written_is_locked_against_a_second_run(tmp_path):
    first = ResultFile(tmp_path, _header())
    first.append(record(CASES[0], "alpha", "pass"))
    before = _digest(first.path)
    for existing in ("refuse", "resume", "overwrite"):
        with pytest.raises(UserError, match="another run is writing this file now"):
            ResultFile(tmp_path, _header(), existing=existing)
        assert _digest(first.path) == before
    first.close()
    assert len(read_result_file(first.path).records) == 1


def test_a_run_stopped_before_its_first_line_leaves_no_file(tmp_path):
    file = ResultFile(tmp_path, _header())
    file.release()
    assert not file.path.exists()


def test_records_are_made_with_the_record_type():
    made = record(CASES[0], "alpha", "value_mismatch")
    assert isinstance(made, Record) and made.to_json()["case"] == CASES[0].fields()


def test_outcome_groups_hold_every_raw_outcome_once():
    from conformance.records import GROUP_OF, OUTCOME_GROUPS, OUTCOMES

    grouped = [outcome for outcomes in OUTCOME_GROUPS.values() for outcome in outcomes]
    assert sorted(grouped) == sorted(set(OUTCOMES) - {"xfail", "xpass"})
    assert len(grouped) == len(set(grouped)) == len(GROUP_OF)
