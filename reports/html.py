"""The HTML report: a static directory (opens from disk, nothing fetched from the network) built from
result records.

Summary per adapter (its forward and its backward cases' outcomes side by side), the divergence register
as the records use it, the matrix of cases by adapter (filters, search, pages, a detail per non-pass cell
with its error map and repro; a backward case's names its failing gradients and gives each gradient's
figures), the cross-framework equivalence of 'same'/'valid', and coverage of the parameter space.

``index.html`` carries what the first screens need: the tables, and the matrix's cases and one
character per cell as a JSON block; the matrix is drawn page by page in the browser. The per-record
details (metrics, error maps, messages, repros) are most of the data, so they go to
``details/chunk-NNNN.js`` files, one per ``CHUNK_ROWS`` matrix rows, which the page loads when a cell
is opened. They are scripts, not JSON, because Chromium refuses fetch() of a file:// page's
neighbours but runs a ``<script src>`` beside it. So 400,000 records stay a page of a few megabytes.

Cases are read from the records' case fields, never rebuilt: a must-reject case (an invalid
configuration, its id ending in ``-x<rule>``) has no geometry.
"""

from __future__ import annotations

import functools
import gc
import json
import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import jinja2
from jinja2.utils import htmlsafe_json_dumps

from conformance import modes
from conformance.case import Case
from conformance.equivalence import analyse, family_member
from conformance.records import OUTCOMES, PASSING
from reports.results import ResultSet, scope_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILTERS = ("rank", "stride", "padding", "output_padding", "dilation", "groups", "dtype", "mode", "direction")
# Coverage also counts these, per axis where a parameter has one value per spatial axis.
COVERED = (
    "rank", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "dtype", "mode", "bias", "direction"
)  # fmt: skip
# The passes a case asks for (conformance.case.DIRECTIONS), as the summary shows them side by side per adapter.
DIRECTIONS = ("forward", "backward")
# A backward case's gradients (conformance.compare.GRADIENTS), in the order its detail lists them.
GRADIENTS = ("dx", "dw", "db")
CODES = "0123456789abcdefghijklmnopqrstuvwxyz"  # one character per outcome in the matrix's cells
BROAD = 0.5  # a divergence explaining this share of an adapter's cases or more is flagged as broad
_VIOLATES = re.compile(r"-x([a-z0-9_]+)$")  # a must-reject case's id ends in -x<the rule it breaks>
_BACKWARD = re.compile(r"-bwd$")  # a backward case's id ends in -bwd
# Matrix rows per details file: a file of a few hundred kilobytes at a dozen adapters, loaded in a blink.
CHUNK_ROWS = 250
DETAILS = "details"  # the folder of details files, next to index.html
_CHUNK_SCRIPT = re.compile(r"reportDetailsLoaded\((\d+), (.*)\);\n", re.S)


def case_fields(record: dict) -> dict:
    """The record's case as plain data (its ``case`` field; rebuilt from the id only where that is missing)."""
    fields = record.get("case") or Case.from_id(record["case_id"]).fields()
    if "violates" not in fields:
        found = _VIOLATES.search(record["case_id"])
        fields = {**fields, "violates": found[1] if found else None}
    if "direction" not in fields:  # records written before cases had a direction: forward, unless the id says
        fields = {**fields, "direction": "backward" if _BACKWARD.search(record["case_id"]) else "forward"}
    return fields


def padding_kinds(case: dict) -> list[str]:
    kinds = set()
    for (begin, end), kernel, dilation in zip(case["padding"], case["kernel"], case["dilation"]):
        if min(begin, end) < 0:
            kinds.add("negative")
        elif begin == end == 0:
            kinds.add("zero")
        elif begin == end:
            kinds.add("symmetric")
        else:
            kinds.add("asymmetric")
        if max(begin, end) > dilation * (kernel - 1) // 2:
            kinds.add("beyond half the kernel")
    return sorted(kinds)


