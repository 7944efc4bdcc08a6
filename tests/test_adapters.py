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


def test_onnxruntime_cpu_has_no_float64_kernel_and_says_so_at_construction(onnx_adapters):
    runtime, _ = onnx_adapters
    case = Case(input_size=(3,), kernel=2)
    with pytest.raises(Exception, match="NOT_IMPLEMENTED") as refused:
        runtime.run(case, *make_inputs(case))
    assert refused.value.conformance_stage == "construction"


def test_onnx_shape_inference_gives_the_inferred_shape_and_refuses_at_construction():
    pytest.importorskip("onnx", reason="onnx is not installed here (tox -e onnxruntime runs this)")
    inference = load("onnx-shape-inference")
    case = Case(input_size=(5, 4), kernel=3, stride=2, padding=((1, 0), (0, 2)), output_padding=(1, 0), in_channels=4,
                out_channels=6, groups=2, bias=True, dtype="float16")  # fmt: skip
    inferred = inference.run(case, *make_inputs(case))
    assert inferred.shape == case.output_shape and inferred.dtype == "float16"
    negative = Case(input_size=(5,), kernel=3, padding=-1, in_channels=2, out_channels=2, violates="negative_pad")
    with pytest.raises(Exception, match="pads must not contain negative values") as refused:
        inference.run(negative, *make_inputs(negative))
    assert refused.value.conformance_stage == "construction"


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


def test_onnx_modes_set_auto_pad_and_output_shape_instead_of_pads():
    from adapters.onnx_runtimes import node_attributes

    attributes = node_attributes(Case(input_size=(5,), kernel=4, stride=2, mode="onnx_same_lower_o9_op1"))
    assert attributes["auto_pad"] == "SAME_LOWER" and attributes["output_shape"] == [9]
    assert attributes["output_padding"] == [1] and "pads" not in attributes


def test_onnx_same_upper_puts_the_odd_crop_at_the_end(onnx_adapters):
    runtime, _ = onnx_adapters
    case = Case(
        input_size=(5,), kernel=4, stride=1, in_channels=2, out_channels=3, dtype="float32", mode="onnx_same_upper"
    )
    assert case.padding == ((1, 2),)  # the spec: begin = total / 2 with total 3
    x, w, bias = make_inputs(case)
    from reference import conv_transpose

    np.testing.assert_allclose(
        runtime.run(case, x, w, bias), conv_transpose(x, w, stride=1, padding=((1, 2),)), rtol=1e-5
    )


# --- Keras: one backend per process; the tox env's KERAS_BACKEND picks it ------------------------


@pytest.fixture
def keras_adapter():
    import os

    backend = os.environ.get("KERAS_BACKEND")
    if backend not in ("tensorflow", "jax", "torch"):
        pytest.skip("KERAS_BACKEND is not set (tox -e keras-tensorflow, keras-jax or keras-torch runs this)")
    pytest.importorskip("keras", reason="keras is not installed in this environment")
    return load(f"keras-{backend}")


def test_keras_kernel_layout_and_same_padding(keras_adapter):
    case = Case(input_size=(5, 4), kernel=(3, 2), in_channels=2, out_channels=3, stride=2, bias=True,
                dtype="float32", mode="keras_same")  # fmt: skip
    x, w, bias = make_inputs(case)
    from reference import conv_transpose

    expected = conv_transpose(x, w, bias, **case.conv_params())
    np.testing.assert_allclose(keras_adapter.run(case, x, w, bias), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_run_repro(keras_adapter, case), keras_adapter.run(case, x, w, bias))


