"""The regression gate: a run compared case by case with a committed baseline.

A baseline is versioned JSON for one framework-version series (the adapters and the versions they
ran), holding each case's outcome and the divergence behind it. The gate fails on

- a run that did not finish (no end line, or fewer records than it planned);
- a run of other framework versions than the baseline's series (compare it with that series' baseline);
- a case that passed in the baseline and no longer does;
- a new non-pass outcome (a new case, or a changed outcome) that no divergence explains;
- a case of the baseline missing from the run;
- a registered divergence that no longer reproduces (the baseline's xfail now passes);
- a suite error (the suite's own handling of an output failed): listed on its own, never as the
  framework's regression, since the framework's real outcome is unknown.

and lists fixes (a non-pass that now passes) as good news without failing. A baseline is never
written from results holding suite errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from conformance.case import ID_PATTERN
from conformance.errors import UserError, document_schema, read_document
from conformance.records import OUTCOMES, PASSING, SAFE_NAME, raw_outcome
from reports.results import ResultSet

FORMAT = "transposed-convolution-conformance-baseline"
VERSION = 1
LISTED = 20  # cases listed per finding and adapter; the rest are counted


@dataclass
class Verdict:
    failures: dict[str, list[str]] = field(default_factory=dict)
    fixes: list[str] = field(default_factory=list)
    compared: int = 0

    def fail(self, kind: str, line: str) -> None:
        self.failures.setdefault(kind, []).append(line)

    @property
    def passed(self) -> bool:
        return not self.failures

    def text(self) -> str:
        sections = [(f"FAIL {kind}", found) for kind, found in self.failures.items()]
        if self.fixes:
            sections.append(("FIXED, good news", self.fixes))
        lines = []
        for title, found in sections:
            lines.append(f"{title} ({len(found)}):")
            lines += [f"  {line}" for line in found[:LISTED]]
            if len(found) > LISTED:
                lines.append(f"  ... and {len(found) - LISTED} more")
        verdict = "passes" if self.passed else "fails"
        lines.append(f"gate {verdict}: {self.compared} results compared with the baseline")
        return "\n".join(lines)


def describe(record: dict) -> str:
    """The outcome, with what the new outcomes need said on one line."""
    outcome, metrics = record["outcome"], record.get("metrics") or {}
    raw = raw_outcome(record)
    if raw == "dtype_mismatch":
        return f"{outcome} (output dtype {metrics.get('output_dtype')}, the case's is {metrics.get('expected_dtype')})"
    if raw == "accepted_invalid":
        violates = (record.get("case") or {}).get("violates") or "an invalid configuration"
        return f"{outcome} (returned an output for a case that must be rejected: {violates})"
    if raw == "suite_error":
        return f"{outcome} (the suite's own failure: {metrics.get('message')})"
    return outcome


def baseline_from(results: ResultSet) -> dict:
    """A baseline recording every run's versions and each case's outcome and divergence."""
    errors = [
        f"{run.adapter}: {record['case_id']}" for run, record in results.records if record["outcome"] == "suite_error"
    ]
    if errors:
        raise UserError(
            f"no baseline written: {len(errors)} suite errors (first: {errors[0]}): the framework's outcome is "
            "unknown there; fix the suite and run again before writing a baseline"
        )
    adapters = {}
    for run in results.runs:
        if run.envelope.get("unavailable"):  # nothing ran here (a CUDA adapter on a CPU machine): no series to keep
            continue
        if run.adapter in adapters:
            raise UserError(
                f"no baseline written: a baseline is for one series; {run.adapter!r} appears in several versions"
            )
        adapters[run.adapter] = {
            "framework_versions": run.versions,
            "profile": run.envelope.get("profile"),
            "cases": {
                record["case_id"]: {
                    "outcome": record["outcome"],
                    "divergence": (record.get("divergence") or {}).get("id"),
                }
                for record in run.records
            },
        }
    return {"format": FORMAT, "version": VERSION, "adapters": dict(sorted(adapters.items()))}


def schema() -> dict:
    """The JSON Schema of a baseline file (published as schemas/baseline.schema.json)."""
    case = {
        "type": "object",
        "properties": {
            "outcome": {"enum": list(OUTCOMES)},
            "divergence": {"type": ["string", "null"], "description": "the register entry behind the outcome"},
        },
        "required": ["outcome", "divergence"],
        "additionalProperties": False,
    }
    adapter = {
        "type": "object",
        "properties": {
            "framework_versions": {"type": "object", "additionalProperties": {"type": "string"}},
            "profile": {"type": ["string", "null"]},
            "cases": {"type": "object", "propertyNames": {"pattern": ID_PATTERN.pattern}, "additionalProperties": case},
        },
        "required": ["framework_versions", "profile", "cases"],
        "additionalProperties": False,
    }
    return document_schema(
        "A transposed-convolution conformance baseline",
        "Each case's outcome and divergence, per adapter, for one framework-version series.",
        FORMAT,
        VERSION,
        "adapters",
        {"type": "object", "propertyNames": {"pattern": SAFE_NAME}, "additionalProperties": adapter},
    )


def read_baseline(path: Path) -> dict:
    """The baseline, validated against ``schema()``; a UserError naming the file and field if it is not one."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"--baseline {path}: no such file (write one with --update-baseline)")
    if path.is_dir():
        raise UserError(f"--baseline {path}: a directory, not a baseline file")
    return read_document(path, schema(), "give a baseline that gate --update-baseline wrote")