def case_attributes(case: dict) -> dict[str, list[str]]:
    """The values a case has on each filtered or covered parameter (per-axis values taken one by one)."""
    return {
        "rank": [f"{len(case['input_size'])}-D"],
        "kernel": sorted({str(k) for k in case["kernel"]}),
        "stride": sorted({str(s) for s in case["stride"]}),
        "padding": padding_kinds(case),
        "output_padding": sorted({str(op) for op in case["output_padding"]}),
        "dilation": sorted({str(d) for d in case["dilation"]}),
        "groups": [str(case["groups"])],
        "dtype": [case["dtype"]],
        "mode": [mode_kind(case)],
        "bias": ["bias" if case["bias"] else "no bias"],
        "direction": [case.get("direction") or "forward"],
    }


def mode_kind(case: dict) -> str:
    """The mode without its sizes; a token that breaks the mode's rules (a must-reject case) as written."""
    return _mode_kind(case["mode"], len(case["input_size"]))


@functools.lru_cache(maxsize=4096)  # a thousand tokens in the full profile, asked for by each of its cases
def _mode_kind(token: str, rank: int) -> str:
    try:
        return modes.parse(token, rank).kind
    except ValueError:
        return token


def family(case: dict) -> str:
    """Rank and padding mode; must-reject cases (invalid configurations) make families of their own."""
    name = f"{len(case['input_size'])}-D {mode_kind(case)}"
    return f"{name}, must reject" if case.get("violates") else name


class _Strings:
    """Long repeated strings (messages, reasons, repros) stored once and referred to by index."""

    def __init__(self):
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(text)
        return self._index[text]


def gradient_outcome(name: str, metrics: dict, failing) -> str:
    """One gradient's outcome, from its own metrics as ``compare`` leaves them (shape, then non-finite values,
    then values, then dtype): a gradient not among the failing passed."""
    if name not in failing:
        return "pass"
    if "actual_shape" in metrics:
        return "shape_mismatch"
    if metrics.get("nonfinite_count"):
        return "nonfinite"
    if metrics.get("bad_count"):
        return "value_mismatch"
    return "dtype_mismatch"


def gradient_rows(metrics: dict) -> list[dict] | None:
    """A backward record's gradients, dx, dw, db in that order: each one's name, outcome and own metrics; None
    for a record without them (a forward one, or a backward one that never compared: unsupported, a crash)."""
    gradients = metrics.get("gradients")
    if not isinstance(gradients, dict):
        return None
    failing = set(metrics.get("failing") or ())
    order = {name: i for i, name in enumerate(GRADIENTS)}
    rows = []
    for name in sorted(gradients, key=lambda name: (order.get(name, len(order)), name)):
        own = gradients[name] if isinstance(gradients[name], dict) else {}
        rows.append({**own, "gradient": name, "outcome": gradient_outcome(name, own, failing)})
    return rows


def _detail(record: dict, strings: _Strings) -> dict:
    metrics = dict(record.get("metrics") or {})
    message = metrics.pop("message", None)
    divergence = record.get("divergence")
    gradients = gradient_rows(metrics)
    if gradients is not None:
        del metrics["gradients"]  # the detail's "gradients" carries them, each with its outcome
    return {
        "outcome": record["outcome"],
        "raw": record.get("raw_outcome", record["outcome"]),
        "explained": record.get("explained", record["outcome"] in PASSING),
        "metrics": metrics,
        "message": strings(message),
        "divergence": None
        if divergence is None
        else {"id": divergence["id"], "reason": strings(divergence["reason"]), "links": divergence.get("links", [])},
        "repro": strings(record.get("repro")),
        "warnings": record.get("warnings", []),
        **({} if gradients is None else {"gradients": gradients}),
    }


def case_table(results: ResultSet) -> dict[str, dict]:
    """Every case the records name, worked out once (a case recurs in every adapter's file): its fields,
    family and the values it has on each filtered or covered parameter."""
    table = {}
    for run in results.runs:
        for record in run.records:
            if record["case_id"] not in table:
                fields = case_fields(record)
                table[record["case_id"]] = {
                    "id": record["case_id"],
                    "fields": fields,
                    "family": family(fields),
                    "attributes": case_attributes(fields),
                }
    return table


def _in_order(values) -> list[str]:
    """Values as the filters list them: shorter first ("2" before "10"), then alphabetically."""
    return sorted(values, key=lambda value: (len(value), value))


