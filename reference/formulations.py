"""Independent formulations of the canonical transposed convolution.

Each takes float64 arrays already checked against a ``Geometry`` (see ``reference.api.prepare``)
and returns the float64 output. They share no computation, so agreement between them is evidence.
"""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.forward import adjoint
from reference.geometry import Geometry


def _add_bias(out: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * geom.rank)
    return out


# Batch items are processed a few at a time so that their contributions stay in cache while scattered,
# and so that the work buffers below stay this small whatever the batch.
_CHUNK_BYTES = 16 * 2**20
# A work buffer larger than this (one huge batch item) is allocated for the call and not kept.
_KEEP_BUFFER_BYTES = 32 * 2**20


class _WorkBuffers(threading.local):
    """Scratch arrays that ``scatter_add`` reuses from call to call, one per role, private to each thread.

    Why: glibc hands large freed arrays back to the kernel, so fresh temporaries on every call are faulted
    in again page by page; on the medium benchmark case that system time was as large as the arithmetic,
    and the speed depended on the allocator's settings. Buffers only grow, up to ``_KEEP_BUFFER_BYTES``.
    Thread-local, so that concurrent callers never share one; nothing returned to a caller is a view of one.
    """

    def __init__(self):
        self.by_role: dict[str, np.ndarray] = {}

    def get(self, role: str, shape: tuple[int, ...]) -> np.ndarray:
        """A float64 array of ``shape`` with arbitrary contents, valid until the next ``get`` of ``role``."""
        size = math.prod(shape)
        buffer = self.by_role.get(role)
        if buffer is None or buffer.size < size:
            buffer = np.empty(size)
            if buffer.nbytes <= _KEEP_BUFFER_BYTES:
                self.by_role[role] = buffer
        return buffer[:size].reshape(shape)


_work_buffers = _WorkBuffers()


def _phase_copies(geom: Geometry, quotients: list[int]) -> list[tuple[int, tuple[slice, ...], tuple[slice, ...]]]:
    """Where each stride phase's plane lands in the output: (phase index, output window, plane window).

    Per axis, full position ``quotient * stride + residue`` is output position ``full - begin``, so the
    positions of residue r are every stride-th one from ``(r - begin) mod stride``, as long as the plane
    (``quotient`` long) lasts. Phases are numbered as in ``scatter_add``: the last axis's residue varies fastest.
    """
    per_axis = []
    for size, s, q, (begin, _) in zip(geom.output_size, geom.stride, quotients, geom.padding):
        windows = []
        for residue in range(s):
            first = (residue - begin) % s
            first_quotient = (first + begin) // s
            count = max(0, min(len(range(first, size, s)), q - first_quotient))
            windows.append((slice(first, first + count * s, s), slice(first_quotient, first_quotient + count)))
        per_axis.append(windows)
    return [
        (phase, tuple(out for out, _ in windows), tuple(plane for _, plane in windows))
        for phase, windows in enumerate(itertools.product(*per_axis))
    ]


def scatter_add(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, geom: Geometry) -> np.ndarray:
    """The definition: input pixel i, kernel tap t adds ``x[i] * w[t]`` at full position ``i*stride + t*dilation``.

    One matrix product gives every (pixel, tap) contribution; the only Python loop is over taps,
    each adding one block of the full output.

    Layout, for speed only: the full output is held phase-major, each axis split into ``stride``
    residues of ``q`` positions, so a tap's block is a dense box in one phase. The input is
    zero-padded on every axis but the first to the box's row pitch, so that the box, flattened,
    is one contiguous run: each tap is a single long vector add. Each phase is then copied, cropped,
    to its every-stride-th positions of the output.
    """
    rank, g = geom.rank, geom.groups
    out_per_group = geom.out_channels // g
    taps = math.prod(geom.kernel)
    quotients = [n + (d * (k - 1)) // s for n, k, d, s in zip(geom.input_size, geom.kernel, geom.dilation, geom.stride)]
    pitched_size = (geom.input_size[0], *quotients[1:])
    pixels = math.prod(pitched_size)
    # (G, C_out/G * K, C_in/G) @ (G, C_in/G, n * P) -> (G, C_out/G * K, n * P), n batch items side by side
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
    phase_count = math.prod(geom.stride)
    copies = _phase_copies(geom, quotients)

    # The only large fresh array: the result. Positions past the phases' reach (a large output_padding) get nothing.
    reach = [q * s for q, s in zip(quotients, geom.stride)]
    beyond_reach = any(begin + size > r for (begin, _), size, r in zip(geom.padding, geom.output_size, reach))
    out = np.zeros(geom.output_shape) if beyond_reach else np.empty(geom.output_shape)

    input_window = (slice(None), slice(None), *(slice(0, n) for n in geom.input_size))
    chunk = max(1, _CHUNK_BYTES // max(geom.out_channels * taps * pixels * 8, 1))
    for first in range(0, geom.batch, chunk):
        items = slice(first, first + chunk)
        count = len(range(geom.batch)[items])
        # Channel-major, so that one matrix product (per group) covers all the chunk's items: each product
        # hands work to the BLAS threads once, and on a busy machine that handover costs more than this copy.
        x_items = _work_buffers.get("input", (geom.in_channels, count, *pitched_size))
        x_items.fill(0)  # the pitch columns must be zero; the buffer holds a previous call's values
        x_items[input_window] = x[items].swapaxes(0, 1)
        contributions = _work_buffers.get("contributions", (g, out_per_group * taps, count * pixels))
        np.matmul(w_matrix, x_items.reshape(g, geom.in_channels // g, count * pixels), out=contributions)
        contributions = contributions.reshape(geom.out_channels, taps, count, pixels)

        phases = _work_buffers.get("phases", (count, geom.out_channels, phase_count, run_room))
        phases.fill(0)  # the taps accumulate
        for tap_index, (phase, start) in enumerate(runs):
            phases[:, :, phase, start : start + pixels] += contributions[:, tap_index].swapaxes(0, 1)

        planes = phases[..., :plane].reshape(count, geom.out_channels, phase_count, *quotients)
        for phase, out_window, plane_window in copies:
            out[(items, slice(None), *out_window)] = planes[(slice(None), slice(None), phase, *plane_window)]
    return _add_bias(out, bias, geom)


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
    c_transposed = adjoint(basis, w, geom).reshape(out_elements, -1)
    out = (x.reshape(geom.batch, -1) @ c_transposed.T).reshape(geom.output_shape)
    return _add_bias(out, bias, geom)
