"""The OpenVINO adapters (openvino-onnx, openvino-torch): their values against the reference, the precision
each case is compiled in, telemetry kept off, and a planted fault that the comparison must catch.

Skipped, saying why, where openvino (or torch, or onnx) is not installed; ``tox -e openvino`` runs them.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest

import adapters

# adapters.openvino_runtime is imported before openvino: it keeps openvino's telemetry off in this process.
from adapters import load, openvino_runtime
from conformance.case import Case, make_inputs
from conformance.compare import compare, expected_and_tolerance
from reference import conv_transpose

pytest.importorskip("openvino", reason="openvino is not installed in this environment (tox -e openvino runs this)")

# Strided, dilated, grouped, output_padding, asymmetric pads (ONNX only), in each rank.
ONNX_CASES = [
    "1d-n2-ci2-co3-i5-g1-k3-s2-p1.1-op1-d1-b-f32",
    "2d-n1-ci4-co6-i4x3-g2-k3x2-s2x1-p1.0x0.1-op1x0-d1x2-b-f32",
    "2d-n2-ci2-co2-i5x4-g1-k2x3-s3x2-p0.2x1.0-op2x1-d2x1-nb-f32",
    "3d-n1-ci2-co4-i3x2x3-g2-k2x2x2-s2x1x2-p1.0x0.0x0.1-op1x0x0-d1x2x1-b-f32",
]
TORCH_CASES = [
    "1d-n2-ci2-co3-i5-g1-k3-s2-p1.1-op1-d1-b-f32",
    "2d-n1-ci4-co6-i4x3-g2-k3x2-s2x1-p1.1x0.0-op1x0-d1x2-b-f32",
    "2d-n2-ci2-co2-i5x4-g1-k2x3-s3x2-p1.1x0.0-op2x1-d2x1-nb-f32",
    "3d-n1-ci2-co4-i3x2x3-g2-k2x2x2-s2x1x2-p1.1x0.0x0.0-op1x0x0-d1x2x1-b-f32",
]


def _outcome(case: Case, out, x, w, bias) -> str:
    """The suite's own verdict on an output: the derived tolerance in the case's dtype."""
    expected, tolerance = expected_and_tolerance(case, x, w, bias)
    return compare(case, expected, tolerance, out).outcome


def _reference(case: Case, x, w, bias) -> np.ndarray:
    return conv_transpose(
        x.astype(np.float64),
        w.astype(np.float64),
        None if bias is None else bias.astype(np.float64),
        stride=case.stride,
        padding=case.padding,
        output_padding=case.output_padding,
        dilation=case.dilation,
        groups=case.groups,
    )


@pytest.fixture(scope="module")
def onnx_adapter():
    pytest.importorskip("onnx", reason="onnx is not installed in this environment (tox -e openvino runs this)")
    return load("openvino-onnx")


@pytest.fixture(scope="module")
def torch_adapter():
    pytest.importorskip("torch", reason="torch is not installed in this environment (tox -e openvino runs this)")
    return load("openvino-torch")


def _check(adapter, case_id: str):
    case = Case.from_id(case_id)
    x, w, bias = make_inputs(case)
    out = adapter.run(case, x, w, bias)
    assert out.shape == case.output_shape and out.dtype == np.float32
    expected = _reference(case, x, w, bias)
    assert np.isclose(np.abs(out - expected).max(), 0, atol=1e-5)  # well within float32, far from a wrong window
    assert _outcome(case, out, x, w, bias) == "pass"


@pytest.mark.parametrize("case_id", ONNX_CASES)
def test_openvino_onnx_agrees_with_the_reference(onnx_adapter, case_id):
    _check(onnx_adapter, case_id)


@pytest.mark.parametrize("case_id", TORCH_CASES)
def test_openvino_torch_agrees_with_the_reference(torch_adapter, case_id):
    _check(torch_adapter, case_id)


def test_openvino_torch_refuses_asymmetric_pads_as_torch_does(torch_adapter):
    case = Case.from_id(ONNX_CASES[1])
    with pytest.raises(adapters.Unsupported, match="asymmetric"):
        torch_adapter.run(case, *make_inputs(case))


@pytest.mark.parametrize(
    ("dtype", "hint"), [("float32", "f32"), ("float16", "f16"), ("bfloat16", "bf16"), ("float64", "f32")]
)
def test_each_case_compiles_in_its_own_precision(onnx_adapter, torch_adapter, dtype, hint):
    """The CPU plugin's default on an AMX/AVX512-BF16 CPU is bf16 for float32 models: the adapters set the hint."""
    code = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64"}[dtype]
    for adapter, case_id in ((onnx_adapter, ONNX_CASES[0]), (torch_adapter, TORCH_CASES[0])):
        case = Case.from_id(case_id.replace("-f32", f"-{code}"))
        compiled = adapter.compile(case, *make_inputs(case))
        assert compiled.get_property("INFERENCE_PRECISION_HINT").to_string() == hint
    assert "f32 for float32" in adapters.precision(onnx_adapter)["INFERENCE_PRECISION_HINT"]


