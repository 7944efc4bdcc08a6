"""Where the modes users take as equivalent ('same', 'valid') agree across frameworks, and where the paths of
one framework (eager and compiled, a module and a function, optimized and not) agree, from result records.

Every framework computes the same full transposed output and returns a window of it; two members of a
family agree on a geometry point when they return the same window (same length: same shape; same
begin too: same values, on the same inputs). A member's window is the documented one where it passed,
the observed one (``metrics.observed_window``) where it mismatched, and none where it refused.

    python -m conformance equivalence RESULTS_DIR... [-o FILE]

writes ``RESULTS_DIR/equivalence.jsonl`` (the first directory's): an envelope, then one
``equivalence`` record per family and pair of members, with counts over the shared points and the
smallest point where they disagree.

The family ``paths:<framework>`` pairs the adapters of one framework (their records' ``framework``) over the
cases both ran, forward and backward: a user expects every path of a framework to give the same answer.
There a wrong value is a disagreement even where the window is right.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from pathlib import Path

from conformance.case import Case
from conformance.errors import UserError, schema_problem
from conformance.records import PASSING, SCHEMA_VERSION, file_kind, raw_outcome, read_result_file

MISMATCHING = ("shape_mismatch", "value_mismatch")


def family_member(case: Case) -> tuple[str, str] | None:
    """('same' or 'valid', the mode's plain name) where the case is how a framework spells that family."""
    if case.violates or case.direction != "forward":  # must-reject cases ask for an error; gradients are no window
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
    if mode.output_size is not None or mode.padding in ("legacy", "notset", "output_size"):
        return None
    family = "valid" if mode.padding == "valid" else "same"
    return family, f"{mode.framework} {mode.padding.upper() if mode.framework != 'keras' else repr(mode.padding)}"


def _window(record: dict, case: Case) -> dict | None:
    """The window of the full output the adapter returned: begin and length per axis; None if refused."""
    outcome = raw_outcome(record)
    values_right = outcome == "dtype_mismatch" and record["metrics"].get("values") == "pass"
    if outcome in PASSING or values_right:  # a wrong dtype with the right values still returns the window
        return {"begin": [b for b, _ in case.padding], "length": list(case.geometry.output_size)}
    observed = record["metrics"].get("observed_window") if outcome in MISMATCHING else None
    if observed is None:
        return None
    full = case.geometry.full_size
    lengths = [f - b - e + a for f, b, e, a in zip(full, observed["begin"], observed["end"], observed["appended"])]
    return {"begin": observed["begin"], "length": lengths}


PATHS = "paths:"  # the family prefix of the paths of one framework


def _path_answer(record: dict, case: Case) -> dict | None:
    """What one path answered on a case: its window (as ``_window``), marked when its values are wrong; None
    where it refused or broke. A gradient has no window: a passing one is the right answer. A must-reject
    case's right answer is a refusal: None where it refused; two paths that both accept it agree."""
    outcome = raw_outcome(record)
    if case.violates:
        return None if outcome in PASSING else {"begin": [], "length": [], "accepted": outcome}
    if case.direction == "backward":
        if outcome in PASSING:
            return {"begin": [], "length": []}
        return {"begin": [], "length": [], "wrong": outcome} if outcome in (*MISMATCHING, "nonfinite") else None
    window = _window(record, case)
    if window is None and outcome in ("value_mismatch", "nonfinite"):
        window = {"begin": [b for b, _ in case.padding], "length": list(case.geometry.output_size)}
    if window is not None and outcome in ("value_mismatch", "nonfinite"):
        window["wrong"] = outcome
    return window


def _compare(a: dict | None, b: dict | None) -> str:
    if a is None or b is None:
        return "both refuse" if a is None and b is None else "one refuses"
    if a["length"] != b["length"]:
        return "shape differs"
    if a.get("wrong") and b.get("wrong"):  # two wrong answers: whether they are the same is not recorded
        return "both wrong"
    if a.get("wrong") or b.get("wrong"):
        return "values differ"
    return "agree" if a["begin"] == b["begin"] else "values differ"


def analyse(records: list[dict], frameworks: dict[str, str] | None = None) -> list[dict]:
    """One record per family and pair of members (adapter and mode), over the points both ran; then, per
    framework with several paths (``frameworks``: each record's adapter -> its envelope's framework), one
    record per pair of its adapters over the cases both ran."""
    frameworks = frameworks or {}
    members = defaultdict(dict)  # (family, member) -> point -> (window, case id, outcome)
    for record in records:
        case = Case.from_id(record["case_id"])
        found = family_member(case)
        if found is not None:
            family, spelled = found
            point = (case.input_size, case.kernel, case.stride, case.dilation, case.dtype, case.in_channels)
            members[(family, f"{record['adapter']}: {spelled}")][point] = (
                _window(record, case),
                case.id,
                raw_outcome(record),
            )
        framework = frameworks.get(record["adapter"])
        # A case a path cannot express is not one it ran.
        if framework and record["outcome"] != "suite_error" and raw_outcome(record) != "unsupported":
            members[(PATHS + framework, record["adapter"])][case] = (
                _path_answer(record, case),
                case.id,
                raw_outcome(record),
            )
    families = ["same", "valid"] + sorted({family for family, _ in members if family.startswith(PATHS)})
    results = []
    for family in families:
        names = sorted(name for fam, name in members if fam == family)
        for a, b in itertools.combinations(names, 2):
            results.append(_pair(family, a, b, members[(family, a)], members[(family, b)]))
    return results


def _geometry(point) -> tuple:
    """A point's (input size, kernel, stride, dilation): a case of the paths, or a tuple of the mode grid."""
    if isinstance(point, Case):
        return point.input_size, point.kernel, point.stride, point.dilation
    return point[:4]


def _pair(family: str, a: str, b: str, left: dict, right: dict) -> dict:
    def size(point):
        geometry = _geometry(point)
        return (math.prod(geometry[0]), point.id if isinstance(point, Case) else point)

    shared = sorted(set(left) & set(right), key=size)
    counts = defaultdict(int)
    smallest = None
    for point in shared:
        verdict = _compare(left[point][0], right[point][0])
        counts[verdict] += 1
        if verdict not in ("agree", "both refuse") and smallest is None:
            input_size, kernel, stride, dilation = _geometry(point)
            smallest = {
                "verdict": verdict,
                "input_size": list(input_size),
                "kernel": list(kernel),
                "stride": list(stride),
                "dilation": list(dilation),
                "a": {"case_id": left[point][1], "outcome": left[point][2], "window": left[point][0]},
                "b": {"case_id": right[point][1], "outcome": right[point][2], "window": right[point][0]},
            }
    return {
        "type": "equivalence",
        "family": family,
        "a": a,
        "b": b,
        "points": len(shared),
        "counts": dict(counts),
        "agree_everywhere": smallest is None and counts["agree"] > 0,
        "smallest_disagreement": smallest,
    }


def schema() -> dict:
    """The JSON Schema of a line of an equivalence file (published as schemas/equivalence-file.schema.json)."""
    window = {"type": ["object", "null"]}
    side = {
        "type": "object",
        "properties": {"case_id": {"type": "string"}, "outcome": {"type": "string"}, "window": window},
        "required": ["case_id", "outcome", "window"],
    }
    sizes = {"type": "array", "items": {"type": "integer"}}
    smallest = {
        "type": ["object", "null"],
        "properties": {"verdict": {"type": "string"}, "input_size": sizes, "kernel": sizes, "stride": sizes,
                       "dilation": sizes, "a": side, "b": side},
        "required": ["verdict", "input_size", "kernel", "stride", "dilation", "a", "b"],
    }  # fmt: skip
    envelope = {
        "type": "object",
        "properties": {
            "type": {"const": "envelope"},
            "kind": {"const": "equivalence"},
            "schema_version": {"const": SCHEMA_VERSION},
            "sources": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["type", "kind", "schema_version", "sources"],
    }
    line = {
        "type": "object",
        "properties": {
            "type": {"const": "equivalence"},
            "family": {
                "anyOf": [{"enum": ["same", "valid"]}, {"type": "string", "pattern": f"^{PATHS}[A-Za-z0-9_.+-]+$"}]
            },
            "a": {"type": "string"},
            "b": {"type": "string"},
            "points": {"type": "integer", "minimum": 0},
            "counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "agree_everywhere": {"type": "boolean"},
            "smallest_disagreement": smallest,
        },
        "required": ["type", "family", "a", "b", "points", "counts", "agree_everywhere", "smallest_disagreement"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "A line of a transposed-convolution conformance equivalence file (JSON Lines)",
        "description": "The first line is the envelope; then one line per family and pair of members.",
        "oneOf": [envelope, line],
    }


def read(path: Path) -> list[dict]:
    """The equivalence lines of an equivalence file, each validated; a UserError naming file, line and field."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    lines = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}:{number}: not a JSON line ({error.msg} at column {error.colno})") from None
        problem = schema_problem(validator, item)
        if problem:
            raise UserError(f"{path}:{number}: {problem}")
        if (number == 1) != (item["type"] == "envelope"):
            raise UserError(f"{path}:{number}: field 'type': the envelope comes first, and only first")
        lines.append(item)
    return lines[1:]


def write(results_dirs: list[Path], output: Path | None = None, warnings: list | None = None) -> Path:
    """Read every result file under the given directories (one run or several merged) and write the
    equivalence records, by default next to the first directory's files; what the reader warns of (a
    torn last line) goes to ``warnings``."""
    results_dirs = [Path(path) for path in results_dirs]
    for directory in results_dirs:
        if not directory.is_dir():
            raise UserError(f"{directory}: no such results directory")
    output = Path(output) if output else results_dirs[0] / "equivalence.jsonl"
    if output.is_dir():
        raise UserError(f"-o {output}: a directory is there, not a file")
    records, sources, frameworks = [], [], {}
    for path in sorted({found for directory in results_dirs for found in directory.rglob("*.jsonl")}):
        if path.resolve() == output.resolve():
            continue
        if file_kind(path) == "equivalence":
            continue
        contents = read_result_file(path)
        header, found = contents.envelope, contents.records
        if warnings is not None:
            warnings += contents.warnings
        sources.append({"adapter": header["adapter"], "framework_versions": header["framework_versions"]})
        frameworks[header["adapter"]] = header["framework"]
        records += found
    if not sources:
        raise UserError(f"no result files in {', '.join(map(str, results_dirs))}")
    lines = [{"type": "envelope", "kind": "equivalence", "schema_version": SCHEMA_VERSION, "sources": sources}]
    lines += analyse(records, frameworks)
    output.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
    return output