def test_keras_expresses_explicit_pads_only_through_same_or_valid(keras_adapter):
    expressible = Case(input_size=(5,), kernel=4, stride=2, padding=((1, 2),))  # keras 'same' with output_padding 1
    assert keras_adapter.run(expressible, *make_inputs(expressible)).shape == expressible.output_shape
    for case in (
        Case(input_size=(5,), kernel=4, stride=2, padding=((2, 1),)),
        Case(input_size=(4,), kernel=3, groups=1),
    ):
        if case.padding == ((0, 0),):
            continue
        with pytest.raises(Unsupported, match="none of its padding modes"):
            keras_adapter.run(case, *make_inputs(case))
    grouped = Case(input_size=(4,), kernel=3, in_channels=2, out_channels=2, groups=2)
    with pytest.raises(Unsupported, match="no groups argument"):
        keras_adapter.run(grouped, *make_inputs(grouped))


def test_keras_refuses_an_output_padding_at_the_stride_at_construction(keras_adapter):
    case = Case(input_size=(5,), kernel=3, stride=2, in_channels=2, out_channels=3, bias=True, dtype="float32",
                mode="keras_same_op2", violates="output_padding_at_bound")  # fmt: skip
    with pytest.raises(ValueError, match="output_padding") as refused:
        keras_adapter.run(case, *make_inputs(case))
    assert refused.value.conformance_stage == "construction"


def test_keras_refuses_an_explicit_output_padding_at_the_bound_itself(keras_adapter):
    """The explicit must-reject case is asked as written ('valid' with the invalid output_padding): the
    refusal must be Keras's own, never the adapter failing to spell it (which counted as a refusal once)."""
    case = Case(input_size=(5,), kernel=3, stride=2, in_channels=2, out_channels=2, output_padding=2,
                dtype="float32", violates="output_padding_at_bound")  # fmt: skip
    with pytest.raises(ValueError, match="`output_padding` must be strictly less than `strides`"):
        keras_adapter.run(case, *make_inputs(case))
    assert "not expressible" not in keras_adapter.repro(case)


def test_keras_rejects_stride_with_dilation_as_its_capability_table_says(keras_adapter):
    case = Case(input_size=(5,), kernel=3, stride=2, dilation=2)
    with pytest.raises(Unsupported, match="stride > 1 together with dilation > 1"):
        keras_adapter.run(case, *make_inputs(case))
    assert not keras_adapter.capabilities.strided_dilation
    keras = keras_adapter._keras()
    with pytest.raises(ValueError, match="dilation_rate"):  # the fact the table declares, from Keras itself
        keras.layers.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)


# --- tf.nn and JAX --------------------------------------------------------------------------------


@pytest.fixture
def tf_adapter():
    pytest.importorskip("tensorflow", reason="tensorflow is not installed here (tox -e tensorflow runs this)")
    return load("tf-nn")


def test_tf_explicit_pads_in_2d_and_output_shape_carries_output_padding(tf_adapter):
    explicit = load("tf-nn-explicit-pads")
    case = Case(input_size=(4, 3), kernel=(3, 2), in_channels=2, out_channels=3, stride=2, padding=((1, 0), (0, 1)),
                output_padding=(1, 0), bias=True, dtype="float32")  # fmt: skip
    x, w, bias = make_inputs(case)
    from reference import conv_transpose

    out = explicit.run(case, x, w, bias)
    np.testing.assert_allclose(out, conv_transpose(x, w, bias, **case.conv_params()), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_run_repro(explicit, case), out)
    with pytest.raises(Unsupported, match="none of its padding modes"):  # the strings path: no string means it
        tf_adapter.run(case, x, w, bias)
    one_d = Case(input_size=(5,), kernel=4, stride=2, padding=((2, 1),))
    with pytest.raises(Unsupported, match="no 1-D form"):
        explicit.run(one_d, *make_inputs(one_d))
    with pytest.raises(Unsupported, match="none of its padding modes"):
        tf_adapter.run(one_d, *make_inputs(one_d))


def test_tf_strings_path_passes_same_where_it_means_the_pads(tf_adapter):
    case = Case(input_size=(5, 4), kernel=3, stride=2, padding=((0, 1), (0, 1)), dtype="float32")
    assert "padding='SAME'" in tf_adapter.repro(case)
    x, w, bias = make_inputs(case)
    from reference import conv_transpose

    np.testing.assert_allclose(tf_adapter.run(case, x, w, bias), conv_transpose(x, w, **case.conv_params()), rtol=1e-5)


