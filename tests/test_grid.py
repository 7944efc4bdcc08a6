"""Profiles: sizes, determinism and coverage of every axis the issue names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conformance import models
from conformance.case import Case
from conformance.grid import EXPLICIT_TWIN_PROFILES, curated, mode_cases, must_reject_cases, profile
from conformance.invalid import RULES


def _explicit(name):
    """The profile's sampled and curated cases, without the mode grid (which has explicit zero pads too) and
    its explicit twins, the must-reject cases, the backward twins and the model layers (counted apart)."""
    grid = {case.id for case in mode_cases(name)} | {case.id for case in models.cases(name)}
    if name in EXPLICIT_TWIN_PROFILES:
        grid |= {replace(case, mode="explicit").id for case in mode_cases(name)}
    return [case for case in profile(name) if case.id not in grid and not case.violates and case.direction == "forward"]


def test_every_mode_case_has_its_explicit_twin_at_the_same_point():
    for name in EXPLICIT_TWIN_PROFILES:
        ids = {case.id for case in profile(name)}
        for case in mode_cases(name):
            twin = replace(case, mode="explicit")
            assert twin.id in ids and (twin.padding, twin.output_shape) == (case.padding, case.output_shape)


def test_profile_sizes():
    assert len(_explicit("smoke")) <= 100
    assert len(_explicit("default")) >= 1000
    assert len(_explicit("full")) >= 20000
    assert len(mode_cases("default")) >= 1000


def test_profiles_are_deterministic_and_start_with_the_curated_cases():
    first = [case.id for case in profile("default")]
    profile.cache_clear()
    assert [case.id for case in profile("default")] == first
    assert len(set(first)) == len(first)
    assert first[: len(curated())] == [case.id for case in curated()]


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile"):
        profile("huge")


def test_mode_grid_covers_every_framework_mode_and_the_edges():
    cases = mode_cases("default")
    kinds = {case.mode.split("_o")[0] for case in cases}
    assert kinds >= {
        "keras_same", "keras_valid", "tf_same", "tf_valid", "jax_same", "jax_valid", "jax_legacy",
        "onnx_same_upper", "onnx_same_lower", "onnx_valid", "onnx_notset",
    }  # fmt: skip
    assert any("_op0" in case.mode for case in cases) and any(case.mode.endswith("_op1") for case in cases)
    assert {n for case in cases for n in case.input_size} >= {1, 5}
    assert {k % 2 for case in cases for k in case.kernel} == {0, 1}
    assert any(s > k for case in cases for s, k in zip(case.stride, case.kernel))
    assert any(s > d * (k - 1) + 1 and d > 1 for c in cases for s, k, d in zip(c.stride, c.kernel, c.dilation))
    assert any(op > 0 for case in cases for op in case.output_padding)
    assert {case.rank for case in cases} == {1, 2, 3}
    # Beyond the geometry: batch, channels, groups (C_in/g > C_out/g = 1 among them), bias and dtype vary.
    assert {case.batch for case in cases} >= {1, 2, 3}
    assert {case.dtype for case in cases} == {"float64", "float32", "float16", "bfloat16"}
    assert {case.bias for case in cases} == {True, False}
    grouped = [case for case in cases if case.groups > 1]
    assert grouped and {case.mode.split("_o")[0] for case in grouped} >= {"onnx_same_upper", "onnx_valid", "jax_legacy"}
    assert any(c.in_channels // c.groups > c.out_channels // c.groups == 1 for c in grouped)
    assert any(c.mode.startswith("onnx_valid_o") for c in cases)  # VALID with an output_shape


def test_every_profile_holds_every_must_reject_rule_and_each_case_breaks_its_rule():
    cases = must_reject_cases()
    assert {case.violates for case in cases} == set(RULES)
    for name in ("smoke", "default", "full"):
        assert {c.id for c in cases} <= {c.id for c in profile(name)}
    for case in cases:
        assert case.id.endswith(f"-x{case.violates}") and Case.from_id(case.id) == case
        assert RULES[case.violates].broken(case)


def test_a_must_reject_case_must_break_the_rule_it_names():
    with pytest.raises(ValueError, match="does not break the rule"):
        Case(input_size=(5,), kernel=3, padding=1, violates="negative_pad")
    with pytest.raises(ValueError, match="violates must be one of"):
        Case(input_size=(5,), kernel=3, violates="looks_wrong")


def test_default_profile_covers_every_axis():
    cases = _explicit("default")

    def values(get):
        return {v for case in cases for v in get(case)}

    assert {c.rank for c in cases} == {1, 2, 3}
    assert {c.batch for c in cases} >= {1, 2}
    assert any(c.in_channels != c.out_channels for c in cases)
    assert {1, 2}.issubset({c.groups for c in cases})
    assert any(c.groups > 1 and c.groups == c.in_channels for c in cases)  # depthwise
    assert values(lambda c: c.input_size) >= {1, 2, 3, 4, 5, 7}
    assert values(lambda c: c.kernel) == {1, 2, 3, 4, 5}
    assert any(len(set(c.kernel)) > 1 for c in cases)  # non-square
    assert values(lambda c: c.stride) == {1, 2, 3, 4}
    assert any(s > k for c in cases for s, k in zip(c.stride, c.kernel))
    assert values(lambda c: c.dilation) == {1, 2, 3}
    pads = [pair for c in cases for pair in c.padding]
    assert (0, 0) in pads and any(b == e > 0 for b, e in pads) and any(b != e for b, e in pads)
    assert any(b > k // 2 for c in cases for (b, _), k in zip(c.padding, c.kernel))
    assert any(op == s - 1 > 0 for c in cases for op, s in zip(c.output_padding, c.stride))
    assert any(s <= op < d for c in cases for op, s, d in zip(c.output_padding, c.stride, c.dilation))
    assert {c.bias for c in cases} == {True, False}
    assert {c.dtype for c in cases} == {"float64", "float32", "float16", "bfloat16"}


def test_the_readme_names_every_must_reject_rule():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert all(f"| `{rule}` |" in readme for rule in RULES)


def test_the_readme_states_each_profiles_composition():
    import re
    from pathlib import Path

    from conformance.grid import PROFILES, composition

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in PROFILES:
        counts = composition(name)
        written = [f"{n:,}" for n in counts.values() if n]
        stated = re.search(rf"`{name}`\s+([\d,+\s]+)", readme)
        assert stated is not None, name
        assert [n.strip().strip(",") for n in stated.group(1).split("+")] == written, name
    default = composition("default")
    assert (
        f"`default` profile ({default['explicit']:,} explicit-padding cases, a grid of {default['modes']:,} framework"
        in " ".join(readme.split())
    )
    assert f"and {default['models']:,} cases of well-known models' layers" in " ".join(readme.split())
