"""Adapters: loading by name or import path, the repro snippets, and each framework's documented facts.

Framework facts are checked against the framework itself; a test skips (saying why) where the
framework is not installed in this environment, and runs in that framework's tox env.
"""

from __future__ import annotations

import numpy as np
import pytest

import adapters
from adapters import Unsupported, load
from adapters.snippets import input_lines
from conformance.case import Case, make_inputs

CASE = Case(
    input_size=(4, 3),
    kernel=(3, 2),
    batch=2,
    in_channels=4,
    out_channels=6,
    groups=2,
    stride=(2, 1),
    padding=1,
    output_padding=(1, 0),
    bias=True,
    dtype="float32",
)


def test_third_party_adapters_load_by_import_path_with_defaults():
    adapter = load("tests.plugin_adapters:Correct")
    assert adapter.name == "vendor-correct"
    assert adapters.availability(adapter) is None
    assert adapters.versions(adapter) == {} and adapters.device(adapter) == "cpu"
    assert adapters.framework(adapter) == "vendor-correct"
    assert adapters.repro(adapter, CASE) is None
    assert load("tests.plugin_adapters:instance").name == "vendor-correct"


def test_bad_adapter_specs():
    with pytest.raises(ValueError, match="unknown adapter"):
        load("no-such-framework")
    with pytest.raises(TypeError, match="needs name and run"):
        load("conformance.grid:PROFILES")


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_repro_inputs_are_the_suites_inputs(dtype):
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    case = Case.from_id(
        CASE.id.replace("f32", {"float64": "f64", "float32": "f32", "float16": "f16"}.get(dtype, "bf16"))
    )
    namespace: dict = {}
    exec("\n".join(input_lines(case)), namespace)
    for produced, expected in zip((namespace["x"], namespace["w"], namespace["bias"]), make_inputs(case)):
        assert produced.dtype == expected.dtype
        np.testing.assert_array_equal(produced, expected)


def _run_repro(adapter, case):
    namespace: dict = {}
    exec(adapter.repro(case).replace("print(y.shape, y)", ""), namespace)
    return np.asarray(namespace["y"].numpy() if hasattr(namespace["y"], "numpy") else namespace["y"])


# --- PyTorch: facts from its documentation, proved on the installed version ---------------------


@pytest.fixture
def torch_adapter():
    pytest.importorskip("torch", reason="torch is not installed in this environment (tox -e torch runs this)")
    return load("torch")


def test_torch_cannot_express_asymmetric_padding(torch_adapter):
    case = Case(input_size=(4,), kernel=3, padding=((1, 0),))
    with pytest.raises(Unsupported, match="asymmetric"):
        torch_adapter.run(case, *make_inputs(case))


def test_torch_output_padding_rule_is_stride_or_dilation(torch_adapter):
    accepted = Case(input_size=(4,), kernel=3, stride=1, dilation=2, output_padding=1)
    assert torch_adapter.run(accepted, *make_inputs(accepted)).shape == accepted.output_shape
    import torch

    x, w, _ = make_inputs(accepted)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        torch.nn.functional.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), stride=2, output_padding=2)


def test_torch_repro_reproduces_the_adapter(torch_adapter):
    np.testing.assert_array_equal(_run_repro(torch_adapter, CASE), torch_adapter.run(CASE, *make_inputs(CASE)))


def test_torch_keeps_bfloat16_bits(torch_adapter):
    case = Case.from_id(CASE.id.replace("f32", "bf16"))
    out = torch_adapter.run(case, *make_inputs(case))
    assert out.dtype.name == "bfloat16" and out.shape == case.output_shape


def test_torch_cuda_says_why_it_is_unavailable(torch_adapter):
    import torch

    reason = adapters.availability(load("torch-cuda"))
    assert (reason is None) == torch.cuda.is_available()
    if reason:
        assert "CUDA is not available" in reason


# --- ONNX: the spec's layout and pads order, on onnxruntime and onnx.reference -----------------


@pytest.fixture
def onnx_adapters():
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed here (tox -e onnxruntime runs this)")
    return load("onnxruntime"), load("onnx-reference")


def test_onnx_model_states_pads_as_begins_then_ends(onnx_adapters):
    from adapters.onnx_runtimes import OPSET, build_model

    case = Case(input_size=(4, 5), kernel=3, padding=((1, 2), (0, 3)))
    model = build_model(case)
    (node,) = model.graph.node
    attributes = {a.name: list(a.ints) or a.i for a in node.attribute}
    assert attributes["pads"] == [1, 0, 2, 3]
    assert model.opset_import[0].version == OPSET


def test_onnxruntime_cpu_has_no_float64_kernel(onnx_adapters):
    runtime, _ = onnx_adapters
    case = Case(input_size=(3,), kernel=2)
    with pytest.raises(Unsupported, match="no ConvTranspose kernel for float64"):
        runtime.run(case, *make_inputs(case))


def test_onnx_repros_reproduce_the_adapters(onnx_adapters):
    case = Case(
        input_size=(4, 3),
        kernel=(3, 2),
        in_channels=2,
        out_channels=3,
        stride=(2, 1),
        padding=((1, 0), (0, 1)),
        output_padding=(1, 0),
        bias=True,
        dtype="float32",
    )
    for adapter in onnx_adapters:
        np.testing.assert_array_equal(_run_repro(adapter, case), adapter.run(case, *make_inputs(case)))


def test_onnxruntime_cuda_says_why_it_is_unavailable(onnx_adapters):
    import onnxruntime

    reason = adapters.availability(load("onnxruntime-cuda"))
    assert (reason is None) == ("CUDAExecutionProvider" in onnxruntime.get_available_providers())
    if reason:
        assert "CUDAExecutionProvider is not among" in reason
