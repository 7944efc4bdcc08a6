"""Result files made up from real cases, for the report's, gate's and site's tests and benchmark.

The records have every field a run writes; their outcomes are drawn deterministically (seeded), so
that a test knows exactly what each file holds without running a framework. A must-reject case is
made up from a valid one by breaking the rule it names (``must_reject``).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from conformance.case import Case
from conformance.records import Record, RegisterEntry, ResultFile, envelope

DIVERGENCE = {
    "id": "made-up-divergence",
    "kind": "unsupported",
    "reason": "a <made-up> reason & its link",
    "links": ["https://example.org/issue/1"],
    "upstream": "",
    "strict": True,
    "outcomes": ["unsupported"],
    "scope": {"devices": [], "versions": {}},
}
# Markup an adapter could put in its names and messages: a script that ends the page's, a handler that runs.
HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def must_reject(case: Case, rule: str) -> Case:
    """The case changed to break ``rule`` (negative_pad or output_padding_at_bound), as a must-reject case."""
    fields = case.fields()
    if rule == "negative_pad":
        fields["padding"][0] = [-1, -1]
    elif rule == "output_padding_at_bound":
        fields["output_padding"][0] = max(fields["stride"][0], fields["dilation"][0])
    else:
        raise ValueError(f"no made-up must-reject case for {rule!r}")
    return Case(**{**fields, "violates": rule, "mode": "explicit"})


def record(
    case: Case, adapter: str, outcome: str, violates: str | None = None, failing: tuple[str, ...] | None = None
) -> Record:
    """One record of ``outcome``; with ``violates`` (or a must-reject case's own), of a must-reject case (a
    pass is then a refusal). A backward case's comparison outcomes carry each gradient's metrics, as
    ``conformance.compare.compare_gradients`` writes them: ``failing`` names the gradients that did not pass
    (the first is the worst; by default dw for a value mismatch, dx for a shape mismatch, all for a dtype
    mismatch)."""
    if violates and not case.violates:
        case = must_reject(case, violates)
    violates = case.violates or None
    if case.direction == "backward" and outcome in BACKWARD_COMPARED:
        return _record(case, adapter, outcome, backward_metrics(case, outcome, failing), *_judged(outcome))
    metrics: dict = {"output_dtype": case.dtype}
    expected_shape = [case.batch, case.out_channels, *case.geometry.output_size]
    raw, explained, divergence = outcome, outcome == "pass", None
    if violates and outcome == "pass":
        metrics = {"message": f"{adapter} refuses <{violates}>", "stage": "construction"}
    elif outcome == "accepted_invalid":
        metrics.update(actual_shape=[*expected_shape[:-1], expected_shape[-1] + 2], reading="padding read as zero")
    elif outcome == "dtype_mismatch":
        metrics.update(output_dtype="float64" if case.dtype != "float64" else "float32", expected_dtype=case.dtype)
        metrics.update(values="pass", expected_shape=expected_shape)
    elif outcome == "suite_error":
        metrics = {"message": "Traceback: the suite's <comparison> failed"}
    elif outcome == "value_mismatch":
        metrics.update(
            expected_shape=expected_shape,
            max_abs_error=0.5,
            max_rel_error=0.25,
            max_error_over_tolerance=1e4,
            bad_count=3,
            bad_fraction=0.1,
            worst_index=[0, 0, *[n - 1 for n in case.geometry.output_size]],
            worst_expected=2.0,
            worst_actual=2.5,
            worst_tolerance=1e-6,
            error_map=_error_map(expected_shape),
            observed_window=None,
        )
    elif outcome == "shape_mismatch":
        actual = [*expected_shape[:-1], expected_shape[-1] - 1]
        metrics.update(expected_shape=expected_shape, actual_shape=actual, observed_window=None)
    elif outcome == "xfail":
        raw, explained = "value_mismatch", True
        divergence = {**DIVERGENCE, "id": "made-up-xfail", "kind": "xfail"}
        metrics.update(expected_shape=expected_shape, max_abs_error=1.0, error_map=[1.0])
    elif outcome == "xpass":  # the framework passed where a strict entry expected a failure
        raw, divergence = "pass", {**DIVERGENCE, "id": "made-up-xfail", "kind": "xfail"}
    elif outcome in ("unsupported", "rejected"):
        metrics = {"message": f"{adapter} cannot <express> {case.id}"}
        divergence, explained = DIVERGENCE, True
    return _record(case, adapter, outcome, metrics, raw, explained, divergence)


def _judged(outcome: str) -> tuple[str, bool, dict | None]:
    """The raw outcome, whether it is explained, and the divergence, for an outcome a comparison gives."""
    if outcome == "xfail":
        return "value_mismatch", True, {**DIVERGENCE, "id": "made-up-xfail", "kind": "xfail"}
    return outcome, outcome == "pass", None


# The outcomes a backward case's comparison gives, with its gradients' metrics.
BACKWARD_COMPARED = ("pass", "value_mismatch", "shape_mismatch", "nonfinite", "dtype_mismatch", "xfail")
GRADIENTS = ("dx", "dw", "db")


def gradient_shapes(case: Case) -> dict[str, list[int]]:
    """Each gradient's shape: the input's, the weight's, and the bias's where the case has one."""
    shapes = {"dx": list(case.input_shape), "dw": list(case.weight_shape)}
    return {**shapes, "db": [case.out_channels]} if case.bias else shapes


def backward_metrics(case: Case, outcome: str, failing: tuple[str, ...] | None = None) -> dict:
    """A backward record's metrics: every gradient's own, which failed (``failing``, the first the worst) and
    the worst's figures repeated at the top level, named by ``gradient``."""
    shapes = gradient_shapes(case)
    if failing is None:
        failing = {"pass": (), "shape_mismatch": ("dx",), "dtype_mismatch": tuple(shapes)}.get(outcome, ("dw",))
    kind = "value_mismatch" if outcome == "xfail" else outcome
    failing = () if kind == "pass" else tuple(name for name in failing if name in shapes)
    gradients = {}
    for name, shape in shapes.items():
        metrics = {"output_dtype": case.dtype, "expected_dtype": case.dtype, "expected_shape": shape}
        rank = failing.index(name) if name in failing else None
        if rank is None or kind == "dtype_mismatch":
            metrics.update(max_abs_error=1e-17, max_rel_error=1e-16, max_error_over_tolerance=0.125, bad_count=0,
                           bad_fraction=0.0)  # fmt: skip
            if rank is not None:
                metrics.update(output_dtype="float64" if case.dtype != "float64" else "float32", values="pass")
        elif kind == "shape_mismatch":
            metrics["actual_shape"] = [*shape[:-1], shape[-1] - 1]
        elif kind == "nonfinite":
            metrics.update(nonfinite_count=rank + 1, error_map=_error_map(shape))
        else:
            metrics.update(
                max_abs_error=0.5 / (rank + 1),
                max_rel_error=0.25,
                max_error_over_tolerance=1e4 / 10**rank,
                bad_count=3 + rank,
                bad_fraction=0.1,
                worst_index=[0] * len(shape),
                worst_expected=2.0,
                worst_actual=2.5,
                worst_tolerance=1e-6,
                error_map=_error_map(shape),
            )
        gradients[name] = metrics
    worst = failing[0] if failing else "dx"
    listed = [name for name in GRADIENTS if name in failing]  # in the gradients' order, as a run lists them
    return {**gradients[worst], "gradient": worst, "failing": listed, "gradients": gradients}


