"""The reference against itself: four independent formulations, the textbook examples, the rules."""

from __future__ import annotations

import re

import numpy as np
import pytest

from reference import conv_transpose, output_shape
from reference.api import compute, prepare
from reference.formulations import matrix_form, scatter_add, zero_insertion
from reference.forward import conv

SWEEP_SIZE = 600
MATRIX_FORM_MAX_ELEMENTS = 600


def random_configuration(rng: np.random.Generator) -> dict:
    """A valid, small transposed convolution, drawn to cover every feature of the reference."""
    rank = int(rng.integers(1, 4))
    groups = int(rng.choice([1, 1, 2, 3]))
    in_per_group = int(rng.integers(1, 4))
    out_per_group = int(rng.integers(1, 4))
    if rng.random() < 0.15:  # depthwise
        in_per_group = 1
    max_size = {1: 9, 2: 6, 3: 4}[rank]
    while True:
        size = [int(rng.integers(1, max_size)) for _ in range(rank)]
        kernel = [int(rng.integers(1, 5)) for _ in range(rank)]
        stride = [int(rng.integers(1, 5)) for _ in range(rank)]
        dilation = [int(rng.integers(1, 4)) for _ in range(rank)]
        output_padding = [int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation)]
        padding = []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            full = (n - 1) * s + d * (k - 1) + 1
            begin, end = (int(v) for v in rng.integers(0, max(1, full), size=2))
            padding.append((begin, end) if rng.random() < 0.7 else (begin, begin))
        params = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
        x_shape = (int(rng.integers(1, 4)), in_per_group * groups, *size)
        w_shape = (in_per_group * groups, out_per_group, *kernel)
        try:
            output_shape(x_shape, w_shape, **params)
        except ValueError:
            continue  # the crop removed everything; draw again
        return dict(
            x=rng.standard_normal(x_shape),
            w=rng.standard_normal(w_shape),
            bias=rng.standard_normal(out_per_group * groups) if rng.random() < 0.5 else None,
            params=params,
        )


SWEEP = [random_configuration(np.random.default_rng(seed)) for seed in range(SWEEP_SIZE)]


def assert_relatively_close(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-12) -> None:
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    assert float(np.abs(actual - expected).max(initial=0.0)) <= rel * scale


def test_sweep_covers_every_feature():
    assert_covers_every_feature(SWEEP)


def assert_covers_every_feature(sweep: list[dict]) -> None:
    """A sweep of ``random_configuration``s reaches every feature of the reference often enough."""

    def has(predicate):
        return sum(bool(predicate(c)) for c in sweep)

    assert len(sweep) >= 500
    for rank in (1, 2, 3):
        assert has(lambda c, rank=rank: c["x"].ndim == rank + 2) >= 100
    assert has(lambda c: c["params"]["groups"] > 1) >= 100
    assert has(lambda c: c["params"]["groups"] > 1 and c["x"].shape[1] == c["params"]["groups"]) >= 20  # depthwise
    assert has(lambda c: max(c["params"]["dilation"]) > 1) >= 100
    assert has(lambda c: any(b != e for b, e in c["params"]["padding"])) >= 100
    assert has(lambda c: max(c["params"]["output_padding"]) > 0) >= 100
    assert has(lambda c: any(op >= s for op, s in zip(c["params"]["output_padding"], c["params"]["stride"]))) >= 20
    assert has(lambda c: c["bias"] is not None) >= 100
    assert has(lambda c: c["x"].shape[0] > 1) >= 100
    assert has(lambda c: c["x"].shape[1] != c["w"].shape[1] * c["params"]["groups"]) >= 100


def test_formulations_agree_on_the_sweep():
    matrix_checked = 0
    for c in SWEEP:
        expected = conv_transpose(c["x"], c["w"], c["bias"], **c["params"])
        assert expected.shape == output_shape(c["x"].shape, c["w"].shape, **c["params"])
        assert_relatively_close(compute(zero_insertion, c["x"], c["w"], c["bias"], **c["params"]), expected)
        if expected[0].size <= MATRIX_FORM_MAX_ELEMENTS:
            assert_relatively_close(compute(matrix_form, c["x"], c["w"], c["bias"], **c["params"]), expected)
            matrix_checked += 1
    assert matrix_checked >= 300


