"""The public entry points: ``conv_transpose``, its backward pass ``conv_transpose_vjp``, and ``output_shape``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reference import backward
from reference.formulations import scatter_add
from reference.geometry import Geometry, IntOrInts, Padding, geometry, output_shape

__all__ = ["conv_transpose", "conv_transpose_vjp", "output_shape", "prepare", "compute"]

Formulation = Callable[[np.ndarray, np.ndarray, "np.ndarray | None", Geometry], np.ndarray]


def _as_float64(name: str, array) -> np.ndarray:
    """Any real floating array (float16/32/64, ml_dtypes' bfloat16 and friends) as exact float64."""
    array = np.asarray(array)
    is_ml_dtypes_float = type(array.dtype).__module__.startswith("ml_dtypes") or (
        array.dtype.type.__module__.startswith("ml_dtypes")
    )
    if array.dtype.kind != "f" and not is_ml_dtypes_float:
        raise ValueError(f"{name} must have a real floating dtype, got {array.dtype}")
    return array.astype(np.float64, copy=False)


def prepare(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Validate the arguments; return float64 ``x``, ``w``, ``bias`` and their ``Geometry``."""
    x64 = _as_float64("x", x)
    w64 = _as_float64("w", w)
    geom = geometry(
        x64.shape,
        w64.shape,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )
    bias64 = None
    if bias is not None:
        bias64 = _as_float64("bias", bias)
        if bias64.shape != (geom.out_channels,):
            raise ValueError(f"bias must have shape (C_out,) = ({geom.out_channels},), got {bias64.shape}")
    return x64, w64, bias64, geom


def compute(formulation: Formulation, x, w, bias=None, **params) -> np.ndarray:
    """Run one formulation on validated float64 arguments."""
    x64, w64, bias64, geom = prepare(x, w, bias, **params)
    return formulation(x64, w64, bias64, geom)


def conv_transpose(
    x,
    w,
    bias=None,
    *,
    stride: IntOrInts = 1,
    padding: Padding = 0,
    output_padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> np.ndarray:
    """Transposed convolution in float64, the suite's oracle.

    ``x``: ``(N, C_in, *spatial)`` with 1-3 spatial axes; ``w``: ``(C_in, C_out // groups, *kernel)``;
    ``bias``: ``(C_out,)`` or None. ``stride``, ``output_padding``, ``dilation``: an int or one int per
    axis. ``padding``: an int, one int per axis (both symmetric), or one ``(begin, end)`` pair per axis,
    cropped from the full output. Inputs of any real float dtype are computed in float64.
    """
    return compute(
        scatter_add,
        x,
        w,
        bias,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )


def conv_transpose_vjp(
    x,
    w,
    bias,
    dy,
    *,
    stride: IntOrInts = 1,
    padding: Padding = 0,
    output_padding: IntOrInts = 0,
    dilation: IntOrInts = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The backward pass of ``conv_transpose`` in float64: ``(dx, dw, db)`` for the upstream gradient ``dy``.

    Arguments as for ``conv_transpose``; ``dy`` must have exactly the output's shape. ``dx``, ``dw`` and
    ``db`` are shaped like ``x``, ``w`` and ``bias``; ``db`` is None when ``bias`` is None.
    """
    x64, w64, bias64, geom = prepare(
        x,
        w,
        bias,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
    )
    dy64 = _as_float64("dy", dy)
    if dy64.shape != geom.output_shape:
        raise ValueError(f"dy must have the output's shape {geom.output_shape}, got {dy64.shape}")
    return backward.vjp(x64, w64, bias64, dy64, geom)