def report_data(results: ResultSet, cases: dict[str, dict] | None = None) -> tuple[dict, dict[int, dict]]:
    """What the page carries, in a compact form its script reads, and what the details files carry,
    by file number: each file's details (keyed "row:column") and the long strings they refer to."""
    runs = results.runs
    cases = case_table(results) if cases is None else cases
    ordered = sorted(cases.values(), key=lambda c: (c["family"], c["id"]))
    row_of = {case["id"]: row for row, case in enumerate(ordered)}
    cells = [["-"] * len(runs) for _ in ordered]
    chunks: dict[int, dict] = defaultdict(lambda: {"details": {}, "strings": _Strings()})
    code = dict(zip(OUTCOMES, CODES))
    for column, run in enumerate(runs):
        for record in run.records:
            row = row_of[record["case_id"]]
            cells[row][column] = code[record["outcome"]]
            # The page knows which cells have a detail by this same rule: non-passes, and refusals that pass.
            if record["outcome"] != "pass" or ordered[row]["fields"]["violates"]:
                chunk = chunks[row // CHUNK_ROWS]
                chunk["details"][f"{row}:{column}"] = _detail(record, chunk["strings"])
    values = {name: _in_order({v for case in ordered for v in case["attributes"][name]}) for name in FILTERS}
    index_of = {name: {value: i for i, value in enumerate(values[name])} for name in FILTERS}
    families = sorted({case["family"] for case in ordered})
    family_index = {name: i for i, name in enumerate(families)}
    data = {
        "outcomes": list(OUTCOMES),
        "filters": list(FILTERS),
        "values": values,
        "families": families,
        "adapters": [run.label for run in runs],
        "cases": [
            {
                "id": case["id"],
                "family": family_index[case["family"]],
                # per filter, in the order of "filters": the indexes of the case's values in "values"
                "values": [[index_of[name][v] for v in case["attributes"][name]] for name in FILTERS],
                **({"violates": case["fields"]["violates"]} if case["fields"]["violates"] else {}),
            }
            for case in ordered
        ],
        "cells": ["".join(row) for row in cells],
        "chunk_rows": CHUNK_ROWS,
    }
    files = {
        number: {"details": chunk["details"], "strings": chunk["strings"].items} for number, chunk in chunks.items()
    }
    return data, dict(sorted(files.items()))


def details_file(number: int) -> str:
    """A details file's path in the report's directory (the page's script builds the same name)."""
    return f"{DETAILS}/chunk-{number:04d}.js"


def script_json(value) -> str:
    """JSON to put in a script, inline or in a file: compact, keys sorted (the same input, the same bytes),
    and '<', '>', '&' and "'" escaped, so that no text from a record can end a script or start markup
    (which is why the template may take it as it is: it comes marked safe)."""
    return htmlsafe_json_dumps(value, sort_keys=True, separators=(",", ":"))


def details_script(number: int, chunk: dict) -> str:
    """A details file's text: a call that hands the page its data."""
    return f"reportDetailsLoaded({number}, {script_json(chunk)});\n"


def read_details(out_dir: Path) -> dict[str, dict]:
    """The details files of a built report read back ("row:column" -> detail, its strings filled in)."""
    found = {}
    for path in sorted((Path(out_dir) / DETAILS).glob("chunk-*.js")):
        _, text = _CHUNK_SCRIPT.fullmatch(path.read_text(encoding="utf-8")).groups()
        chunk = json.loads(text)
        strings = chunk["strings"]
        for key, detail in chunk["details"].items():
            for field in ("message", "repro"):
                detail[field] = None if detail[field] is None else strings[detail[field]]
            if detail["divergence"]:
                detail["divergence"]["reason"] = strings[detail["divergence"]["reason"]]
            found[key] = detail
    return found


def summaries(results: ResultSet, cases: dict[str, dict] | None = None) -> list[dict]:
    """Per adapter: what ran it, its outcome counts, and the same counts for its forward and its backward
    cases apart (``directions``, with ``total`` 0 where it ran none of a direction's)."""
    cases = case_table(results) if cases is None else cases
    rows = []
    for run in results.runs:
        envelope = run.envelope
        by_direction = {direction: Counter() for direction in DIRECTIONS}
        for record in run.records:
            (direction,) = cases[record["case_id"]]["attributes"]["direction"]
            by_direction.setdefault(direction, Counter())[record["outcome"]] += 1
        counts = sum(by_direction.values(), Counter())
        rows.append(
            {
                "label": run.label,
                "versions": run.version_text,
                "device": envelope.get("device"),
                "device_model": envelope.get("device_model"),
                "platform": envelope.get("platform", {}),
                "suite_commit": (envelope.get("suite_commit") or "unknown")[:12],
                "date": envelope.get("timestamp_utc"),
                "profile": envelope.get("profile"),
                "precision": envelope.get("precision", {}),
                "unavailable": envelope.get("unavailable"),
                "unfinished": run.unfinished,
                "counts": [counts.get(outcome, 0) for outcome in OUTCOMES],
                "total": len(run.records),
                "directions": [
                    {
                        "direction": direction,
                        "counts": [tally.get(outcome, 0) for outcome in OUTCOMES],
                        "total": sum(tally.values()),
                    }
                    for direction, tally in by_direction.items()
                ],
            }
        )
    return rows


def register(results: ResultSet) -> dict:
    """Every divergence entry a record names, with per adapter the cases it explained (by raw outcome),
    the cases it matched that passed anyway (a non-strict or tolerance entry) and its xpasses; the
    entries that explain the most first, each with its share of the adapter's cases."""
    entries: dict[str, dict] = {}  # id -> the entry as the first record naming it carries it
    tallies = defaultdict(lambda: defaultdict(Counter))  # id -> adapter label -> raw outcome, "passed", "xpass"
    for run in results.runs:
        for record in run.records:
            divergence = record.get("divergence")
            if not divergence:
                continue
            entries.setdefault(divergence["id"], divergence)
            outcome = record["outcome"]
            if outcome == "pass":
                key = "passed"
            elif outcome == "xpass":
                key = "xpass"
            else:
                key = record.get("raw_outcome", outcome)
            tallies[divergence["id"]][run.label][key] += 1
    totals = {run.label: len(run.records) for run in results.runs}
    used = set().union(*(tally for by_adapter in tallies.values() for tally in by_adapter.values()))
    raw = [outcome for outcome in OUTCOMES if outcome in used and outcome not in PASSING]  # "xpass" counted apart
    rows = []
    for entry_id, entry in entries.items():
        adapters = []
        for label, tally in tallies[entry_id].items():
            explained = sum(tally[outcome] for outcome in raw)
            share = explained / totals[label] if totals[label] else 0.0
            adapters.append(
                {
                    "label": label,
                    "explained": explained,
                    "share": share,
                    "broad": share >= BROAD,
                    "raw": [tally[outcome] for outcome in raw],
                    "passed": tally["passed"],
                    "xpass": tally["xpass"],
                    "total": totals[label],
                }
            )
        adapters.sort(key=lambda a: (-a["explained"], a["label"]))
        rows.append(
            {
                "id": entry_id,
                "kind": entry.get("kind"),
                "strict": entry.get("strict", True),
                "scope": scope_text(entry.get("scope")),
                "reason": entry.get("reason"),
                "links": entry.get("links") or [],
                "upstream": entry.get("upstream"),
                "explained": sum(a["explained"] for a in adapters),
                "adapters": adapters,
            }
        )
    rows.sort(key=lambda row: (-row["explained"], row["id"]))
    return {"raw": raw, "entries": rows, "broad": BROAD}


def coverage(results: ResultSet, cases: dict[str, dict] | None = None) -> list[dict]:
    """Per parameter: each value, and per adapter how many cases with it ran and how many passed."""
    cases = case_table(results) if cases is None else cases
    # Each (parameter, value) by a number, so that counting the records' values (millions) hashes small ints.
    number_of: dict[tuple[str, str], int] = {}
    numbers = {
        case_id: [
            number_of.setdefault((parameter, value), len(number_of))
            for parameter in COVERED
            for value in case["attributes"][parameter]
        ]
        for case_id, case in cases.items()
    }
    ran, passed = [], []  # per column: value's number -> cases
    for run in results.runs:
        ran.append(Counter(chain.from_iterable(numbers[record["case_id"]] for record in run.records)))
        passing = (numbers[record["case_id"]] for record in run.records if record["outcome"] in PASSING)
        passed.append(Counter(chain.from_iterable(passing)))
    tables = []
    for parameter in COVERED:
        rows = []
        for value in _in_order(v for p, v in number_of if p == parameter):
            number = number_of[(parameter, value)]
            rows.append(
                {"value": value, "cells": [[runs[number], passes[number]] for runs, passes in zip(ran, passed)]}
            )
        tables.append({"parameter": parameter.replace("_", " "), "rows": rows})
    return tables


def equivalence_tables(results: ResultSet, cases: dict[str, dict] | None = None) -> list[dict]:
    """Per family: its members, and for each pair whether they agree wherever both compute."""
    lines = results.equivalence
    several_versions = len({run.adapter for run in results.runs}) < len(results.runs)
    if not lines or several_versions:  # the file's members are adapter names; versions need the labels
        cases = case_table(results) if cases is None else cases
        # Only a family member's records count; picking them per case here spares analyse() parsing every id.
        members = {
            case_id
            for case_id, case in cases.items()
            if not case["fields"]["violates"] and family_member(Case.from_id(case_id))  # must-rejects have no geometry
        }
        labelled = [
            {**record, "adapter": run.label}
            for run, record in results.records
            if record["case_id"] in members and record["outcome"] != "suite_error"
        ]
        lines = analyse(labelled)
    tables = []
    for name in ("same", "valid"):
        pairs = {(line["a"], line["b"]): line for line in lines if line["family"] == name}
        members = sorted({member for pair in pairs for member in pair})
        grid = []
        for a in members:
            row = []
            for b in members:
                line = pairs.get((a, b)) or pairs.get((b, a))
                row.append(None if a == b or line is None else _pair_cell(line, flipped=(a, b) not in pairs))
            grid.append({"member": a, "cells": row})
        tables.append({"family": name, "members": members, "grid": grid})
    return tables


def _pair_cell(line: dict, flipped: bool) -> dict:
    counts = line["counts"]
    differ = sum(n for verdict, n in counts.items() if verdict not in ("agree", "both refuse"))
    where = line.get("smallest_disagreement")
    title = f"{line['points']} shared points: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    if where:
        first, second = (where["b"], where["a"]) if flipped else (where["a"], where["b"])
        title += (
            f"; smallest disagreement ({where['verdict']}): n={where['input_size']} k={where['kernel']} "
            f"s={where['stride']} d={where['dilation']}: {first['case_id']} vs {second['case_id']}"
        )
    if line["points"] == 0:
        return {"text": "no shared points", "kind": "none", "title": title}
    if line["agree_everywhere"]:
        return {"text": "agree", "kind": "agree", "title": title}
    return {"text": f"{differ}/{line['points']} differ", "kind": "differ", "title": title}


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )


