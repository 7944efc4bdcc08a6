"""The reference's backward pass against checks that share no code with it.

Every check computes only with the forward ``conv_transpose`` (the scatter-add definition), never with
``reference.backward`` or ``reference.forward.conv``: the adjoint identity, the explicit Jacobian built
column by column, central finite differences, and a gradient worked by hand.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from reference import conv_transpose, conv_transpose_vjp, output_shape
from tests.test_reference import assert_covers_every_feature, assert_relatively_close, random_configuration

SWEEP_SIZE = 600
# Seeds apart from the forward sweep's, so that the two modules see different configurations.
SWEEP_SEED_OFFSET = 100_000
# The adjoint identity's two sides sum the same products in different orders: their difference is
# bounded by a few hundred ulps of the products' absolute sum.
ADJOINT_TOLERANCE = 1e-10
JACOBIAN_MAX_ELEMENTS = 300
JACOBIAN_MAX_WEIGHTS = 100
FINITE_DIFFERENCE_CONFIGURATIONS = 40


def configuration_with_dy(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    c = random_configuration(rng)
    c["dy"] = rng.standard_normal(output_shape(c["x"].shape, c["w"].shape, **c["params"]))
    return c


SWEEP = [configuration_with_dy(SWEEP_SEED_OFFSET + seed) for seed in range(SWEEP_SIZE)]


def gradients(c: dict, vjp=conv_transpose_vjp) -> tuple:
    return vjp(c["x"], c["w"], c["bias"], c["dy"], **c["params"])


def broken_identities(c: dict, dx, dw, db, rng: np.random.Generator) -> set[str]:
    """The arguments whose gradient breaks ``<dy, J v> = <gradient, v>`` for a random direction ``v``.

    ``J v`` is the forward applied to ``v`` in the argument's place, the others zero: y is linear in each
    argument separately. The tolerance scales with ``<|dy|, |J| |v|>``, the absolute sum of the products
    that both sides add up.
    """
    x, w, dy, params = c["x"], c["w"], c["dy"], c["params"]
    no_x, no_w = np.zeros_like(x), np.zeros_like(w)
    directions = {"x": rng.standard_normal(x.shape), "w": rng.standard_normal(w.shape)}
    if c["bias"] is not None:
        directions["bias"] = rng.standard_normal(c["bias"].shape)
    linear_maps = {
        "x": lambda v: conv_transpose(v, w, **params),
        "w": lambda v: conv_transpose(x, v, **params),
        "bias": lambda v: conv_transpose(no_x, no_w, v, **params),
    }
    absolute_maps = {
        "x": lambda v: conv_transpose(np.abs(v), np.abs(w), **params),
        "w": lambda v: conv_transpose(np.abs(x), np.abs(v), **params),
        "bias": lambda v: conv_transpose(no_x, no_w, np.abs(v), **params),
    }
    claimed = {"x": dx, "w": dw, "bias": db}
    broken = set()
    for name, v in directions.items():
        left = float(np.vdot(dy, linear_maps[name](v)))
        right = float(np.vdot(claimed[name], v))
        magnitude = float(np.vdot(np.abs(dy), absolute_maps[name](v)))
        if not abs(left - right) <= ADJOINT_TOLERANCE * magnitude:
            broken.add(name)
    return broken


def test_backward_sweep_covers_every_feature():
    assert_covers_every_feature(SWEEP)


def test_adjoint_identity_on_the_sweep():
    for index, c in enumerate(SWEEP):
        dx, dw, db = gradients(c)
        assert dx.shape == c["x"].shape and dw.shape == c["w"].shape
        assert dx.dtype == dw.dtype == np.float64
        assert (db is None) == (c["bias"] is None)
        assert db is None or db.shape == c["bias"].shape
        assert broken_identities(c, dx, dw, db, np.random.default_rng(index)) == set()


def jacobian_columns(linear_map, shape: tuple[int, ...]) -> np.ndarray:
    """Row j: the linear map applied to the j-th unit vector of ``shape``, flattened."""
    size = int(np.prod(shape))
    return np.stack([linear_map(unit.reshape(shape)).ravel() for unit in np.eye(size)])


def assert_matches_the_explicit_jacobian(c: dict) -> None:
    x, w, bias, dy, params = c["x"], c["w"], c["bias"], c["dy"], c["params"]
    dx, dw, db = gradients(c)
    # Batch items share J_x: the unit vectors of one item's input, as a batch of their own.
    item_basis = np.eye(x[0].size).reshape(x[0].size, *x.shape[1:])
    j_x_rows = conv_transpose(item_basis, w, **params).reshape(x[0].size, -1)
    assert_relatively_close(dx, (dy.reshape(len(dy), -1) @ j_x_rows.T).reshape(x.shape))
    j_w_rows = jacobian_columns(lambda unit: conv_transpose(x, unit, **params), w.shape)
    assert_relatively_close(dw, (j_w_rows @ dy.ravel()).reshape(w.shape))
    if bias is not None:
        no_x, no_w = np.zeros_like(x), np.zeros_like(w)
        j_b_rows = jacobian_columns(lambda unit: conv_transpose(no_x, no_w, unit, **params), bias.shape)
        assert_relatively_close(db, j_b_rows @ dy.ravel())


def test_explicit_jacobian_on_small_cases():
    small = [
        c
        for c in SWEEP
        if max(c["x"][0].size, c["dy"][0].size) <= JACOBIAN_MAX_ELEMENTS and c["w"].size <= JACOBIAN_MAX_WEIGHTS
    ]
    assert len(small) >= 150
    for c in small:
        assert_matches_the_explicit_jacobian(c)


def loss(c: dict, **replaced) -> float:
    """``L = <dy, y>`` with some of ``x``, ``w``, ``bias`` replaced."""
    arguments = {"x": c["x"], "w": c["w"], "bias": c["bias"], **replaced}
    return float(np.vdot(c["dy"], conv_transpose(**arguments, **c["params"])))


def test_central_finite_differences():
    # L is affine in each argument separately, so the central difference is the exact partial
    # derivative whatever the step; a large step keeps rounding far below the 1e-8 tolerance.
    step = 0.5
    rng = np.random.default_rng(99)
    entries_checked = 0
    for c in SWEEP[:FINITE_DIFFERENCE_CONFIGURATIONS]:
        claimed = dict(zip(("x", "w", "bias"), gradients(c)))
        for name in ("x", "w", "bias"):
            value = c[name]
            if value is None:
                continue
            for flat_index in rng.choice(value.size, size=min(4, value.size), replace=False):
                index = np.unravel_index(flat_index, value.shape)
                plus, minus = value.copy(), value.copy()
                plus[index] += step
                minus[index] -= step
                quotient = (loss(c, **{name: plus}) - loss(c, **{name: minus})) / (2 * step)
                assert abs(quotient - claimed[name][index]) <= 1e-8 * max(1.0, abs(claimed[name][index]))
                entries_checked += 1
    assert entries_checked >= 300


def test_hand_worked_example():
    # x = [1, 2], w = [3, 5], stride 2: the full output is [1*3, 1*5, 2*3, 2*5] = [3, 5, 6, 10].
    # Padding (1, 0) crops the first position and output_padding 1 appends one beyond the full output,
    # which only the bias reaches: y = [5, 6, 10, 0] + bias = [x0 w1, x1 w0, x1 w1, 0] + bias.
    # With dy = [7, 11, 13, 17]:
    #   dx = [dy0 w1, dy1 w0 + dy2 w1]            = [7*5, 11*3 + 13*5]  = [35, 98]
    #   dw = [x1 dy1 (x0 w0 was cropped), x0 dy0 + x1 dy2] = [2*11, 1*7 + 2*13] = [22, 33]
    #   db = dy0 + dy1 + dy2 + dy3                = 48
    x, w, bias = np.array([[[1.0, 2.0]]]), np.array([[[3.0, 5.0]]]), np.array([0.5])
    dy = np.array([[[7.0, 11.0, 13.0, 17.0]]])
    params = dict(stride=2, padding=((1, 0),), output_padding=1)
    np.testing.assert_array_equal(conv_transpose(x, w, bias, **params)[0, 0], [5.5, 6.5, 10.5, 0.5])
    dx, dw, db = conv_transpose_vjp(x, w, bias, dy, **params)
    np.testing.assert_array_equal(dx, [[[35.0, 98.0]]])
    np.testing.assert_array_equal(dw, [[[22.0, 33.0]]])
    np.testing.assert_array_equal(db, [48.0])
    assert conv_transpose_vjp(x, w, None, dy, **params)[2] is None


# Planted bugs: each wrong backward pass differs from the right one in one gradient only.


def weight_gradient_read_back_to_front(x, w, bias, dy, **params):
    """dw with the kernel taps reversed: dy read at ``p*stride - t*dilation`` (shifted by ``ke - 1``)."""
    dx, dw, db = conv_transpose_vjp(x, w, bias, dy, **params)
    return dx, np.flip(dw, axis=tuple(range(2, dw.ndim))), db


def weight_gradient_ignoring_the_crop_begin(x, w, bias, dy, **params):
    """dw reading dy at ``p*stride + t*dilation``, forgetting that output position 0 is full position ``begin``."""
    # Cropping (0, begin + end) keeps the output's length and moves the crop to the end.
    moved_crop = dict(params, padding=[(0, begin + end) for begin, end in params["padding"]])
    dx, _, db = conv_transpose_vjp(x, w, bias, dy, **params)
    return dx, conv_transpose_vjp(x, w, bias, dy, **moved_crop)[1], db


def input_gradient_ignoring_groups(x, w, bias, dy, **params):
    """dx where every group reads the first group's output channels: the group offset forgotten."""
    out_per_group = w.shape[1]
    first_group_everywhere = np.concatenate([dy[:, :out_per_group]] * params["groups"], axis=1)
    _, dw, db = conv_transpose_vjp(x, w, bias, dy, **params)
    return conv_transpose_vjp(x, w, bias, first_group_everywhere, **params)[0], dw, db


