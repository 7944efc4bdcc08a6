"""Where the modes users take as equivalent ('same', 'valid') agree across frameworks, from result records.

Every framework computes the same full transposed output and returns a window of it; two members of a
family agree on a geometry point when they return the same window (same length: same shape; same
begin too: same values, on the same inputs). A member's window is the documented one where it passed,
the observed one (``metrics.observed_window``) where it mismatched, and none where it refused.

    python -m conformance equivalence RESULTS_DIR... [-o FILE]

writes ``RESULTS_DIR/equivalence.jsonl`` (the first directory's): an envelope, then one
``equivalence`` record per family and pair of members, with counts over the shared points and the
smallest point where they disagree.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from pathlib import Path

from conformance.case import Case
from conformance.records import PASSING, SCHEMA_VERSION, file_kind, read_results

MISMATCHING = ("shape_mismatch", "value_mismatch")


def family_member(case: Case) -> tuple[str, str] | None:
    """('same' or 'valid', the mode's plain name) where the case is how a framework spells that family."""
    if case.violates:  # must-reject cases ask for an error, not a window
        return None
    mode = case.mode_spec
    if mode.output_padding is not None:
        return None
    if mode.framework == "explicit":
        plain = all(p == (0, 0) for p in case.padding) and not any(case.output_padding)
        return ("valid", "zero pads") if plain else None
    if mode.framework == "tf":
        full = case.geometry.full_size
        same = tuple(n * s for n, s in zip(case.input_size, case.stride))
        if mode.padding == "same" and mode.output_size == same:
            return ("same", "tf 'SAME', output n*stride")
        if mode.padding == "valid" and mode.output_size == full:
            return ("valid", "tf 'VALID', shortest output")
        return None
    if mode.output_size is not None or mode.padding in ("legacy", "notset"):
        return None
    family = "valid" if mode.padding == "valid" else "same"
    return family, f"{mode.framework} {mode.padding.upper() if mode.framework != 'keras' else repr(mode.padding)}"


def _window(record: dict, case: Case) -> dict | None:
    """The window of the full output the adapter returned: begin and length per axis; None if refused."""
    outcome = record.get("raw_outcome", record["outcome"])  # what the framework did, before the register
    values_right = outcome == "dtype_mismatch" and record["metrics"].get("values") == "pass"
    if outcome in PASSING or values_right:  # a wrong dtype with the right values still returns the window
        return {"begin": [b for b, _ in case.padding], "length": list(case.geometry.output_size)}
    observed = record["metrics"].get("observed_window") if outcome in MISMATCHING else None
    if observed is None:
        return None
    full = case.geometry.full_size
    lengths = [f - b - e + a for f, b, e, a in zip(full, observed["begin"], observed["end"], observed["appended"])]
    return {"begin": observed["begin"], "length": lengths}


def _compare(a: dict | None, b: dict | None) -> str:
    if a is None or b is None:
        return "both refuse" if a is None and b is None else "one refuses"
    if a["length"] != b["length"]:
        return "shape differs"
    return "agree" if a["begin"] == b["begin"] else "values differ"


def analyse(records: list[dict]) -> list[dict]:
    """One record per family and pair of members (adapter and mode), over the points both ran."""
    members = defaultdict(dict)  # (family, member) -> point -> (window, case id, outcome)
    for record in records:
        case = Case.from_id(record["case_id"])
        found = family_member(case)
        if found is None:
            continue
        family, spelled = found
        point = (case.input_size, case.kernel, case.stride, case.dilation, case.dtype, case.in_channels)
        members[(family, f"{record['adapter']}: {spelled}")][point] = (
            _window(record, case),
            case.id,
            record.get("raw_outcome", record["outcome"]),
        )
    results = []
    for family in ("same", "valid"):
        names = sorted(name for fam, name in members if fam == family)
        for a, b in itertools.combinations(names, 2):
            left, right = members[(family, a)], members[(family, b)]
            shared = sorted(set(left) & set(right), key=lambda p: (math.prod(p[0]), p))
            counts = defaultdict(int)
            smallest = None
            for point in shared:
                verdict = _compare(left[point][0], right[point][0])
                counts[verdict] += 1
                if verdict not in ("agree", "both refuse") and smallest is None:
                    smallest = {
                        "verdict": verdict,
                        "input_size": list(point[0]),
                        "kernel": list(point[1]),
                        "stride": list(point[2]),
                        "dilation": list(point[3]),
                        "a": {"case_id": left[point][1], "outcome": left[point][2], "window": left[point][0]},
                        "b": {"case_id": right[point][1], "outcome": right[point][2], "window": right[point][0]},
                    }
            results.append(
                {
                    "type": "equivalence",
                    "family": family,
                    "a": a,
                    "b": b,
                    "points": len(shared),
                    "counts": dict(counts),
                    "agree_everywhere": smallest is None and counts["agree"] > 0,
                    "smallest_disagreement": smallest,
                }
            )
    return results


def write(results_dirs: list[Path], output: Path | None = None) -> Path:
    """Read every result file under the given directories (one run or several merged) and write the
    equivalence records, by default next to the first directory's files."""
    results_dirs = [Path(path) for path in results_dirs]
    output = Path(output) if output else results_dirs[0] / "equivalence.jsonl"
    records, sources = [], []
    for path in sorted({found for directory in results_dirs for found in directory.rglob("*.jsonl")}):
        if path.resolve() == output.resolve():
            continue
        if file_kind(path) == "equivalence":
            continue
        header, found = read_results(path)
        sources.append({"adapter": header["adapter"], "framework_versions": header["framework_versions"]})
        records += found
    lines = [{"type": "envelope", "kind": "equivalence", "schema_version": SCHEMA_VERSION, "sources": sources}]
    lines += analyse(records)
    output.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
    return output