@contextmanager
def _collector_paused():
    """Python's cycle collector off for a while: with a few hundred thousand records alive, each of its
    automatic passes walks all of them (at 400,000 records the build took twice as long); the build makes no
    cycles to collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build(results: ResultSet, out_dir: Path, title: str = "Transposed convolution conformance") -> Path:
    """Write ``out_dir/index.html`` and its details files (``out_dir/details/``, replaced whole) and return
    the index's path. The directory is the report: the page shows no details without its details files."""
    out_dir = Path(out_dir)
    with _collector_paused():
        cases = case_table(results)
        data, chunks = report_data(results, cases)
        page = (
            environment()
            .get_template("report.html.j2")
            .render(
                title=title,
                outcomes=OUTCOMES,
                summaries=summaries(results, cases),
                register=register(results),
                adapters=[run.label for run in results.runs],
                equivalence=equivalence_tables(results, cases),
                coverage=coverage(results, cases),
                data_json=script_json(data),
            )
        )
        details = out_dir / DETAILS
        details.mkdir(parents=True, exist_ok=True)
        for stale in details.glob("chunk-*.js"):  # an earlier build's, which this one may not overwrite
            stale.unlink()
        for number, chunk in chunks.items():
            (out_dir / details_file(number)).write_text(details_script(number, chunk), encoding="utf-8")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
