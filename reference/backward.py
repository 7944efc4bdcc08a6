"""The vector-Jacobian product (backward pass) of the transposed convolution.

For ``y = conv_transpose(x, w, bias)`` and an upstream gradient ``dy`` shaped like ``y``:

- ``dx``: the forward convolution of ``dy`` with ``w``, since that convolution is the transposed
  convolution's adjoint with respect to ``x``;
- ``dw[i, o, t] = sum_{n, p} x[n, i, p] * dy[n, group(i) * C_out/G + o, p*stride + t*dilation - begin]``,
  positions outside ``dy`` counting zero: input pixel ``p`` and tap ``t`` land at full position
  ``p*stride + t*dilation``, which is output position ``begin`` earlier;
- ``db``: ``dy`` summed over the batch and spatial axes.
"""

from __future__ import annotations

import itertools

import numpy as np

from reference.forward import adjoint
from reference.geometry import Geometry


def input_gradient(dy: np.ndarray, w: np.ndarray, geom: Geometry) -> np.ndarray:
    """``dx``, shaped like ``x``."""
    return adjoint(dy, w, geom)


def weight_gradient(x: np.ndarray, dy: np.ndarray, geom: Geometry) -> np.ndarray:
    """``dw``, shaped like ``w``: for each tap, the input against the ``dy`` window that tap wrote to."""
    g = geom.groups
    in_per_group = geom.in_channels // g
    out_per_group = geom.out_channels // g
    # Index full position j as dy_full[j]: dy shifted back by the crop's begin, with zeros wherever the
    # full output was cropped at the end or dy reaches past it (output_padding beyond the full output).
    pads = [
        (begin, max(0, full - begin - size))
        for (begin, _), full, size in zip(geom.padding, geom.full_size, dy.shape[2:])
    ]
    dy_full = np.pad(dy, [(0, 0), (0, 0), *pads])

    x_groups = x.reshape(geom.batch, g, in_per_group, *geom.input_size)
    spatial = "abc"[: geom.rank]
    dw = np.empty((g, in_per_group, out_per_group, *geom.kernel))
    for tap in itertools.product(*(range(k) for k in geom.kernel)):
        window = tuple(
            slice(t * d, t * d + (n - 1) * s + 1, s)
            for t, d, n, s in zip(tap, geom.dilation, geom.input_size, geom.stride)
        )
        written = dy_full[(slice(None), slice(None), *window)]
        written_groups = written.reshape(geom.batch, g, out_per_group, *geom.input_size)
        tap_gradient = np.einsum(f"ngi{spatial},ngo{spatial}->gio", x_groups, written_groups)
        dw[(slice(None), slice(None), slice(None), *tap)] = tap_gradient
    return dw.reshape(geom.in_channels, out_per_group, *geom.kernel)


def bias_gradient(dy: np.ndarray, geom: Geometry) -> np.ndarray:
    """``db``: every output position, the output_padding ones included, received the bias."""
    return dy.sum(axis=(0, *range(2, 2 + geom.rank)))


def vjp(
    x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, dy: np.ndarray, geom: Geometry
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(dx, dw, db)`` on float64 arguments already checked against ``geom``; ``db`` is None without a bias."""
    db = None if bias is None else bias_gradient(dy, geom)
    return input_gradient(dy, w, geom), weight_gradient(x, dy, geom), db
