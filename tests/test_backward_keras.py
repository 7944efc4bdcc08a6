"""Keras's backward pass: each backend's own differentiation of the Conv{1,2,3}DTranspose call, proved on the
installed version against the reference's gradients, and the backward repro giving the same gradients.

Like the Keras tests of tests/test_adapters.py these run in one backend per process: they skip unless
KERAS_BACKEND is set (tox -e keras-tensorflow, keras-jax or keras-torch sets it).
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest

from adapters import load
from adapters.keras_layers import canonical_weight
from adapters.layouts import spatial_out_in
from conformance.case import Case, make_inputs, make_upstream
from conformance.compare import expected_gradients

# Hand-picked backward cases Keras expresses on both data formats and every backend: C_in != C_out and
# anisotropic axes (a transposed kernel axis shows), 'same' with an output_padding, dilation in 3-D, a batch.
# float32 and float16: the tensorflow backend refuses float64 with channels_first (the forward register says why).
FLOAT32 = dict(dtype="float32", direction="backward")
FLOAT16 = dict(dtype="float16", direction="backward")
CASES = [
    Case(input_size=(5, 4), kernel=(3, 2), in_channels=2, out_channels=3, stride=(2, 1), bias=True, **FLOAT32),
    Case(input_size=(5,), kernel=4, stride=2, padding=((1, 2),), in_channels=3, out_channels=2, batch=2, **FLOAT32),
    Case(input_size=(2, 3, 2), kernel=2, dilation=(1, 1, 2), in_channels=3, out_channels=2, bias=True, **FLOAT32),
    Case(input_size=(4, 3), kernel=3, stride=2, in_channels=2, out_channels=3, bias=True, **FLOAT16),
]


def _backend() -> str:
    backend = os.environ.get("KERAS_BACKEND")
    if backend not in ("tensorflow", "jax", "torch"):
        pytest.skip("KERAS_BACKEND is not set (tox -e keras-tensorflow, keras-jax or keras-torch runs this)")
    pytest.importorskip("keras", reason="keras is not installed in this environment")
    pytest.importorskip(backend, reason=f"the {backend} backend is not installed in this environment")
    return backend


@pytest.fixture(params=["", "-channels-first"])
def keras_adapter(request):
    return load(f"keras-{_backend()}{request.param}")


def _gradients(adapter, case: Case):
    x, w, bias = make_inputs(case)
    return adapter.run_backward(case, x, w, bias, make_upstream(case))


def test_keras_kernel_gradient_goes_back_as_the_forward_moved_the_weight():
    for rank in (1, 2, 3):
        w = np.arange(3 * 2 * 4**rank, dtype=np.float32).reshape(3, 2, *(4,) * rank)
        np.testing.assert_array_equal(canonical_weight(spatial_out_in(w)), w)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_keras_gradients_match_the_reference(keras_adapter, case):
    x, w, bias = make_inputs(case)
    found = _gradients(keras_adapter, case)
    expected = expected_gradients(case, x, w, bias, make_upstream(case))
    assert (found[2] is None) == (not case.bias)
    for name, value in zip(("dx", "dw", "db"), found):
        if value is None:
            continue
        reference, tolerance = expected[name]
        assert value.shape == reference.shape and value.dtype.name == case.dtype, name
        error = np.abs(value.astype(np.float64) - reference)
        assert (error <= tolerance).all(), f"{name}: {(error / tolerance).max():.3g} times its tolerance"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_keras_backward_repro_gives_the_adapters_gradients(keras_adapter, case):
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):  # the repro prints every gradient
        exec(keras_adapter.repro(case), namespace)
    for name, value in zip(("dx", "dw", "db"), _gradients(keras_adapter, case)):
        if value is None:
            assert namespace[name] is None
        else:
            np.testing.assert_array_equal(namespace[name], value, err_msg=name)


def test_keras_tensorflow_channels_first_bias_gradient_sums_the_wrong_axis():
    """The forward's bias bug (register: keras-tensorflow-cf-bias-on-wrong-axis) seen from the backward: where the
    last spatial output length equals the number of filters, db[c] is dy summed over the channels at position c
    instead of over the positions of channel c. dx and dw are right."""
    if _backend() != "tensorflow":
        pytest.skip("a fact of the tensorflow backend")
    adapter = load("keras-tensorflow-channels-first")
    case = Case(input_size=(2,), kernel=1, in_channels=3, out_channels=2, bias=True, **FLOAT32)
    x, w, bias = make_inputs(case)
    dy = make_upstream(case)
    dx, dw, db = adapter.run_backward(case, x, w, bias, dy)
    expected = expected_gradients(case, x, w, bias, dy)
    for name, value in (("dx", dx), ("dw", dw)):
        reference, tolerance = expected[name]
        assert (np.abs(value - reference) <= tolerance).all(), name
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1)), rtol=1e-6)
    assert not np.allclose(db, dy.sum(axis=(0, 2)))