def _error_map(shape: list[int]) -> list:
    """A made-up error map for an array of ``shape``: its last bin bad on every spatial axis (an array without
    spatial axes, the bias gradient: one fraction)."""
    bins = [min(n, 4) for n in shape[2:]]
    if not bins:
        return [1.0]
    error_map = [1.0] * bins[-1]
    for size in reversed(bins[:-1]):
        error_map = [error_map if i == size - 1 else _zeros(error_map) for i in range(size)]
    return error_map


def _record(case: Case, adapter: str, outcome: str, metrics: dict, raw: str, explained: bool, divergence) -> Record:
    accumulation = {name: 1 for name in gradient_shapes(case)} if case.direction == "backward" else 1
    return Record(
        type="result",
        case_id=case.id,
        case=case,
        adapter=adapter,
        device="cpu",
        outcome=outcome,
        raw_outcome=raw,
        explained=explained,
        metrics=metrics,
        tolerance={"rule": "made up", "accumulation_length": accumulation, "widen": 1.0},
        divergence=RegisterEntry(**divergence) if divergence else None,
        warnings=[],
        duration_s=0.001,
        repro=f"import {adapter}\n# reproduces {case.id} <here>",
    )


def _zeros(like):
    return [_zeros(item) for item in like] if isinstance(like[0], list) else [0.0] * len(like)