def test_float32_is_not_computed_in_bfloat16(onnx_adapter):
    """Under the CPU's default hint (bf16 here) float32 would be off by ~1e-3; with the adapter's hint it is exact
    to float32."""
    case = Case.from_id("2d-n1-ci8-co8-i6x6-g1-k3x3-s1x1-p0.0x0.0-op0x0-d1x1-b-f32")
    x, w, bias = make_inputs(case)
    assert _outcome(case, onnx_adapter.run(case, x, w, bias), x, w, bias) == "pass"


def test_bfloat16_output_keeps_its_bits(onnx_adapter, torch_adapter):
    for adapter, case_id in ((onnx_adapter, ONNX_CASES[0]), (torch_adapter, TORCH_CASES[0])):
        case = Case.from_id(case_id.replace("-f32", "-bf16"))
        x, w, bias = make_inputs(case)
        out = adapter.run(case, x, w, bias)
        assert out.dtype.name == "bfloat16" and out.shape == case.output_shape
        assert _outcome(case, out, x, w, bias) == "pass"


def test_threads_follow_the_suites_limit(onnx_adapter, monkeypatch):
    monkeypatch.setenv(adapters.THREAD_LIMIT, "1")
    case = Case.from_id(ONNX_CASES[0])
    assert onnx_adapter.compile(case, *make_inputs(case)).get_property("INFERENCE_NUM_THREADS") == 1


@pytest.mark.parametrize("which", ["onnx", "torch"])
def test_repro_reproduces_the_adapter(onnx_adapter, torch_adapter, which):
    adapter, case_id = (onnx_adapter, ONNX_CASES[1]) if which == "onnx" else (torch_adapter, TORCH_CASES[1])
    case = Case.from_id(case_id)
    namespace: dict = {}
    exec(adapter.repro(case).replace("print(out.element_type, y.shape, y)", ""), namespace)
    np.testing.assert_array_equal(np.asarray(namespace["y"]), adapter.run(case, *make_inputs(case)))


def test_telemetry_is_off_and_nothing_leaves_the_machine(torch_adapter, monkeypatch):
    """openvino's tools use their no-op stub: converting a model opens no connection."""
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("the suite is offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    _check(torch_adapter, TORCH_CASES[0])
    assert attempts == []
    assert openvino_runtime.telemetry_off()
    assert adapters.precision(torch_adapter)["telemetry"].startswith("off")


def test_versions_and_availability(onnx_adapter, torch_adapter):
    for adapter in (onnx_adapter, torch_adapter):
        assert adapters.availability(adapter) is None and adapters.framework(adapter) == "openvino"
        assert adapters.versions(adapter)["openvino"][0].isdigit()
    assert {"onnx", "opset"} <= set(adapters.versions(onnx_adapter))
    assert "torch" in adapters.versions(torch_adapter)


def test_a_planted_fault_is_caught(onnx_adapter, torch_adapter, monkeypatch):
    """An adapter that forgets output_padding (the ONNX node without it, the torch module without it) returns a
    shorter output, and the comparison says so."""
    from adapters import onnx_runtimes

    real_attributes = onnx_runtimes.node_attributes

    def without_output_padding(case):
        attributes = real_attributes(case)
        attributes.pop("output_padding", None)
        return attributes

    monkeypatch.setattr(onnx_runtimes, "node_attributes", without_output_padding)
    real_module = openvino_runtime.OpenVinoTorch.module

    def module_without_output_padding(self, case, w, bias):
        layer = real_module(self, case, w, bias)
        layer.output_padding = (0,) * case.rank
        return layer

    monkeypatch.setattr(openvino_runtime.OpenVinoTorch, "module", module_without_output_padding)
    for adapter, case_id in ((onnx_adapter, ONNX_CASES[0]), (torch_adapter, TORCH_CASES[0])):
        case = Case.from_id(case_id)
        x, w, bias = make_inputs(case)
        out = adapter.run(case, x, w, bias)
        assert _outcome(case, out, x, w, bias) == "shape_mismatch", adapter.name