def bias_gradient_of_the_first_item(x, w, bias, dy, **params):
    """db summed over the first batch item only."""
    dx, dw, db = conv_transpose_vjp(x, w, bias, dy, **params)
    return dx, dw, None if db is None else dy[0].reshape(dy.shape[1], -1).sum(axis=1)


@pytest.mark.parametrize(
    ("wrong_vjp", "argument", "at_least"),
    [
        (weight_gradient_read_back_to_front, "w", 400),
        (weight_gradient_ignoring_the_crop_begin, "w", 400),
        (input_gradient_ignoring_groups, "x", 200),
        (bias_gradient_of_the_first_item, "bias", 150),
    ],
)
def test_a_planted_bug_is_caught(wrong_vjp, argument, at_least):
    caught, changed = [], []
    for index, c in enumerate(SWEEP):
        right, wrong = gradients(c), gradients(c, wrong_vjp)
        if any(not (r is None or np.array_equal(r, v)) for r, v in zip(right, wrong)):
            changed.append(index)
        broken = broken_identities(c, *wrong, np.random.default_rng(index))
        assert broken <= {argument}
        if broken:
            caught.append(index)
    # The identity catches the bug wherever it changes a gradient at all, and that is often.
    assert caught == changed
    assert len(caught) >= at_least


