"""Comparison of a framework's output with the float64 reference, under a derived tolerance.

The tolerance is the standard forward-error bound of a dot product computed in the case's dtype
(Higham, Accuracy and Stability of Numerical Algorithms, section 3.1): a sum of ``L`` products in
precision ``u`` is off by at most ``gamma_L * sum |x_j w_j|`` with ``gamma_L = L u / (1 - L u)``; one
more rounding stores the output in the dtype. Per output element::

    tolerance = (gamma_L + u) * (|x| (*) |w| + |bias|) + smallest_normal

with ``(*)`` the transposed convolution, ``L = (C_in / groups) * prod(kernel) + bias`` the
accumulation length, ``u`` the dtype's unit roundoff. One rule serves a 1x1 and a 7x7x512 case, and an
element outside it is wrong for any summation order in that precision.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from conformance.case import Case
from reference import conv_transpose

UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}
SMALLEST_NORMAL = {"float64": 2.0**-1022, "float32": 2.0**-126, "float16": 2.0**-14, "bfloat16": 2.0**-126}
ERROR_MAP_BINS = {1: (16,), 2: (8, 8), 3: (4, 4, 4)}


@dataclass
class Comparison:
    outcome: str  # pass, shape_mismatch, value_mismatch or nonfinite
    metrics: dict = field(default_factory=dict)


def accumulation_length(case: Case) -> int:
    return case.in_channels // case.groups * math.prod(case.kernel) + int(case.bias)


def _reference(case: Case, x, w, bias) -> np.ndarray:
    return conv_transpose(x, w, bias, **case.conv_params())


def expected_and_tolerance(case: Case, x, w, bias, widen: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The reference output and the per-element tolerance (``widen`` scales it, for registered entries)."""
    expected = _reference(case, x, w, bias)
    magnitude = _reference(
        case,
        np.abs(x.astype(np.float64)),
        np.abs(w.astype(np.float64)),
        None if bias is None else np.abs(bias.astype(np.float64)),
    )
    u = UNIT_ROUNDOFF[case.dtype]
    length_u = accumulation_length(case) * u
    gamma = length_u / (1.0 - length_u) if length_u < 1 else math.inf
    # Where L * u >= 1 the bound is void (infinite) wherever products are summed; exact zeros stay exact.
    with np.errstate(invalid="ignore"):
        bound = np.where(magnitude > 0, (gamma + u) * magnitude, 0.0)
    tolerance = widen * (bound + SMALLEST_NORMAL[case.dtype])
    return expected, tolerance


def error_map(bad: np.ndarray) -> list:
    """Fraction of bad elements in each of a few bins per spatial axis (batch and channels folded)."""
    spatial = bad.reshape(-1, *bad.shape[2:]).mean(axis=0) if bad.size else bad
    for axis, bins in enumerate(ERROR_MAP_BINS[spatial.ndim]):
        edges = np.linspace(0, spatial.shape[axis], min(bins, spatial.shape[axis]) + 1).astype(int)
        spatial = np.stack(
            [np.take(spatial, range(a, b), axis=axis).mean(axis=axis) for a, b in zip(edges[:-1], edges[1:])],
            axis=axis,
        )
    return np.round(spatial, 3).tolist()


def compare(case: Case, expected: np.ndarray, tolerance: np.ndarray, actual: np.ndarray) -> Comparison:
    actual = np.asarray(actual)
    metrics: dict = {"output_dtype": actual.dtype.name, "expected_shape": list(expected.shape)}
    if actual.shape != expected.shape:
        metrics["actual_shape"] = list(actual.shape)
        return Comparison("shape_mismatch", metrics)
    actual64 = actual.astype(np.float64)
    nonfinite = ~np.isfinite(actual64)
    if nonfinite.any():
        metrics.update(nonfinite_count=int(nonfinite.sum()), error_map=error_map(nonfinite))
        return Comparison("nonfinite", metrics)
    error = np.abs(actual64 - expected)
    scale = np.maximum(np.abs(expected), SMALLEST_NORMAL[case.dtype])
    bad = error > tolerance
    worst = np.unravel_index(int(np.argmax(error / tolerance)), error.shape) if error.size else ()
    metrics.update(
        max_abs_error=float(error.max(initial=0.0)),
        max_rel_error=float((error / scale).max(initial=0.0)),
        max_error_over_tolerance=float((error / tolerance).max(initial=0.0)),
        bad_count=int(bad.sum()),
        bad_fraction=float(bad.mean()) if bad.size else 0.0,
    )
    if not bad.any():
        return Comparison("pass", metrics)
    metrics.update(
        worst_index=[int(i) for i in worst],
        worst_expected=float(expected[worst]),
        worst_actual=float(actual64[worst]),
        worst_tolerance=float(tolerance[worst]),
        error_map=error_map(bad),
    )
    return Comparison("value_mismatch", metrics)


# Searching more windows than this is not worth a mismatch's time (large 3-D outputs).
_MAX_WINDOWS = 4096


def observed_crop(case: Case, x, w, bias, actual: np.ndarray) -> dict | None:
    """Which window of the full transposed output the framework returned, when it is one.

    Frameworks that disagree on a padding rule still compute the full output correctly and cut a
    different window from it: this finds the per-axis begin (negative: positions prepended) and end
    crops that reproduce ``actual`` within the derived tolerance, or None when no window does (a
    wrong kernel, channel or bias, for instance). A window past the full output holds zeros plus bias.
    """
    actual = np.asarray(actual)
    if actual.ndim != case.rank + 2 or actual.shape[:2] != case.output_shape[:2]:
        return None
    lengths = actual.shape[2:]
    full_case = replace(case, padding=0, output_padding=0, mode="explicit")
    expected, tolerance = expected_and_tolerance(full_case, x, w, None)
    full = expected.shape[2:]
    pads = [(0, 0), (0, 0)] + [(length, length) for length in lengths]
    extended = np.pad(expected, pads)
    slack = np.pad(tolerance, pads, constant_values=tolerance.max(initial=0.0))
    if bias is not None:
        shape = (1, -1) + (1,) * case.rank
        extended = extended + np.asarray(bias, np.float64).reshape(shape)
        slack = slack + (UNIT_ROUNDOFF[case.dtype] * 4) * np.abs(np.asarray(bias, np.float64)).reshape(shape)
    begins = [range(-length, f + 1) for length, f in zip(lengths, full)]
    if math.prod(len(r) for r in begins) > _MAX_WINDOWS:
        return None
    documented = [b for b, _ in case.padding]
    actual64 = actual.astype(np.float64)
    for start in sorted(itertools.product(*begins), key=lambda s: sum(abs(a - b) for a, b in zip(s, documented))):
        window = (slice(None), slice(None)) + tuple(
            slice(b + length, b + 2 * length) for b, length in zip(start, lengths)
        )
        if np.all(np.abs(actual64 - extended[window]) <= slack[window]):
            ends = [f - b - length for f, b, length in zip(full, start, lengths)]
            return {
                "begin": list(start),
                "end": [max(e, 0) for e in ends],
                "appended": [max(-e, 0) for e in ends],
            }
    return None
