"""Independent formulations of the canonical transposed convolution.

Each takes float64 arrays already checked against a ``Geometry`` (see ``reference.api.prepare``)
and returns the float64 output. They share no computation, so agreement between them is evidence.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.forward import conv
from reference.geometry import Geometry


def _grouped(x: np.ndarray, w: np.ndarray, geom: Geometry):
    """Input as (N, G, C_in/G, P) and weight as (G, C_in/G, C_out/G, K), P and K flattened spatial sizes."""
    g = geom.groups
    x_groups = x.reshape(geom.batch, g, geom.in_channels // g, -1)
    w_groups = w.reshape(g, geom.in_channels // g, geom.out_channels // g, -1)
    return x_groups, w_groups


def _finish(full: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    """Crop the full output to the canonical output (appending zeros the full output lacks) and add bias."""
    shortfall = [
        max(0, begin + out - size) for (begin, _), out, size in zip(geom.padding, geom.output_size, full.shape[2:])
    ]
    if any(shortfall):
        full = np.pad(full, [(0, 0), (0, 0), *[(0, extra) for extra in shortfall]])
    window = tuple(slice(begin, begin + out) for (begin, _), out in zip(geom.padding, geom.output_size))
    return _add_bias(np.ascontiguousarray(full[(slice(None), slice(None), *window)]), bias, geom)


def _add_bias(out: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * geom.rank)
    return out


# Contributions are computed a few batch items at a time so that they stay in cache while scattered.
_CHUNK_BYTES = 16 * 2**20


def scatter_add(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    """The definition: input pixel i, kernel tap t adds ``x[i] * w[t]`` at full position ``i*stride + t*dilation``.

    One matrix product gives every (pixel, tap) contribution; the only Python loop is over taps,
    each adding one block of the full output.

    Layout, for speed only: the full output is held phase-major, each axis split into ``stride``
    residues of ``q`` positions, so a tap's block is a dense box in one phase. The input is
    zero-padded on every axis but the first to the box's row pitch, so that the box, flattened,
    is one contiguous run: each tap is a single long vector add.
    """
    rank, g = geom.rank, geom.groups
    out_per_group = geom.out_channels // g
    taps = math.prod(geom.kernel)
    quotients = [n + (d * (k - 1)) // s for n, k, d, s in zip(geom.input_size, geom.kernel, geom.dilation, geom.stride)]

    pitched = np.pad(x, [(0, 0), (0, 0), (0, 0), *[(0, q - n) for q, n in zip(quotients[1:], geom.input_size[1:])]])
    pixels = pitched[0, 0].size if geom.batch else 0
    x_groups = pitched.reshape(geom.batch, g, geom.in_channels // g, -1)
    # (G, C_out/G * K, C_in/G) @ (n, G, C_in/G, P) -> (n, G, C_out/G * K, P)
    w_groups = w.reshape(g, geom.in_channels // g, out_per_group * taps)
    w_matrix = np.ascontiguousarray(w_groups.transpose(0, 2, 1))

    plane_strides = [math.prod(quotients[axis + 1 :]) for axis in range(rank)]
    runs = []  # (phase index, flat start) per tap, in the weight's tap order
    for tap in itertools.product(*(range(k) for k in geom.kernel)):
        offsets = [t * d for t, d in zip(tap, geom.dilation)]
        phase = 0
        for o, s in zip(offsets, geom.stride):
            phase = phase * s + o % s
        runs.append((phase, sum(o // s * pitch for o, s, pitch in zip(offsets, geom.stride, plane_strides))))
    plane = math.prod(quotients)
    run_room = max(plane, max(start for _, start in runs) + pixels)
    phases = np.zeros((geom.batch, geom.out_channels, math.prod(geom.stride), run_room))

    chunk = max(1, _CHUNK_BYTES // max(geom.out_channels * taps * pixels * 8, 1))
    for first in range(0, geom.batch, chunk):
        items = slice(first, first + chunk)
        contributions = np.matmul(w_matrix, x_groups[items]).reshape(-1, geom.out_channels, taps, pixels)
        for tap_index, (phase, start) in enumerate(runs):
            phases[items, :, phase, start : start + pixels] += contributions[:, :, tap_index]

    # (N, C, s1.., q1..) -> (N, C, q1, s1, q2, s2, ..) -> (N, C, q1*s1, ..)
    phases = phases[..., :plane].reshape(geom.batch, geom.out_channels, *geom.stride, *quotients)
    interleave = [0, 1] + [axis for i in range(rank) for axis in (2 + rank + i, 2 + i)]
    full = phases.transpose(interleave).reshape(
        geom.batch, geom.out_channels, *(q * s for q, s in zip(quotients, geom.stride))
    )
    return _finish(full, bias, geom)


def zero_insertion(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    """The textbook construction: insert ``stride - 1`` zeros between input pixels, pad each axis by
    ``ke - 1 - begin`` before and ``ke - 1 - end + output_padding`` after (a negative pad crops), then
    correlate with the spatially flipped, channel-swapped, dilated kernel."""
    rank = geom.rank
    spread_size = tuple((n - 1) * s + 1 for n, s in zip(geom.input_size, geom.stride))
    spread = np.zeros((geom.batch, geom.in_channels, *spread_size))
    spread[(slice(None), slice(None), *(slice(None, None, s) for s in geom.stride))] = x

    before = [ke - 1 - begin for ke, (begin, _) in zip(geom.effective_kernel, geom.padding)]
    after = [ke - 1 - end + op for ke, (_, end), op in zip(geom.effective_kernel, geom.padding, geom.output_padding)]
    padded = np.pad(spread, [(0, 0), (0, 0), *[(max(b, 0), max(a, 0)) for b, a in zip(before, after)]])
    crop = tuple(slice(max(-b, 0), size - max(-a, 0)) for b, a, size in zip(before, after, padded.shape[2:]))
    padded = padded[(slice(None), slice(None), *crop)]

    windows = sliding_window_view(padded, geom.effective_kernel, axis=tuple(range(2, 2 + rank)))
    windows = windows[(Ellipsis, *(slice(None, None, d) for d in geom.dilation))]
    # windows: (N, C_in, *out, *kernel); the flipped kernel maps C_in -> C_out per group.
    flipped = w[(slice(None), slice(None), *(slice(None, None, -1),) * rank)]
    g = geom.groups
    cin_g = geom.in_channels // g
    spatial = "abc"[:rank]
    taps = "xyz"[:rank]
    outputs = []
    for group in range(g):
        channels = slice(group * cin_g, (group + 1) * cin_g)
        outputs.append(
            np.einsum(
                f"ni{spatial}{taps},io{taps}->no{spatial}",
                windows[:, channels],
                flipped[channels],
                optimize=True,
            )
        )
    return _add_bias(np.concatenate(outputs, axis=1), bias, geom)


def matrix_form(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    """``out = C^T y``: C is the forward convolution's matrix, built column by column by applying the
    forward convolution to every unit vector of the transposed output space. Small cases only."""
    out_elements = geom.out_channels * int(np.prod(geom.output_size))
    basis = np.eye(out_elements).reshape(out_elements, geom.out_channels, *geom.output_size)
    # Row j of C^T is conv(e_j), flattened: (out_elements, C_in * prod(input_size)).
    c_transposed = conv(
        basis,
        w,
        stride=geom.stride,
        padding=geom.padding,
        dilation=geom.dilation,
        groups=geom.groups,
        output_size=geom.input_size,
    ).reshape(out_elements, -1)
    out = (x.reshape(geom.batch, -1) @ c_transposed.T).reshape(geom.output_shape)
    return _add_bias(out, bias, geom)