def test_bad_dy():
    x, w = np.zeros((1, 2, 3)), np.zeros((2, 3, 2))  # output (1, 3, 4)
    with pytest.raises(ValueError, match=re.escape("dy must have the output's shape (1, 3, 4), got (1, 3, 5)")):
        conv_transpose_vjp(x, w, None, np.zeros((1, 3, 5)))
    with pytest.raises(ValueError, match=re.escape("dy must have the output's shape (1, 3, 4), got (3, 4)")):
        conv_transpose_vjp(x, w, None, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="dy must have a real floating dtype"):
        conv_transpose_vjp(x, w, None, np.zeros((1, 3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="dy must have a real floating dtype"):
        conv_transpose_vjp(x, w, None, np.zeros((1, 3, 4), dtype=np.complex128))
    # The other arguments are checked as conv_transpose checks them.
    with pytest.raises(ValueError, match=re.escape("bias must have shape (C_out,) = (3,)")):
        conv_transpose_vjp(x, w, np.zeros(2), np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        conv_transpose_vjp(x, w, None, np.zeros((1, 3, 5)), output_padding=1)


def test_any_float_dtype_is_computed_in_float64():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float16)
    dy = rng.standard_normal((2, 6, 10)).astype(np.float32)
    params = dict(stride=2, padding=((1, 0),), groups=2)
    for low, exact in zip(
        conv_transpose_vjp(x, w, np.zeros(6, np.float32), dy, **params),
        conv_transpose_vjp(x.astype(float), w.astype(float), np.zeros(6), dy.astype(float), **params),
    ):
        assert low.dtype == np.float64
        np.testing.assert_array_equal(low, exact)