def test_adjoint_identity_on_the_sweep():
    rng = np.random.default_rng(1234)
    for c in SWEEP:
        x, w, _, geom = prepare(c["x"], c["w"], None, **c["params"])
        y = rng.standard_normal(geom.output_shape)
        forward = conv(
            y,
            w,
            stride=geom.stride,
            padding=geom.padding,
            dilation=geom.dilation,
            groups=geom.groups,
            output_size=geom.input_size,
        )
        left = float(np.vdot(forward, x))
        right = float(np.vdot(y, scatter_add(x, w, None, geom)))
        assert abs(left - right) <= 1e-12 * max(1.0, np.abs(forward).sum() * np.abs(x).max())


def test_an_unflipped_kernel_is_caught():
    # The agreement checks can fail: correlating with the unflipped kernel gives another answer.
    x, w, bias, geom = prepare(np.arange(6.0).reshape(1, 1, 6), np.array([[[1.0, 2.0, 4.0]]]), None, stride=2)
    unflipped = w[:, :, ::-1]
    assert not np.allclose(zero_insertion(x, unflipped, bias, geom), scatter_add(x, w, bias, geom))
    np.testing.assert_array_equal(zero_insertion(x, w, bias, geom), scatter_add(x, w, bias, geom))


# docs/conventions.md: the worked examples, value for value.
X = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
K = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [[0, 0, 1], [0, 4, 6], [4, 12, 9]]),
        ({"padding": 1}, [[4]]),
        ({"stride": 2}, [[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]),
    ],
    ids=["stride1", "padding1", "stride2"],
)
def test_textbook_values(params, expected):
    for formulation in (scatter_add, zero_insertion, matrix_form):
        out = compute(formulation, X, K, **params)
        np.testing.assert_array_equal(out[0, 0], np.array(expected, dtype=float))


@pytest.mark.parametrize(
    ("size", "kernel", "params", "expected"),
    [
        (5, 3, {"stride": 2}, 11),
        (4, 3, {"stride": 2, "output_padding": 1}, 10),
        (2, 3, {"stride": 1}, 4),
        (2, 3, {"stride": 2}, 5),
        (3, 3, {"stride": 2, "padding": 1}, 5),
    ],
)
def test_textbook_shapes(size, kernel, params, expected):
    x = np.ones((1, 1, size, size))
    w = np.ones((1, 1, kernel, kernel))
    assert output_shape(x.shape, w.shape, **params) == (1, 1, expected, expected)
    assert conv_transpose(x, w, **params).shape == (1, 1, expected, expected)


def test_forward_then_transposed_returns_to_the_input_size():
    # 16x16 through conv(k5, p2, s3) has 6x6 outputs; conv_transpose(k5, p2, s3) brings 6x6 back to 16x16.
    w = np.ones((1, 1, 5, 5))
    shape = dict(stride=(3, 3), padding=((2, 2), (2, 2)), dilation=(1, 1), groups=1)
    forward_size = (16 + 4 - 5) // 3 + 1
    y = conv(np.ones((1, 1, 16, 16)), w, **shape, output_size=(forward_size, forward_size))
    assert y.shape == (1, 1, 6, 6)
    assert conv_transpose(y, w, stride=3, padding=2).shape == (1, 1, 16, 16)


def test_output_padding_holds_computed_values_where_the_crop_removed_them():
    x = np.array([[[1.0, 2.0]]])
    w = np.array([[[1.0, 10.0, 100.0]]])
    # full (stride 2): [1, 10, 102, 20, 200]; crop (1, 1) -> [10, 102, 20]; output_padding 1 keeps 200.
    np.testing.assert_array_equal(conv_transpose(x, w, stride=2, padding=1, output_padding=1)[0, 0], [10, 102, 20, 200])
    # With nothing cropped at the end, the appended position is zero.
    np.testing.assert_array_equal(
        conv_transpose(x, w, stride=2, padding=((1, 0),), output_padding=1)[0, 0], [10, 102, 20, 200, 0]
    )


