"""The other paths users take to the same operation: torch's module (with ``output_size``), channels-last
memory and unbatched input, torch.compile; tf.nn under XLA; onnxruntime with weights as constants, its
optimizations on and off, and opset 11. Each path must compute the reference's output on its own.

Each test skips (saying why) where its framework is not installed, and runs in that framework's tox env.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import adapters
from adapters import Unsupported, load
from adapters.capabilities import why_not
from conformance import modes
from conformance.case import Case, make_inputs, make_upstream
from conformance.compare import compare
from conformance.runner import expected
from reference import conv_transpose

GROUPED = dict(batch=2, in_channels=4, out_channels=6, groups=2, bias=True, dtype="float32")
CASES = [
    Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), padding=1, output_padding=(1, 0), **GROUPED),
    Case(input_size=(3, 2, 2), kernel=2, stride=2, dilation=(1, 2, 1), output_padding=(1, 0, 1), **GROUPED),
    Case(input_size=(6,), kernel=4, stride=3, padding=1, output_padding=2, **GROUPED),
]


def _compared(adapter, case, output=None):
    x, w, bias = make_inputs(case)
    reference, tolerance = expected(case)
    return compare(case, reference, tolerance, adapter.run(case, x, w, bias) if output is None else output)


def _assert_matches_reference(adapter, case):
    result = _compared(adapter, case)
    assert result.outcome == "pass", (adapter.name, case.id, result.metrics)


def _torch():
    pytest.importorskip("torch", reason="torch is not installed in this environment (tox -e torch runs this)")


# --- torch's output_size mode: what the module's documented range gives ---------------------------


def test_torch_output_size_mode_takes_the_cases_symmetric_pads_and_output_padding_below_the_stride():
    case = Case(input_size=(5,), kernel=3, stride=2, padding=1, output_padding=1, mode="torch_output_size")
    assert case.output_shape[-1] == (5 - 1) * 2 - 2 + 3 + 1
    with pytest.raises(ValueError, match="asymmetric"):
        Case(input_size=(5,), kernel=3, stride=2, padding=((1, 0),), mode="torch_output_size")
    # The functional form takes output_padding below the dilation too; the module's output_size range does not.
    Case(input_size=(5,), kernel=3, stride=1, dilation=2, output_padding=1)
    with pytest.raises(ValueError, match="not below the stride"):
        Case(input_size=(5,), kernel=3, stride=1, dilation=2, output_padding=1, mode="torch_output_size")
    assert modes.parse("torch_output_size", 1).kind in modes.FREE_PADS


@pytest.mark.parametrize("name", ["torch-module", "torch-unbatched", "torch-channels-last"])
def test_torch_paths_match_the_reference(name):
    _torch()
    adapter = load(name)
    for case in CASES:
        if name == "torch-channels-last" and case.rank == 1:
            with pytest.raises(Unsupported, match="no 1-D form"):
                adapter.run(case, *make_inputs(case))
            continue
        _assert_matches_reference(adapter, case)
    if "torch" in adapters.modes(adapter):
        for case in CASES:
            _assert_matches_reference(adapter, replace(case, mode="torch_output_size"))


def test_torch_module_asked_for_an_output_size_picks_the_output_padding_itself(monkeypatch):
    _torch()
    adapter = load("torch-module")
    case = Case(input_size=(4, 3), kernel=3, stride=(3, 2), padding=1, output_padding=(2, 1), mode="torch_output_size")
    x, w, bias = make_inputs(case)
    assert adapter.run(case, x, w, bias).shape[2:] == case.geometry.output_size
    # Planted fault: the module built with the case's output_padding and asked for the size as well.
    original = adapter._module
    monkeypatch.setattr(adapter, "_forward", lambda case, module, x: module(x))
    assert _compared(adapter, case).outcome == "shape_mismatch"
    monkeypatch.setattr(adapter, "_module", original)


def test_torch_module_gradients_are_the_functional_ones():
    _torch()
    case = replace(CASES[0], dtype="float64", direction="backward")
    x, w, bias = make_inputs(case)
    dy = make_upstream(case)
    functional = load("torch").run_backward(case, x, w, bias, dy)
    for name in ("torch-module", "torch-unbatched", "torch-channels-last"):
        for got, want in zip(load(name).run_backward(case, x, w, bias, dy), functional):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_torch_channels_last_really_runs_channels_last(monkeypatch):
    _torch()
    import torch

    seen = []
    original = torch.nn.functional.conv_transpose2d

    def spy(x, w, *args, **kwargs):
        seen.append(
            (x.is_contiguous(memory_format=torch.channels_last), w.is_contiguous(memory_format=torch.channels_last))
        )
        return original(x, w, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "conv_transpose2d", spy)
    _assert_matches_reference(load("torch-channels-last"), CASES[0])
    assert seen == [(True, True)]


def test_torch_repros_reproduce_each_path():
    _torch()
    for name in ("torch-module", "torch-unbatched", "torch-channels-last"):
        adapter = load(name)
        case = CASES[0] if "torch" not in adapters.modes(adapter) else replace(CASES[0], mode="torch_output_size")
        namespace: dict = {}
        exec(adapter.repro(case).replace("print(y.shape, y)", ""), namespace)
        np.testing.assert_array_equal(namespace["y"].detach().numpy(), adapter.run(case, *make_inputs(case)))


def test_torch_compile_compiles_each_case_afresh_and_matches_the_reference(monkeypatch):
    _torch()
    import torch

    adapter = load("torch-compile")
    assert not adapters.has_backward(adapter)
    resets = []
    monkeypatch.setattr(torch._dynamo, "reset", lambda: resets.append(1))
    case = Case(input_size=(4,), kernel=3, stride=2, padding=1, output_padding=1, in_channels=2, out_channels=3,
                bias=True, dtype="float32", mode="torch_output_size")  # fmt: skip
    _assert_matches_reference(adapter, case)
    assert resets == [1]


# --- onnxruntime: constant weights, optimizations, opset 11 ------------------------------------------


def _onnxruntime():
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed here (tox -e onnxruntime runs this)")


@pytest.mark.parametrize("name", ["onnxruntime-optimized", "onnxruntime-unoptimized", "onnxruntime-opset11"])
def test_onnxruntime_paths_match_the_reference_and_build_the_model_they_say(name):
    _onnxruntime()
    from adapters.onnx_runtimes import build_model

    adapter = load(name)
    for case in CASES:
        _assert_matches_reference(adapter, case)
    x, w, bias = make_inputs(CASES[0])
    model = build_model(CASES[0], (w, bias) if adapter.constant_weights else None, adapter.opset)
    assert [i.name for i in model.graph.input] == (["X"] if adapter.constant_weights else ["X", "W", "B"])
    assert [t.name for t in model.graph.initializer] == (["W", "B"] if adapter.constant_weights else [])
    assert model.opset_import[0].version == adapter.opset
    assert adapters.versions(adapter)["opset"] == str(adapter.opset)
    namespace: dict = {}
    exec(adapter.repro(CASES[0]).replace("print(y.shape, y)", ""), namespace)
    np.testing.assert_array_equal(namespace["y"], adapter.run(CASES[0], x, w, bias))


def test_onnxruntime_optimization_levels_are_set_on_the_session(monkeypatch):
    _onnxruntime()
    import onnxruntime

    levels = []
    original = onnxruntime.InferenceSession

    def spy(model, options=None, **kwargs):
        levels.append(options.graph_optimization_level)
        return original(model, options, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", spy)
    for name in ("onnxruntime-optimized", "onnxruntime-unoptimized"):
        _assert_matches_reference(load(name), CASES[0])
    assert levels == [
        onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
        onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
    ]


def test_opset_11_has_no_bfloat16():
    case = replace(CASES[0], dtype="bfloat16")
    assert "no bfloat16" in why_not(load("onnxruntime-opset11"), case)


# --- tf.nn under XLA ---------------------------------------------------------------------------------


def test_tf_nn_under_xla_matches_the_reference_and_compiles(monkeypatch):
    pytest.importorskip("tensorflow", reason="tensorflow is not installed here (tox -e tensorflow runs this)")
    import tensorflow as tf

    adapter = load("tf-nn-xla")
    compiled = []
    original = tf.function

    def spy(function, **kwargs):
        compiled.append(kwargs.get("jit_compile"))
        return original(function, **kwargs)

    monkeypatch.setattr(tf, "function", spy)
    case = Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), in_channels=2, out_channels=3, bias=True,
                dtype="float32", mode="tf_same_o10x4")  # fmt: skip
    _assert_matches_reference(adapter, case)
    assert compiled == [True]
    namespace: dict = {}
    monkeypatch.setattr(tf, "function", original)
    exec(adapter.repro(case).replace("print(y.shape, y)", ""), namespace)
    x, w, bias = make_inputs(case)
    np.testing.assert_allclose(namespace["y"], conv_transpose(x, w, bias, **case.conv_params()), rtol=1e-5, atol=1e-5)
