"""The conformance run end to end: worker isolation, outcomes, records, the register check, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.case import Case
from conformance.grid import profile
from conformance.records import OUTCOMES, SCHEMA_VERSION, read_result_file, read_results
from conformance.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
CASE_1D = Case(input_size=(4,), kernel=3, stride=2, bias=True, dtype="float32")
CASE_2D = Case(input_size=(3, 3), kernel=2, stride=2)


def test_worker_survives_a_crashing_adapter():
    worker = Worker("tests.plugin_adapters:Crashes", timeout=60)
    try:
        crashed = worker.run(CASE_2D)
        assert crashed.status == "crash" and "exit code 3" in crashed.message
        recovered = worker.run(CASE_1D)  # a fresh process takes over
        assert recovered.status == "ok" and recovered.output.shape == CASE_1D.output_shape
    finally:
        worker.stop()


def test_worker_times_out_a_hanging_adapter():
    worker = Worker("tests.plugin_adapters:Hangs", timeout=1)
    try:
        attempt = worker.run(CASE_1D)
        assert attempt.status == "timeout" and "1 s" in attempt.message
    finally:
        worker.stop()


def _run(tmp_path, *args):
    results = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--results", str(results), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    files = {path.stem: read_results(path) for path in results.glob("*.jsonl")}
    return completed, files


def test_a_correct_third_party_adapter_passes_the_smoke_profile(tmp_path):
    completed, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:Correct", "--profile", "smoke")
    assert completed.returncode == 0, completed.stdout[-3000:]
    envelope, records = files["vendor-correct"]
    assert envelope["schema_version"] == SCHEMA_VERSION and envelope["adapter"] == "vendor-correct"
    assert {"suite_commit", "timestamp_utc", "platform", "device", "framework_versions"} <= set(envelope)
    forward = [case for case in profile("smoke") if case.mode == "explicit" and case.direction == "forward"]
    assert len(records) == len(forward)  # no run_backward: no backward case
    assert envelope["planned"] == len(records)
    _, _, end, _ = read_result_file(tmp_path / "results" / "vendor-correct.jsonl")
    assert end == {"type": "end", "planned": len(records), "records": len(records)}
    assert {r["outcome"] for r in records} == {"pass"}
    for record in records:
        assert {"case_id", "case", "adapter", "device", "outcome", "metrics", "divergence", "repro"} <= set(record)
        assert Case.from_id(record["case_id"]).fields() == record["case"]


@pytest.mark.parametrize(
    ("adapter", "outcome"),
    [
        ("FlippedKernel", "value_mismatch"),
        ("DropsLastRow", "shape_mismatch"),
        ("NaNs", "nonfinite"),
    ],
)
def test_planted_faults_are_caught_and_recorded(tmp_path, adapter, outcome):
    completed, files = _run(
        tmp_path, "--adapter", f"tests.plugin_adapters:{adapter}", "--profile", "smoke", "-k", "2d and k3x3"
    )
    assert completed.returncode == 1  # unexplained non-pass outcomes fail the run
    ((_, records),) = files.values()
    assert records and all(r["outcome"] in OUTCOMES for r in records)
    assert any(r["outcome"] == outcome for r in records)
    assert "is not explained by the divergence register" in completed.stdout


def test_crash_is_an_outcome_and_the_run_goes_on(tmp_path):
    completed, files = _run(
        tmp_path, "--adapter", "tests.plugin_adapters:Crashes", "--profile", "smoke", "-k", "k2x2 or 1d"
    )
    ((_, records),) = files.values()
    outcomes = {r["case_id"][:2]: r["outcome"] for r in records}
    assert outcomes["2d"] == "crash" and outcomes["1d"] == "pass"


def _register_one_xfail(tmp_path, entry_id: str, selector: str) -> Path:
    """A register directory for the Correct adapter holding one xfail entry."""
    register = tmp_path / "register"
    register.mkdir()
    (register / "vendor-correct.toml").write_text(
        f'[[divergence]]\nid = "{entry_id}"\nkind = "xfail"\noutcomes = ["value_mismatch"]\n'
        f'reason = "planted by a test"\nlinks = []\n'
        f'upstream = "no upstream report found"\n[divergence.select]\n{selector}\n'
    )
    return register


def test_an_unmatched_register_entry_fails_a_complete_run(tmp_path):
    register = _register_one_xfail(tmp_path, "ghost", "batch = 99")
    completed, _ = _run(tmp_path, "--adapter", "tests.plugin_adapters:Correct", "--register", str(register))
    assert completed.returncode == 1
    assert "register entry 'ghost' matched no case of this run" in completed.stdout


def test_cases_given_by_id_run_alone_at_any_geometry(tmp_path):
    # A 16-long input is in no profile: --case runs it all the same (what translate's "to prove it" asks); the
    # flipped kernel is caught where the kernel is not symmetric and passes a 1x1 one.
    wanted = [
        "1d-n1-ci2-co3-i16-g1-k4-s2-p1.1-op0-d1-b-f32",
        "2d-n1-ci1-co1-i2x2-g1-k1x1-s1x1-p0.0x0.0-op0x0-d1x1-nb-f64",
    ]
    register = _register_one_xfail(tmp_path, "ghost", "batch = 99")  # matches nothing: a narrowed run says nothing
    completed, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:FlippedKernel", "--register", str(register),
                            *(part for case_id in wanted for part in ("--case", case_id)))  # fmt: skip
    ((envelope, records),) = files.values()
    assert [r["case_id"] for r in records] == wanted and [r["outcome"] for r in records] == ["value_mismatch", "pass"]
    assert envelope["profile"] == "cases" and envelope["selection"]["cases"] == wanted
    assert completed.returncode == 1 and "ghost" not in completed.stdout  # the flipped kernel, not the register
    bad, _ = _run(tmp_path, "--adapter", "tests.plugin_adapters:Correct", "--case", "2d-n1-oops")
    assert bad.returncode == 2 and bad.stderr.startswith("python -m conformance run: error: --case '2d-n1-oops': ")


def test_an_xfail_that_passes_fails_the_run(tmp_path):
    register = _register_one_xfail(tmp_path, "stale", "rank = 1")
    completed, files = _run(
        tmp_path, "--adapter", "tests.plugin_adapters:Correct", "--register", str(register), "-k", "1d and not -x"
    )
    assert completed.returncode == 1
    ((_, records),) = files.values()
    assert {r["outcome"] for r in records} == {"xpass"}
    assert records[0]["divergence"]["id"] == "stale"


def _outcomes(files) -> dict:
    ((_, records),) = files.values()
    return {record["case_id"]: record for record in records}


def test_must_reject_cases_pass_when_refused_and_are_flagged_when_accepted(tmp_path):
    exact, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:Correct", "-k", "xnegative_pad or xzero_size")
    assert exact.returncode == 0, exact.stdout[-2000:]
    records = _outcomes(files)
    assert len(records) == 5 and {r["outcome"] for r in records.values()} == {"pass"}
    assert all("ValueError" in r["metrics"]["message"] and r["metrics"]["stage"] == "unknown" for r in records.values())
    (tmp_path / "results").rename(tmp_path / "exact")
    clamps, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:ClampsNegativePadding", "-k", "xnegative_pad")
    assert clamps.returncode == 1
    records = _outcomes(files)
    assert {r["outcome"] for r in records.values()} == {"accepted_invalid"}
    symmetric = records["1d-n1-ci2-co2-i5-g1-k3-s2-p-1.-1-op0-d1-nb-f32-xnegative_pad"]["metrics"]
    assert symmetric["actual_shape"] == [1, 2, 11] and symmetric["literal_shape"] == [1, 2, 13]
    assert symmetric["reading"] == "pads clamped to 0" and symmetric["violates"] == "negative_pad"


@pytest.mark.parametrize(
    ("adapter", "outcome", "output_dtype", "values"),
    [("ReturnsFloat64", "dtype_mismatch", "float64", "pass"), ("ReturnsComplex", "dtype_mismatch", "complex64", None)],
)
def test_an_output_of_another_dtype_is_a_dtype_mismatch_never_cast(tmp_path, adapter, outcome, output_dtype, values):
    completed, files = _run(tmp_path, "--adapter", f"tests.plugin_adapters:{adapter}", "-k", "f32 and 2d and not -x")
    assert completed.returncode == 1
    records = list(_outcomes(files).values())
    assert records and {r["outcome"] for r in records} == {outcome}
    metrics = records[0]["metrics"]
    assert metrics["output_dtype"] == output_dtype and metrics["expected_dtype"] == "float32"
    assert metrics.get("values", None) == (values or "not compared")


def test_float64_cases_of_a_float64_adapter_still_pass(tmp_path):
    completed, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:ReturnsFloat64", "-k", "f64 and not -x")
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert {r["outcome"] for r in _outcomes(files).values()} == {"pass"}


def test_shape_only_adapters_are_judged_on_shape_and_dtype(tmp_path):
    exact, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:ShapeInference", "-k", "not -x")
    assert exact.returncode == 0, exact.stdout[-2000:]
    assert {r["metrics"].get("values") for r in _outcomes(files).values()} == {"not compared"}
    (tmp_path / "results").rename(tmp_path / "exact")
    off, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:ShapeInferenceOffByOne", "-k", "not -x")
    assert off.returncode == 1
    records = list(_outcomes(files).values())
    strided = [r for r in records if max(r["case"]["stride"]) > 1]
    assert strided and {r["outcome"] for r in strided} == {"shape_mismatch"}
    assert {r["outcome"] for r in records if max(r["case"]["stride"]) == 1} == {"pass"}


def test_the_suites_own_failure_is_a_suite_error_never_a_refusal(tmp_path):
    completed, files = _run(tmp_path, "--adapter", "tests.plugin_adapters:UnreadableOutput", "-k", "1d and not -x")
    assert completed.returncode == 1
    records = list(_outcomes(files).values())
    assert records and {r["outcome"] for r in records} == {"suite_error"}
    assert "could not read the adapter's output" in records[0]["metrics"]["message"]
    assert any("repro() returned function, not text" in warning for warning in records[0]["warnings"])