def test_groups_keep_channels_apart():
    x = np.zeros((1, 2, 3))
    x[0, 1] = [1.0, 2.0, 3.0]
    w = np.zeros((2, 1, 1))
    w[0, 0, 0], w[1, 0, 0] = 5.0, 7.0
    out = conv_transpose(x, w, np.array([0.5, -0.5]), groups=2)
    np.testing.assert_array_equal(out[0], [[0.5, 0.5, 0.5], [6.5, 13.5, 20.5]])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "bfloat16"])
def test_every_float_dtype_is_computed_in_float64(dtype):
    if dtype == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        np_dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        np_dtype = np.dtype(dtype)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np_dtype)
    w = rng.standard_normal((3, 2, 3, 2)).astype(np_dtype)
    out = conv_transpose(x, w, stride=2, padding=((1, 0), (0, 1)))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(
        out, conv_transpose(x.astype(np.float64), w.astype(np.float64), stride=2, padding=((1, 0), (0, 1)))
    )


def test_padding_forms_are_equivalent():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 3))
    as_int = conv_transpose(x, w, padding=1)
    np.testing.assert_array_equal(as_int, conv_transpose(x, w, padding=(1, 1)))
    np.testing.assert_array_equal(as_int, conv_transpose(x, w, padding=((1, 1), (1, 1))))
    np.testing.assert_array_equal(as_int, conv_transpose(x, w, padding=np.array([1, 1])))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), groups=2), "divisible by groups"),
        (dict(x=(1, 4, 4, 4), w=(3, 2, 3, 3)), "must equal the input channels"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3)), "kernel axes to match the input"),
        (dict(x=(1, 3), w=(3, 2)), "1, 2 or 3 spatial axes"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), stride=(1, 2, 3)), "stride needs one value per spatial axis"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), padding=((1, 1),)), "padding needs one value per spatial axis"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), padding=((1, 1, 1), (0, 0))), "(begin, end) pairs"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), padding=-1), "padding must be >= 0"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), padding=((0, -1), (0, 0))), "padding must be >= 0"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), stride=0), "stride must be >= 1"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), dilation=(1, 0)), "dilation must be >= 1"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), stride=2, output_padding=2), "output_padding must be smaller"),
        (
            dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), stride=2, dilation=3, output_padding=3),
            "output_padding must be smaller",
        ),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), output_padding=-1), "output_padding must be >= 0"),
        (dict(x=(1, 3, 2, 2), w=(3, 2, 1, 1), padding=1), "output length must be positive"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), groups=0), "groups must be an int >= 1"),
        (dict(x=(1, 3, 0, 4), w=(3, 2, 3, 3)), "input spatial sizes must be >= 1"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 0, 3)), "kernel sizes must be >= 1"),
        (dict(x=(1, 3, 4, 4), w=(3, 2, 3, 3), stride=1.5), "stride must be an int"),
    ],
)
def test_bad_arguments_name_the_argument_and_rule(kwargs, message):
    kwargs = dict(kwargs)
    x_shape, w_shape = kwargs.pop("x"), kwargs.pop("w")
    with pytest.raises(ValueError, match=re.escape(message)):
        output_shape(x_shape, w_shape, **kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        conv_transpose(np.zeros(x_shape), np.zeros(w_shape), **kwargs)


def test_output_padding_below_dilation_is_accepted_even_at_stride_one():
    # PyTorch's rule (output_padding < stride or < dilation) is the reference's rule.
    out = conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), stride=1, dilation=2, output_padding=1)
    np.testing.assert_array_equal(out[0, 0], [1, 1, 2, 1, 1, 0])


def test_bad_bias_and_dtype():
    x, w = np.zeros((1, 2, 3)), np.zeros((2, 3, 2))
    with pytest.raises(ValueError, match=r"bias must have shape \(C_out,\) = \(3,\)"):
        conv_transpose(x, w, np.zeros(2))
    with pytest.raises(ValueError, match="x must have a real floating dtype"):
        conv_transpose(x.astype(np.complex128), w)
    with pytest.raises(ValueError, match="w must have a real floating dtype"):
        conv_transpose(x, w.astype(np.int64))
