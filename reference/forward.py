"""Forward convolution (cross-correlation), the operator whose adjoint is the transposed convolution.

Used to build the matrix form and to check the adjoint identity; it gathers where the transposed
convolution scatters, so it shares no code path with ``formulations.scatter_add``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def conv(
    x: np.ndarray,
    w: np.ndarray,
    *,
    stride: Sequence[int],
    padding: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    groups: int,
    output_size: Sequence[int],
) -> np.ndarray:
    """``y[n, i, p] = sum_{o in group(i), t} w[i, o, t] * x_padded[n, o, p*stride + t*dilation]``.

    ``x`` is ``(N, C_out, *L)`` (the transposed convolution's output space), ``w`` the canonical
    transposed weight ``(C_in, C_out // groups, *kernel)``, and the result ``(N, C_in, *output_size)``.
    ``x`` is zero-padded by ``begin`` in front and as far as needed at the end: ``output_size`` is
    given rather than derived, because an output_padding of at least the stride leaves the forward
    length formula longer than the transposed convolution's input.
    """
    batch = x.shape[0]
    in_channels, out_per_group = w.shape[:2]
    kernel = w.shape[2:]
    in_per_group = in_channels // groups

    needed = [(m - 1) * s + d * (k - 1) + 1 for m, s, d, k in zip(output_size, stride, dilation, kernel)]
    pads = [(begin, max(0, need - begin - length)) for (begin, _), need, length in zip(padding, needed, x.shape[2:])]
    padded = np.pad(x, [(0, 0), (0, 0), *pads])

    x_groups = padded.reshape(batch, groups, out_per_group, *padded.shape[2:])
    w_groups = w.reshape(groups, in_per_group, out_per_group, *kernel)
    y = np.zeros((batch, groups, in_per_group, *output_size))
    for tap in itertools.product(*(range(k) for k in kernel)):
        window = tuple(
            slice(t * d, t * d + (m - 1) * s + 1, s) for t, d, m, s in zip(tap, dilation, output_size, stride)
        )
        gathered = x_groups[(slice(None), slice(None), slice(None), *window)]
        tap_weight = w_groups[(slice(None), slice(None), slice(None), *tap)]
        y += np.einsum("ngo...,gio->ngi...", gathered, tap_weight)
    return y.reshape(batch, in_channels, *output_size)


def adjoint(y: np.ndarray, w: np.ndarray, geom) -> np.ndarray:
    """``conv`` with a transposed convolution's ``Geometry``: its adjoint, from its output space back to
    its input's (the input gradient, and the rows of the matrix form's transposed matrix)."""
    return conv(
        y,
        w,
        stride=geom.stride,
        padding=geom.padding,
        dilation=geom.dilation,
        groups=geom.groups,
        output_size=geom.input_size,
    )
