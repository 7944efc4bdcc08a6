"""Comparison: the derived tolerance, the outcomes and the error figures."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.case import Case, make_inputs
from conformance.compare import accumulation_length, compare, error_map, expected_and_tolerance

CASE = Case(input_size=(6, 6), kernel=3, in_channels=4, out_channels=2, stride=2, bias=True, dtype="float32")
F32 = "float32"  # the dtype the framework returned; the worker sends its values widened to float64


def _setup(case=CASE):
    x, w, bias = make_inputs(case)
    expected, tolerance = expected_and_tolerance(case, x, w, bias)
    return expected, tolerance


def test_the_reference_rounded_to_the_dtype_passes():
    expected, tolerance = _setup()
    result = compare(CASE, expected, tolerance, expected.astype(np.float32))
    assert result.outcome == "pass"
    assert 0 < result.metrics["max_abs_error"] < 1e-6
    assert result.metrics["max_error_over_tolerance"] < 1


def test_tolerance_follows_the_dtype_and_the_accumulation_length():
    assert accumulation_length(CASE) == 4 * 9 + 1
    x, w, bias = make_inputs(CASE)
    _, tolerance32 = expected_and_tolerance(CASE, x, w, bias)
    _, tolerance16 = expected_and_tolerance(Case.from_id(CASE.id.replace("f32", "f16")), x, w, bias)
    length = accumulation_length(CASE)
    gamma16, gamma32 = (length * u / (1 - length * u) + u for u in (2.0**-11, 2.0**-24))
    bound16, bound32 = tolerance16 - 2.0**-14, tolerance32 - 2.0**-126  # less the underflow floor
    np.testing.assert_allclose(bound16 / bound32, gamma16 / gamma32, rtol=1e-6)
    longer = Case(input_size=(6, 6), kernel=5, in_channels=4, out_channels=2, stride=2, bias=True, dtype="float32")
    assert accumulation_length(longer) == 4 * 25 + 1


def test_a_planted_error_is_a_value_mismatch_with_its_place():
    expected, tolerance = _setup()
    actual = expected.copy()
    actual[0, 1, -1, :] += 1e-3  # the last row of one channel
    result = compare(CASE, expected, tolerance, actual)
    assert result.outcome == "value_mismatch"
    metrics = result.metrics
    assert metrics["bad_count"] == expected.shape[-1]
    assert metrics["bad_fraction"] == pytest.approx(expected.shape[-1] / expected.size)
    assert metrics["max_abs_error"] == pytest.approx(1e-3, rel=1e-6)
    assert metrics["worst_index"][:3] == [0, 1, expected.shape[2] - 1]
    assert metrics["worst_actual"] - metrics["worst_expected"] == pytest.approx(1e-3, rel=1e-6)
    grid = np.array(metrics["error_map"])
    assert grid.shape == (8, 8)
    assert grid[-1].min() > 0 and grid[:-1].max() == 0  # "the last row", at a glance


def test_an_error_just_inside_the_tolerance_passes_and_just_outside_fails():
    expected, tolerance = _setup()
    inside = expected + 0.5 * tolerance
    outside = expected.copy()
    outside[0, 0, 0, 0] += 2 * tolerance[0, 0, 0, 0]
    assert compare(CASE, expected, tolerance, inside, output_dtype=F32).outcome == "pass"
    assert compare(CASE, expected, tolerance, outside, output_dtype=F32).outcome == "value_mismatch"


def test_shape_and_nonfinite_outcomes():
    expected, tolerance = _setup()
    short = compare(CASE, expected, tolerance, expected[..., :-1], output_dtype=F32)
    assert short.outcome == "shape_mismatch"
    assert short.metrics["expected_shape"] == [1, 2, 13, 13] and short.metrics["actual_shape"] == [1, 2, 13, 12]
    broken = expected.copy()
    broken[0, 0, 3, 3] = np.inf
    result = compare(CASE, expected, tolerance, broken, output_dtype=F32)
    assert result.outcome == "nonfinite" and result.metrics["nonfinite_count"] == 1


def test_error_map_bins_every_rank():
    assert np.array(error_map(np.ones((1, 1, 40), bool))).shape == (16,)
    assert np.array(error_map(np.zeros((2, 3, 5, 9), bool))).shape == (5, 8)
    assert np.array(error_map(np.ones((1, 1, 2, 9, 9), bool))).shape == (2, 4, 4)


def test_bfloat16_long_sums_have_no_finite_bound_but_exact_zeros_stay_exact():
    case = Case(input_size=(3, 3, 3), kernel=5, in_channels=3, out_channels=2, dilation=2, stride=3, dtype="bfloat16")
    expected, tolerance = _setup(case)
    assert accumulation_length(case) * 2.0**-8 >= 1
    assert np.isinf(tolerance[expected != 0]).all()
    assert np.isfinite(tolerance[expected == 0]).all() and (expected == 0).any()


@pytest.mark.parametrize(
    ("returned", "promoted_to", "outcome", "values"),
    [
        ("float32", (), "pass", None),
        ("float64", (), "dtype_mismatch", "pass"),
        ("float64", ("float64",), "pass", None),  # a registered promotion
        ("complex64", (), "dtype_mismatch", "not compared"),  # no values: never cast
    ],
)
def test_the_output_dtype_must_be_the_cases_or_a_registered_promotion(returned, promoted_to, outcome, values):
    expected, tolerance = _setup()
    actual = None if returned.startswith("complex") else expected
    result = compare(
        CASE, expected, tolerance, actual, output_shape=expected.shape, output_dtype=returned, promoted_to=promoted_to
    )
    assert result.outcome == outcome and result.metrics["output_dtype"] == returned
    assert result.metrics.get("values") == values


def test_a_wrong_value_outranks_a_wrong_dtype():
    expected, tolerance = _setup()
    wrong = expected.copy()
    wrong[0, 0, 0, 0] += 1.0
    assert compare(CASE, expected, tolerance, wrong, output_dtype="float64").outcome == "value_mismatch"
