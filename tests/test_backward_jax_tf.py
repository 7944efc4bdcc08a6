"""Backward through JAX and tf.nn, proved on the installed versions: each adapter's gradients (its framework's
own differentiation) agree with the reference's VJP within the suite's own bound, come back in the case's
dtype, and each backward repro, executed, gives the adapter's gradients. Skips where a framework is absent."""

from __future__ import annotations

import numpy as np
import pytest

from adapters import load
from conformance.case import Case, make_inputs, make_upstream
from conformance.compare import expected_gradients


def _assert_matches_the_reference(case: Case, found) -> None:
    x, w, bias = make_inputs(case)
    expected = expected_gradients(case, x, w, bias, make_upstream(case))
    assert (found[2] is None) == (bias is None)
    for name, value in zip(("dx", "dw", "db"), found):
        if value is None:
            continue
        reference, tolerance = expected[name]
        assert value.shape == reference.shape, name
        assert value.dtype.name == case.dtype, name  # the framework's dtype: never widened or cast
        error = np.abs(value.astype(np.float64) - reference)
        assert (error <= tolerance).all(), f"{name}: worst error {error.max()} over its bound"


def _backward(adapter, case: Case):
    return adapter.run_backward(case, *make_inputs(case), make_upstream(case))


def _run_repro(adapter, case: Case) -> list:
    """The repro executed without its print: its dx, dw and db (db None without a bias)."""
    lines = [line for line in adapter.repro(case).splitlines() if not line.startswith("print(")]
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    return [None if namespace.get(name) is None else np.asarray(namespace[name]) for name in ("dx", "dw", "db")]


# --- JAX: jax.vjp through lax.conv_transpose / conv_general_dilated ----------------------------

JAX_CASES = [
    Case(input_size=(4, 3), kernel=(3, 2), in_channels=2, out_channels=3, stride=2, padding=((1, 0), (0, 1)),
         output_padding=(1, 0), bias=True, direction="backward"),  # conv_transpose, asymmetric pads
    Case(input_size=(4, 4), kernel=3, in_channels=4, out_channels=6, groups=2, stride=2, padding=((1, 0), (2, 1)),
         bias=True, direction="backward"),  # conv_general_dilated, feature_group_count
    Case(input_size=(6,), kernel=3, in_channels=2, out_channels=3, dilation=2, padding=((2, 1),), batch=2,
         direction="backward"),  # dilated, no bias
    Case(input_size=(2, 3, 2), kernel=2, in_channels=2, out_channels=4, groups=2, stride=(1, 2, 1),
         dilation=(2, 1, 1), bias=True, direction="backward"),  # 3-D, grouped and dilated
    Case(input_size=(5, 4), kernel=3, in_channels=2, out_channels=3, stride=2, padding=1, bias=True,
         dtype="float32", direction="backward"),
]  # fmt: skip


@pytest.fixture
def jax_adapter():
    pytest.importorskip("jax", reason="jax is not installed here (tox -e jax runs this)")
    return load("jax")


@pytest.mark.parametrize("case", JAX_CASES, ids=lambda case: case.id)
def test_jax_gradients_match_the_reference(jax_adapter, case):
    _assert_matches_the_reference(case, _backward(jax_adapter, case))


def test_jax_bfloat16_gradients_stay_bfloat16(jax_adapter):
    pytest.importorskip("ml_dtypes")
    case = Case(input_size=(4, 4), kernel=3, in_channels=2, out_channels=4, groups=2, stride=2, bias=True,
                dtype="bfloat16", direction="backward")  # fmt: skip
    _assert_matches_the_reference(case, _backward(jax_adapter, case))


@pytest.mark.parametrize("case", JAX_CASES[:3], ids=lambda case: case.id)
def test_jax_backward_repro_gives_run_backwards_gradients(jax_adapter, case):
    found = _backward(jax_adapter, case)
    # The repro runs op by op, the adapter one jitted program: the same convolutions, float64 rounding apart.
    for produced, expected in zip(_run_repro(jax_adapter, case), found):
        if expected is None:
            assert produced is None
        else:
            np.testing.assert_allclose(produced, expected, rtol=1e-12, atol=1e-12)