def test_tf_refuses_an_output_shape_its_forward_conv_cannot_give(tf_adapter):
    import tensorflow as tf

    x = np.ones((1, 5, 1), np.float32)
    w = np.ones((4, 1, 1), np.float32)
    # 'SAME' with n=5, stride 2 accepts 9 or 10 only; oneDNN (float32) refuses with an AbortedError,
    # TensorFlow's own kernel (float64) with an InvalidArgumentError.
    with pytest.raises(tf.errors.OpError):
        tf.nn.conv1d_transpose(x, w, [1, 8, 1], 2, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Size of out_backprop doesn't match"):
        tf.nn.conv1d_transpose(x.astype(np.float64), w.astype(np.float64), [1, 8, 1], 2, "SAME")


@pytest.fixture
def jax_adapter():
    pytest.importorskip("jax", reason="jax is not installed here (tox -e jax runs this)")
    return load("jax")


@pytest.mark.parametrize(
    "case",
    [
        Case(
            input_size=(4, 3),
            kernel=(3, 2),
            in_channels=2,
            out_channels=3,
            stride=2,
            padding=((1, 0), (0, 1)),
            output_padding=(1, 0),
            bias=True,
        ),  # conv_transpose, use_consistent_padding=True
        Case(input_size=(5,), kernel=4, stride=2, padding=((4, 1),), output_padding=1, mode="jax_legacy"),
        Case(
            input_size=(4, 4),
            kernel=3,
            in_channels=4,
            out_channels=6,
            groups=2,
            stride=2,
            padding=((1, 0), (2, 1)),
            bias=True,
        ),  # conv_general_dilated with feature_group_count
        Case(input_size=(5,), kernel=2, stride=3, mode="jax_same"),
    ],
    ids=lambda case: case.id,
)
def test_jax_matches_the_reference_through_each_call(jax_adapter, case):
    from reference import conv_transpose

    x, w, bias = make_inputs(case)
    out = jax_adapter.run(case, x, w, bias)
    assert out.dtype == np.float64  # x64 is on: float64 is not silently float32
    np.testing.assert_allclose(out, conv_transpose(x, w, bias, **case.conv_params()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_run_repro(jax_adapter, case), out, rtol=1e-12, atol=1e-12)


def test_jax_keeps_each_compiled_program_on_disk_and_loads_it_without_compiling(jax_adapter, tmp_path, monkeypatch):
    import adapters.jax_lax as jax_lax

    monkeypatch.setattr(jax_lax, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(jax_lax, "_LOADED", {})
    case = Case(input_size=(5, 4), kernel=3, stride=2, padding=1, in_channels=2, out_channels=3, bias=True)
    other = Case(input_size=(6, 4), kernel=3, stride=2, padding=1, in_channels=2, out_channels=3, bias=True)
    first = jax_adapter.run(case, *make_inputs(case))
    jax_adapter.run(other, *make_inputs(other))
    stored = sorted((tmp_path / "executables").glob("*.pickle"))
    assert len(stored) == 2  # one program per shape

    def no_compiling(function):
        raise AssertionError("compiled again instead of loading the stored program")

    jax_lax._LOADED.clear()  # as a new process: only the files remain
    with monkeypatch.context() as patch:
        patch.setattr(jax_lax, "_compiled", no_compiling)
        np.testing.assert_array_equal(jax_adapter.run(case, *make_inputs(case)), first)
    for path in stored:  # a damaged store is compiled again and replaced, never trusted
        path.write_bytes(b"not a program")
    jax_lax._LOADED.clear()
    np.testing.assert_array_equal(jax_adapter.run(case, *make_inputs(case)), first)
    assert any(path.read_bytes() != b"not a program" for path in stored)