def write_run(
    directory: Path,
    adapter: str,
    cases,
    outcomes: dict[str, str] | None = None,
    versions: dict | None = None,
    seed: int = 0,
    finish: bool = True,
    mix: tuple = (("pass", 0.8), ("unsupported", 0.1), ("value_mismatch", 0.04), ("shape_mismatch", 0.03)),
    violates: dict[str, str] | None = None,
    overrides: dict[str, dict] | None = None,
    failing: dict[str, tuple[str, ...]] | None = None,
) -> Path:
    """One adapter's result file: outcomes drawn from ``mix`` unless given per case id in ``outcomes``;
    ``violates`` makes cases must-reject (case id -> rule), ``failing`` names a backward case's failing
    gradients (case id -> names, the worst first) and ``overrides`` replaces record fields (case id -> fields,
    e.g. another divergence or raw outcome)."""
    rng = random.Random(f"{adapter}:{seed}")
    names, weights = zip(*mix)
    header = envelope(
        adapter=adapter,
        device="cpu",
        versions=versions or {adapter: "1.0"},
        precision={},
        profile="made-up",
        device_model="test cpu",
        planned=len(cases),
    )
    file = ResultFile(Path(directory), header, existing="overwrite")
    for case in cases:
        drawn = rng.choices(names, weights)[0]
        outcome = (outcomes or {}).get(case.id, drawn)
        made = record(case, adapter, outcome, (violates or {}).get(case.id), (failing or {}).get(case.id))
        changes = dict((overrides or {}).get(case.id, {}))
        if isinstance(changes.get("divergence"), dict):
            changes["divergence"] = RegisterEntry(**{**DIVERGENCE, **changes["divergence"]})
        file.append(dataclasses.replace(made, **changes))
    if finish:
        file.close()
    else:
        file.release()  # a killed run: no end line
    return file.path


def write_hostile_runs(directory: Path, cases) -> Path:
    """alpha in two versions, one of them named with markup (``HOSTILE``); its first case unsupported,
    with markup in the message, repro, warnings, divergence reason and link."""
    entry = {"id": "hostile-entry", "kind": "unsupported", "reason": HOSTILE, "links": [f"https://example.org/{HOSTILE}"],
             "upstream": HOSTILE}  # fmt: skip
    hostile = {"metrics": {"message": HOSTILE}, "repro": HOSTILE, "warnings": [HOSTILE], "divergence": entry}
    write_run(directory / "old", "alpha", cases, versions={"alpha": HOSTILE}, outcomes={cases[0].id: "unsupported"},
              overrides={cases[0].id: hostile}, mix=(("pass", 1.0),))  # fmt: skip
    write_run(directory / "new", "alpha", cases, mix=(("pass", 1.0),))
    return directory