def test_jax_backward_programs_are_kept_on_disk_and_loaded_without_compiling(jax_adapter, tmp_path, monkeypatch):
    import adapters.jax_lax as jax_lax

    monkeypatch.setattr(jax_lax, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(jax_lax, "_LOADED", {})
    case = JAX_CASES[1]
    first = _backward(jax_adapter, case)
    assert len(list((tmp_path / "executables").glob("*.pickle"))) == 1

    def no_compiling(function):
        raise AssertionError("compiled again instead of loading the stored program")

    jax_lax._LOADED.clear()  # as a new process: only the file remains
    monkeypatch.setattr(jax_lax, "_compiled", no_compiling)
    for again, before in zip(_backward(jax_adapter, case), first):
        np.testing.assert_array_equal(again, before)


# --- tf.nn: tf.GradientTape through conv{1,2,3}d_transpose ---------------------------------------


@pytest.fixture
def tf_adapters():
    pytest.importorskip("tensorflow", reason="tensorflow is not installed here (tox -e tensorflow runs this)")
    return load("tf-nn"), load("tf-nn-explicit-pads")


TF_STRING_CASES = [
    Case(input_size=(5, 4), kernel=3, in_channels=2, out_channels=3, stride=2, padding=((0, 1), (0, 1)), bias=True,
         dtype="float32", direction="backward"),  # 'SAME'
    Case(input_size=(5,), kernel=4, in_channels=2, out_channels=3, stride=2, bias=True, batch=2,
         direction="backward"),  # 'VALID', float64
    Case(input_size=(3, 2, 2), kernel=2, in_channels=2, out_channels=2, dilation=2, dtype="float32",
         direction="backward"),  # 3-D dilated 'VALID' (oneDNN computes dilation; float64 refuses it)
]  # fmt: skip
TF_EXPLICIT_CASE = Case(input_size=(4, 3), kernel=(3, 2), in_channels=2, out_channels=3, stride=2,
                        padding=((1, 0), (0, 1)), output_padding=(1, 0), bias=True, direction="backward")  # fmt: skip


@pytest.mark.parametrize("case", TF_STRING_CASES, ids=lambda case: case.id)
def test_tf_strings_gradients_match_the_reference(tf_adapters, case):
    _assert_matches_the_reference(case, _backward(tf_adapters[0], case))


def test_tf_explicit_pads_gradients_match_the_reference(tf_adapters):
    _assert_matches_the_reference(TF_EXPLICIT_CASE, _backward(tf_adapters[1], TF_EXPLICIT_CASE))


@pytest.mark.parametrize(
    "which, case",
    [(0, TF_STRING_CASES[0]), (0, TF_STRING_CASES[1]), (1, TF_EXPLICIT_CASE),
     (1, Case(input_size=(3, 3), kernel=2, stride=2, padding=((1, 0), (0, 0)), direction="backward"))],
    ids=lambda value: value.id if isinstance(value, Case) else ("tf-nn", "tf-nn-explicit-pads")[value],
)  # fmt: skip
def test_tf_backward_repro_gives_run_backwards_gradients(tf_adapters, which, case):
    adapter = tf_adapters[which]
    for produced, expected in zip(_run_repro(adapter, case), _backward(adapter, case)):
        if expected is None:
            assert produced is None
        else:  # the same eager ops on the same values
            np.testing.assert_array_equal(produced, expected)


def test_tf_backward_refuses_float64_dilation_as_its_forward_does(tf_adapters):
    import tensorflow as tf

    case = Case(input_size=(3, 2), kernel=2, dilation=2, direction="backward")  # float64, 'VALID'
    with pytest.raises(tf.errors.InvalidArgumentError, match="not yet support dilation rates larger than 1"):
        _backward(tf_adapters[0], case)
