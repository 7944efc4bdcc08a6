"""The backward pass through the run: backward cases go to adapters with ``run_backward``, each gradient is
judged on its own against the reference's, and planted wrong gradients are caught where an exact one never is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.snippets import input_lines
from conformance.case import Case, make_upstream
from conformance.compare import GRADIENTS, expected_gradients, gradient_accumulation_lengths
from conformance.grid import BACKWARD_PROFILES, PROFILES, curated, profile
from conformance.records import read_result_file

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = "tests.plugin_adapters"


def _run(tmp_path, adapter: str, keyword: str = "bwd") -> dict[str, dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--adapter", f"{PLUGINS}:{adapter}", "-k", keyword,
         "--results", str(tmp_path), "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in completed.stderr, completed.stderr
    (path,) = tmp_path.glob("*.jsonl")
    contents = read_result_file(path)
    assert contents.end["records"] == contents.end["planned"] > 0
    return {record["case_id"]: record for record in contents.records}


def test_every_explicit_case_of_the_backward_profiles_has_a_backward_twin():
    for name in BACKWARD_PROFILES:
        cases = profile(name)
        drawn = cases[: len({case.id for case in curated()}) + PROFILES[name]]  # curated, then the sample
        backward = [case for case in cases if case.direction == "backward"]
        assert [case.id for case in backward] == [case.id + "-bwd" for case in drawn]
        assert all(case.mode == "explicit" and not case.violates for case in drawn)
    assert "full" not in BACKWARD_PROFILES


def test_a_backward_case_id_round_trips_and_a_must_reject_case_has_no_backward():
    case = Case(input_size=(3, 2), kernel=(2, 2), stride=2, groups=2, in_channels=2, out_channels=4, bias=True,
                direction="backward", dtype="float32")  # fmt: skip
    assert case.id.endswith("-f32-bwd") and Case.from_id(case.id) == case
    with pytest.raises(ValueError, match="forward pass only"):
        Case(input_size=(3,), kernel=(2,), padding=-1, violates="negative_pad", direction="backward")
    with pytest.raises(ValueError, match="direction must be one of"):
        Case(input_size=(3,), kernel=(2,), direction="sideways")


def test_the_repro_draws_the_upstream_gradient_the_suite_draws():
    case = Case(input_size=(4,), kernel=(3,), stride=2, bias=True, direction="backward", dtype="float32")
    namespace: dict = {}
    exec("\n".join(input_lines(case)), namespace)
    np.testing.assert_array_equal(namespace["dy"], make_upstream(case))


def test_each_gradient_has_its_own_accumulation_length_and_tolerance():
    case = Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), batch=2, in_channels=4, out_channels=6, groups=2,
                bias=True, direction="backward", dtype="float32")  # fmt: skip
    assert gradient_accumulation_lengths(case) == {"dx": 3 * 6, "dw": 2 * 20, "db": 2 * 11 * 5}
    from conformance.case import make_inputs

    found = expected_gradients(case, *make_inputs(case), make_upstream(case))
    assert list(found) == list(GRADIENTS)
    shapes = {name: value.shape for name, (value, _) in found.items()}
    assert shapes == {"dx": case.input_shape, "dw": case.weight_shape, "db": (case.out_channels,)}
    assert all((tolerance > 0).all() for _, tolerance in found.values())


def test_an_exact_backward_is_never_caught(tmp_path):
    records = _run(tmp_path, "CorrectBackward")
    assert len(records) == sum(c.direction == "backward" for c in profile("smoke"))
    assert {record["outcome"] for record in records.values()} == {"pass"}
    worst = max(record["metrics"]["max_error_over_tolerance"] for record in records.values())
    assert worst < 1.0 and all(record["metrics"]["failing"] == [] for record in records.values())


@pytest.mark.parametrize("adapter, gradient", [("UnflippedWeightGradient", "dw"), ("GroupBlindInputGradient", "dx")])
def test_a_wrong_gradient_is_caught_and_named(tmp_path, adapter, gradient):
    records = _run(tmp_path, adapter)
    caught = [record for record in records.values() if record["outcome"] == "value_mismatch"]
    assert len(caught) >= len(records) // 2, {r["outcome"] for r in records.values()}
    assert all(record["metrics"]["failing"] == [gradient] for record in caught)
    assert all(record["metrics"]["gradient"] == gradient for record in caught)
    for record in caught:  # the other gradients passed, and say so
        others = {name: m for name, m in record["metrics"]["gradients"].items() if name != gradient}
        assert all(m["bad_count"] == 0 for m in others.values())


def test_torch_backward_matches_the_reference_and_its_repro():
    """torch's autograd on a grouped, dilated, strided case with a bias and output_padding; the repro agrees."""
    pytest.importorskip("torch")
    from adapters.pytorch import TorchCPU
    from conformance.case import make_inputs

    case = Case(input_size=(4, 3), kernel=(3, 2), stride=(2, 3), dilation=(2, 1), output_padding=(1, 2), groups=2,
                in_channels=4, out_channels=6, batch=2, bias=True, direction="backward")  # fmt: skip
    x, w, bias = make_inputs(case)
    dy = make_upstream(case)
    found = TorchCPU().run_backward(case, x, w, bias, dy)
    for name, value, (reference, tolerance) in zip(GRADIENTS, found, expected_gradients(case, x, w, bias, dy).values()):
        assert value.shape == reference.shape and (np.abs(value - reference) <= tolerance).all(), name
    namespace: dict = {}
    exec(TorchCPU().repro(case).replace("print(", "(lambda *a: None)("), namespace)
    for value, repro in zip(found, namespace["grads"]):
        np.testing.assert_array_equal(value, repro.numpy())
