"""Argument rules and output-length arithmetic of the canonical transposed convolution.

Per spatial axis, with the effective (dilated) kernel ``ke = dilation * (kernel - 1) + 1``::

    full = (n - 1) * stride + ke
    out  = full - begin - end + output_padding

``begin``/``end`` are forward-convolution paddings: positions cropped from each end of the full
output. ``output_padding`` positions are appended after the crop.

The output_padding rule is the most permissive one any framework documents, PyTorch's:
``output_padding < max(stride, dilation)`` per axis. Keras requires ``output_padding < stride``;
the ONNX spec's wording ("less than stride/dilation") is ambiguous. Accepting the union lets the
suite judge every framework's accepted cases instead of refusing some of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

IntOrInts = int | Sequence[int]
Padding = int | Sequence[int] | Sequence[Sequence[int]]

SPATIAL_RANKS = (1, 2, 3)


@dataclass(frozen=True)
class Geometry:
    """Validated per-axis parameters of one transposed convolution."""

    rank: int
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    input_size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]

    # Derived sizes are computed once per Geometry: the suite asks for them several times per case.
    @cached_property
    def effective_kernel(self) -> tuple[int, ...]:
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

    @cached_property
    def full_size(self) -> tuple[int, ...]:
        """Spatial size of the transposed output before cropping and output_padding."""
        return tuple((n - 1) * s + ke for n, s, ke in zip(self.input_size, self.stride, self.effective_kernel))

    @cached_property
    def output_size(self) -> tuple[int, ...]:
        return tuple(
            full - begin - end + op for full, (begin, end), op in zip(self.full_size, self.padding, self.output_padding)
        )

    @cached_property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.out_channels, *self.output_size)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def per_axis(name: str, value: IntOrInts, rank: int) -> tuple[int, ...]:
    """An int, or one int per spatial axis, as a tuple of ``rank`` ints."""
    if _is_int(value):
        return (int(value),) * rank
    try:
        values = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a sequence of {rank} ints, got {value!r}") from None
    if len(values) != rank:
        raise ValueError(f"{name} needs one value per spatial axis ({rank}), got {len(values)}: {value!r}")
    if not all(_is_int(v) for v in values):
        raise ValueError(f"{name} must contain ints only, got {value!r}")
    return tuple(int(v) for v in values)


def padding_pairs(value: Padding, rank: int) -> tuple[tuple[int, int], ...]:
    """An int (symmetric), one int per axis (symmetric), or one (begin, end) pair per axis."""
    if _is_int(value):
        return ((int(value), int(value)),) * rank
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"padding must be an int, {rank} ints or {rank} (begin, end) pairs, got {value!r}") from None
    if len(items) != rank:
        raise ValueError(f"padding needs one value per spatial axis ({rank}), got {len(items)}: {value!r}")
    pairs = []
    for item in items:
        if _is_int(item):
            pairs.append((int(item), int(item)))
            continue
        try:
            pair = tuple(item)
        except TypeError:
            raise ValueError(f"padding entries must be ints or (begin, end) pairs, got {item!r}") from None
        if len(pair) != 2 or not all(_is_int(v) for v in pair):
            raise ValueError(f"padding entries must be ints or (begin, end) pairs of ints, got {item!r}")
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


def geometry(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    *,
    stride: IntOrInts = 1,
    padding: Padding = 0,
    output_padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> Geometry:
    """Validate a transposed convolution's arguments; raise ValueError naming the argument and rule."""
    input_shape = tuple(int(v) for v in input_shape)
    weight_shape = tuple(int(v) for v in weight_shape)
    rank = len(input_shape) - 2
    if rank not in SPATIAL_RANKS:
        raise ValueError(f"input must be (N, C_in, *spatial) with 1, 2 or 3 spatial axes, got shape {input_shape}")
    if len(weight_shape) != rank + 2:
        raise ValueError(
            f"weight must be (C_in, C_out // groups, *kernel) with {rank} kernel axes to match the input, "
            f"got shape {weight_shape}"
        )
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"groups must be an int >= 1, got {groups!r}")
    batch, in_channels, *input_size = input_shape
    weight_in, out_per_group, *kernel = weight_shape
    if batch < 0:
        raise ValueError(f"input batch size must be >= 0, got {batch}")
    if in_channels < 1:
        raise ValueError(f"input channels (C_in) must be >= 1, got {in_channels}")
    if any(n < 1 for n in input_size):
        raise ValueError(f"input spatial sizes must be >= 1, got {tuple(input_size)}")
    if weight_in != in_channels:
        raise ValueError(f"weight's first axis ({weight_in}) must equal the input channels C_in ({in_channels})")
    if in_channels % groups:
        raise ValueError(f"input channels C_in ({in_channels}) must be divisible by groups ({groups})")
    if out_per_group < 1:
        raise ValueError(f"weight's second axis (C_out // groups) must be >= 1, got {out_per_group}")
    if any(k < 1 for k in kernel):
        raise ValueError(f"kernel sizes must be >= 1, got {tuple(kernel)}")

    stride = per_axis("stride", stride, rank)
    dilation = per_axis("dilation", dilation, rank)
    output_padding = per_axis("output_padding", output_padding, rank)
    pads = padding_pairs(padding, rank)
    if any(s < 1 for s in stride):
        raise ValueError(f"stride must be >= 1 on every axis, got {stride}")
    if any(d < 1 for d in dilation):
        raise ValueError(f"dilation must be >= 1 on every axis, got {dilation}")
    if any(p < 0 for pair in pads for p in pair):
        raise ValueError(f"padding must be >= 0 (it crops the full output), got {pads}")
    if any(op < 0 for op in output_padding):
        raise ValueError(f"output_padding must be >= 0, got {output_padding}")
    for axis, (op, s, d) in enumerate(zip(output_padding, stride, dilation)):
        if op >= max(s, d):
            raise ValueError(
                f"output_padding must be smaller than stride or dilation on each axis; "
                f"axis {axis} has output_padding {op}, stride {s}, dilation {d}"
            )

    result = Geometry(
        rank=rank,
        batch=batch,
        in_channels=in_channels,
        out_channels=out_per_group * groups,
        groups=int(groups),
        input_size=tuple(input_size),
        kernel=tuple(kernel),
        stride=stride,
        padding=pads,
        output_padding=output_padding,
        dilation=dilation,
    )
    if any(length < 1 for length in result.output_size):
        raise ValueError(
            f"output length must be positive, got {result.output_size}: padding {pads} crops more than the "
            f"full output {result.full_size} (+ output_padding {output_padding}) holds"
        )
    return result


def output_shape(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    *,
    stride: IntOrInts = 1,
    padding: Padding = 0,
    output_padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> tuple[int, ...]:
    """Shape ``(N, C_out, *spatial)`` of ``conv_transpose`` for these arguments, without computing it."""
    return geometry(
        input_shape,
        weight_shape,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    ).output_shape
