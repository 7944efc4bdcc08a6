"""The observed window of a mismatch, and the cross-framework equivalence built on it."""

from __future__ import annotations

from dataclasses import replace

from conformance.case import Case, make_inputs
from conformance.compare import observed_crop
from conformance.equivalence import analyse, family_member
from reference import conv_transpose

CASE = Case(input_size=(5, 4), kernel=3, stride=2, padding=((1, 0), (1, 1)), bias=True, in_channels=2,
            out_channels=3, dtype="float32")  # fmt: skip


def test_observed_crop_finds_the_window_a_framework_cut():
    x, w, bias = make_inputs(CASE)
    shifted = conv_transpose(x, w, bias, stride=2, padding=((0, 1), (1, 1)))
    assert observed_crop(CASE, x, w, bias, shifted) == {"begin": [0, 1], "end": [1, 1], "appended": [0, 0]}
    longer = conv_transpose(x, w, bias, stride=2, padding=((1, 0), (1, 1)), output_padding=(1, 0))
    assert observed_crop(CASE, x, w, bias, longer)["appended"] == [1, 0]
    assert observed_crop(CASE, x, w, bias, shifted[:, ::-1]) is None  # channels swapped: no window explains it


def _record(adapter, case, outcome, window=None):
    metrics = {"observed_window": window} if window else {}
    return {"adapter": adapter, "case_id": case.id, "outcome": outcome, "raw_outcome": outcome, "metrics": metrics}


def test_equivalence_pairs_members_by_window():
    at = dict(input_size=(1,), kernel=1, stride=2, in_channels=2, out_channels=3, bias=True, dtype="float32")
    jax_same, onnx_same = Case(**at, mode="jax_same"), Case(**at, mode="onnx_same_upper")
    assert family_member(jax_same) == ("same", "jax SAME")
    assert family_member(Case(**at, mode="keras_same_op1")) is None  # with output_padding: not the plain mode
    # onnxruntime returned the full output (length 1) where the spec asks for n*stride = 2.
    records = [
        _record("jax", jax_same, "pass"),
        _record("onnxruntime", onnx_same, "shape_mismatch", {"begin": [0], "end": [0], "appended": [0]}),
    ]
    (pair,) = [p for p in analyse(records) if p["family"] == "same"]
    assert pair["counts"] == {"shape differs": 1} and not pair["agree_everywhere"]
    assert pair["smallest_disagreement"]["b"]["window"] == {"begin": [0], "length": [1]}
    records[1] = _record("onnxruntime", onnx_same, "pass")
    (pair,) = [p for p in analyse(records) if p["family"] == "same"]
    assert pair["agree_everywhere"] and pair["counts"] == {"agree": 1}


def test_paths_of_one_framework_pair_its_adapters_on_every_case_they_both_ran():
    backward = replace(CASE, direction="backward")
    eager = [_record("tf-nn", CASE, "pass"), _record("tf-nn", backward, "pass")]
    compiled = [_record("tf-nn-xla", CASE, "pass"), _record("tf-nn-xla", backward, "value_mismatch")]
    other = [_record("jax", CASE, "value_mismatch")]  # another framework: never paired as a path
    frameworks = {"tf-nn": "tensorflow", "tf-nn-xla": "tensorflow", "jax": "jax"}
    (pair,) = [p for p in analyse(eager + compiled + other, frameworks) if p["family"].startswith("paths:")]
    assert (pair["family"], pair["a"], pair["b"], pair["points"]) == ("paths:tensorflow", "tf-nn", "tf-nn-xla", 2)
    # A wrong gradient is a disagreement, though a gradient has no window.
    assert pair["counts"] == {"agree": 1, "values differ": 1}
    assert pair["smallest_disagreement"]["b"]["case_id"] == backward.id
    # Two wrong answers are neither an agreement nor a difference the records can show.
    both = [_record("tf-nn", backward, "value_mismatch"), _record("tf-nn-xla", backward, "value_mismatch")]
    (pair,) = [p for p in analyse(both, frameworks) if p["family"].startswith("paths:")]
    assert pair["counts"] == {"both wrong": 1} and not pair["agree_everywhere"]
    # A case one path cannot express is not a case it ran; both refusing agree on a refusal.
    compiled[1] = _record("tf-nn-xla", backward, "unsupported")
    eager.append(_record("tf-nn", replace(CASE, dtype="float64"), "rejected"))
    compiled.append(_record("tf-nn-xla", Case.from_id(eager[-1]["case_id"]), "rejected"))
    (pair,) = [p for p in analyse(eager + compiled, frameworks) if p["family"].startswith("paths:")]
    assert pair["counts"] == {"agree": 1, "both refuse": 1} and pair["agree_everywhere"]
    # Without the frameworks, no paths are paired.
    assert not [p for p in analyse(eager + compiled) if p["family"].startswith("paths:")]
