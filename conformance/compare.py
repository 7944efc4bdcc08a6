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
from reference import conv_transpose, conv_transpose_vjp

UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}
SMALLEST_NORMAL = {"float64": 2.0**-1022, "float32": 2.0**-126, "float16": 2.0**-14, "bfloat16": 2.0**-126}
ERROR_MAP_BINS = {1: (16,), 2: (8, 8), 3: (4, 4, 4)}


@dataclass
class Comparison:
    outcome: str  # pass, shape_mismatch, value_mismatch or nonfinite
    metrics: dict = field(default_factory=dict)


def accumulation_length(case: Case) -> int:
    return case.in_channels // case.groups * math.prod(case.kernel) + int(case.bias)


def tolerance_summary(case: Case, widen: float) -> dict:
    """How a record's tolerance was derived: the rule, the accumulation length (per gradient, backward)
    and the register's widening."""
    if case.direction == "backward":
        return {
            "rule": "(gamma_L + u) * (the gradient of |x|, |w|, |bias| for |dy|) + smallest_normal",
            "accumulation_length": gradient_accumulation_lengths(case),
            "widen": widen,
        }
    return {
        "rule": "(gamma_L + u) * (|x| (*) |w| + |bias|) + smallest_normal",
        "accumulation_length": accumulation_length(case),
        "widen": widen,
    }


def _reference(case: Case, x, w, bias) -> np.ndarray:
    return conv_transpose(x, w, bias, **case.conv_params())


def bound(case: Case, magnitude: np.ndarray, length: int) -> np.ndarray:
    """The forward-error bound of a sum of ``length`` products of these magnitudes, in the case's dtype,
    plus the smallest normal: the tolerance of the output and of each gradient."""
    u = UNIT_ROUNDOFF[case.dtype]
    length_u = length * u
    gamma = length_u / (1.0 - length_u) if length_u < 1 else math.inf
    # Where L * u >= 1 the bound is void (infinite) wherever products are summed; exact zeros stay exact.
    with np.errstate(invalid="ignore"):
        return np.where(magnitude > 0, (gamma + u) * magnitude, 0.0) + SMALLEST_NORMAL[case.dtype]