def write_baseline(results: ResultSet, path: Path) -> dict:
    baseline = baseline_from(results)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return baseline


def gate(baseline: dict, results: ResultSet) -> Verdict:
    verdict = Verdict()
    runs = {}
    for run in results.runs:
        if run.adapter in runs:
            verdict.fail("ambiguous run", f"{run.adapter}: given in several versions; gate one series at a time")
        runs[run.adapter] = run
        if run.unfinished:
            verdict.fail("run did not finish", run.unfinished)
    for adapter, expected in baseline["adapters"].items():
        run = runs.get(adapter)
        if run is None:
            count = len(expected["cases"])
            verdict.fail("missing adapter", f"{adapter}: {count} cases in the baseline, none in the run")
            continue
        if run.versions != expected["framework_versions"]:
            verdict.fail(
                "other framework versions",
                f"{adapter}: the baseline's series is {expected['framework_versions']}, the run has {run.versions}; "
                "gate against that series' baseline, or write one with --update-baseline",
            )
            continue
        _compare_cases(adapter, expected["cases"], run.records, verdict)
    for adapter, run in runs.items():
        for record in run.records:
            if record["outcome"] == "suite_error":
                verdict.fail("suite error, not the framework's", f"{adapter}: {record['case_id']}: {describe(record)}")
            elif adapter not in baseline["adapters"] and not record.get("explained", record["outcome"] in PASSING):
                line = f"{adapter}: {record['case_id']}: {describe(record)} (adapter new to the baseline)"
                verdict.fail("new unexplained outcome", line)
    return verdict


def _compare_cases(adapter: str, expected: dict, records: list[dict], verdict: Verdict) -> None:
    seen = set()
    for record in records:
        case_id, outcome = record["case_id"], record["outcome"]
        seen.add(case_id)
        verdict.compared += 1
        before = expected.get(case_id)
        where = f"{adapter}: {case_id}"
        explained = record.get("explained", outcome in PASSING)
        if outcome == "suite_error":
            continue  # listed on its own by ``gate``
        if before is None:
            if not explained:
                verdict.fail("new unexplained outcome", f"{where}: {describe(record)} (new case)")
            continue
        was = before["outcome"]
        if was == outcome:
            continue
        if was == "xfail" and outcome in PASSING:
            verdict.fail(
                "divergence no longer reproduces",
                f"{where}: {before['divergence']} was xfail, now {outcome}; update the register entry",
            )
        elif was in PASSING:
            verdict.fail("regression", f"{where}: passed, now {describe(record)}")
        elif outcome in PASSING:
            verdict.fixes.append(f"{where}: {was} -> {outcome}")
        elif not explained:
            verdict.fail("new unexplained outcome", f"{where}: {was} -> {describe(record)}")
    for case_id in sorted(set(expected) - seen):
        verdict.fail("missing case", f"{adapter}: {case_id} (was {expected[case_id]['outcome']})")