def expected_and_tolerance(case: Case, x, w, bias, widen: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The reference output and the per-element tolerance (``widen`` scales it, for registered entries)."""
    expected = _reference(case, x, w, bias)
    magnitude = _reference(
        case,
        np.abs(x.astype(np.float64)),
        np.abs(w.astype(np.float64)),
        None if bias is None else np.abs(bias.astype(np.float64)),
    )
    return expected, widen * bound(case, magnitude, accumulation_length(case))


# The backward pass: the gradients of <dy, y> with respect to the input, the weight and the bias.
GRADIENTS = ("dx", "dw", "db")
# Which comparison outcome of one gradient speaks for the backward case: the worst, in this order.
SEVERITY = ("shape_mismatch", "nonfinite", "value_mismatch", "dtype_mismatch", "pass")


def gradient_accumulation_lengths(case: Case) -> dict[str, int]:
    """Products summed per element of each gradient: dx sums over output channels of its group and kernel
    taps, dw over the batch and input positions, db over the batch and output positions."""
    return {
        "dx": case.out_channels // case.groups * math.prod(case.kernel),
        "dw": case.batch * math.prod(case.input_size),
        "db": case.batch * math.prod(case.output_shape[2:]),
    }


def expected_gradients(case: Case, x, w, bias, dy) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each gradient's reference value and per-element tolerance, by the forward bound's rule with the
    gradient's own accumulation length; the bias gradient only where the case has a bias."""
    params = case.conv_params()
    values = conv_transpose_vjp(x, w, bias, dy, **params)
    absolute = [None if a is None else np.abs(np.asarray(a, np.float64)) for a in (x, w, bias, dy)]
    magnitudes = conv_transpose_vjp(*absolute, **params)
    lengths = gradient_accumulation_lengths(case)
    return {
        name: (value, bound(case, magnitude, lengths[name]))
        for name, value, magnitude in zip(GRADIENTS, values, magnitudes)
        if value is not None
    }


def compare_gradients(case: Case, expected: dict, actual: dict, promoted_to: tuple = ()) -> Comparison:
    """Each gradient compared on its own (shape, then values, then dtype); the case's outcome is the worst
    of them. The metrics hold every gradient's under ``gradients`` and which failed under ``failing``; the
    worst gradient's figures are repeated at the top level, named by ``gradient``, as a forward case's."""
    found = {}
    for name, (reference, tolerance) in expected.items():
        given = actual.get(name) or {}
        found[name] = compare(
            case,
            reference,
            tolerance,
            given.get("output"),
            output_shape=given.get("shape", ()),
            output_dtype=given.get("dtype"),
            promoted_to=promoted_to,
        )
    worst = min(
        found,
        key=lambda name: (SEVERITY.index(found[name].outcome), -found[name].metrics.get("max_error_over_tolerance", 0)),
    )
    metrics = {
        **found[worst].metrics,
        "gradient": worst,
        "failing": [name for name in GRADIENTS if name in found and found[name].outcome != "pass"],
        "gradients": {name: comparison.metrics for name, comparison in found.items()},
    }
    return Comparison(found[worst].outcome, metrics)


def error_map(bad: np.ndarray) -> list:
    """Fraction of bad elements in each of a few bins per spatial axis (batch and channels folded); for an
    array without spatial axes (the bias gradient), the fraction overall."""
    if bad.ndim < 3:
        return [round(float(bad.mean()), 3)] if bad.size else []
    spatial = bad.reshape(-1, *bad.shape[2:]).mean(axis=0) if bad.size else bad
    for axis, bins in enumerate(ERROR_MAP_BINS[spatial.ndim]):
        edges = np.linspace(0, spatial.shape[axis], min(bins, spatial.shape[axis]) + 1).astype(int)
        spatial = np.stack(
            [np.take(spatial, range(a, b), axis=axis).mean(axis=axis) for a, b in zip(edges[:-1], edges[1:])],
            axis=axis,
        )
    return np.round(spatial, 3).tolist()


def compare(
    case: Case,
    expected: np.ndarray | None,
    tolerance: np.ndarray | None,
    actual: np.ndarray | None,
    *,
    output_shape: tuple | None = None,
    output_dtype: str | None = None,
    promoted_to: tuple = (),
) -> Comparison:
    """Shape, then values, then dtype.

    ``actual`` is the framework's output (its dtype is the output's unless ``output_dtype`` says otherwise,
    as for an output the worker widened to float64), or None where no values were given (a shape-only
    adapter, a non-real output: ``output_shape`` and ``output_dtype`` say what came back, and ``expected``
    may be None too). The dtype must be the case's, or one a registered promotion names in
    ``promoted_to``; values are compared either way, and a wrong value outranks a wrong dtype.
    """
    shape = tuple(actual.shape) if actual is not None else tuple(output_shape)
    dtype = output_dtype or actual.dtype.name
    expected_shape = tuple(expected.shape) if expected is not None else case.output_shape
    metrics: dict = {"output_dtype": dtype, "expected_dtype": case.dtype, "expected_shape": list(expected_shape)}
    if shape != expected_shape:
        metrics["actual_shape"] = list(shape)
        return Comparison("shape_mismatch", metrics)
    if actual is None or expected is None:
        values = "not compared"
    else:
        values = _compare_values(case, expected, tolerance, actual.astype(np.float64), metrics)
    if values in ("nonfinite", "value_mismatch"):
        return Comparison(values, metrics)
    if dtype != case.dtype and dtype not in promoted_to:
        metrics["values"] = values
        return Comparison("dtype_mismatch", metrics)
    if values == "not compared":
        metrics["values"] = values
    return Comparison("pass", metrics)


def _compare_values(case: Case, expected: np.ndarray, tolerance: np.ndarray, actual64: np.ndarray, metrics) -> str:
    nonfinite = ~np.isfinite(actual64)
    if nonfinite.any():
        metrics.update(nonfinite_count=int(nonfinite.sum()), error_map=error_map(nonfinite))
        return "nonfinite"
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
        return "pass"
    metrics.update(
        worst_index=[int(i) for i in worst],
        worst_expected=float(expected[worst]),
        worst_actual=float(actual64[worst]),
        worst_tolerance=float(tolerance[worst]),
        error_map=error_map(bad),
    )
    return "value_mismatch"


def judge_must_reject(case: Case, x, w, bias, attempt) -> Comparison:
    """A must-reject case: a refusal is the pass (its message and stage recorded); an output is
    ``accepted_invalid``, recorded with its shape, dtype and the reading that explains its values."""
    if attempt.status == "rejected":
        return Comparison("pass", {"message": attempt.message, "stage": attempt.stage or "unknown"})
    if attempt.status != "ok":
        return Comparison(attempt.status, {"message": attempt.message})
    metrics = {
        "violates": case.violates,
        "actual_shape": list(attempt.output_shape or ()),
        "output_dtype": attempt.output_dtype,
        "literal_shape": list(case.output_shape),
    }
    metrics.update(reading(case, x, w, bias, attempt.output))
    return Comparison("accepted_invalid", metrics)


def reading(case: Case, x, w, bias, actual: np.ndarray | None) -> dict:
    """Which reading of a must-reject case's arguments explains the values a framework returned.

    The output is searched as a window of the full output of a valid case (pads clamped at 0, no
    output_padding, the weight cut to the input's channels); the window is then named: ``literal`` (the
    invalid arithmetic taken as written: negative pads add zeros, an output_padding past its bound appends
    them), ``pads clamped to 0``, or what other window it is (``zeros prepended``, ``zeros appended``);
    ``an empty output`` where there is no element; None where no window reproduces the values.
    """
    if actual is None:
        return {"reading": None, "observed_window": None}
    if actual.size == 0:
        return {"reading": "an empty output", "observed_window": None}
    try:
        base = replace(
            case,
            padding=[(max(b, 0), max(e, 0)) for b, e in case.padding],
            output_padding=0,
            mode="explicit",
            violates="",
        )
        window = observed_crop(base, x, w[: case.in_channels], bias, actual)
    except ValueError:  # no valid case stands near (a zero-size input, groups that do not divide)
        window = None
    if window is None:
        return {"reading": None, "observed_window": None}
    length = list(actual.shape[2:])
    clamped_length = [f - b - e for f, (b, e) in zip(base.geometry.full_size, base.padding)]
    if case.violates == "weight_channels":
        name = "the weight's extra input channels ignored"
    elif window["begin"] == [b for b, _ in case.padding] and length == list(case.output_shape[2:]):
        name = "literal"
    elif window["begin"] == [b for b, _ in base.padding] and length == clamped_length:
        name = "pads clamped to 0"
    else:
        parts = ["zeros prepended"] * any(b < 0 for b in window["begin"])
        parts += ["zeros appended"] * any(window["appended"])
        name = " and ".join(parts) or "another window of the full output"
    return {"reading": name, "observed_window": window}


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
