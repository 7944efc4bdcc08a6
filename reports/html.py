"""The HTML report: one static page (opens from disk, nothing fetched) built from result records.

Summary per adapter, the divergence register as the records use it, the matrix of cases by adapter
(filters, search, pages, a detail per non-pass cell with its error map and repro), the
cross-framework equivalence of 'same'/'valid', and coverage of the parameter space. The page carries
its data as one JSON block; the matrix is drawn page by page in the browser, so 100,000 records stay
quick.

Cases are read from the records' case fields, never rebuilt: a must-reject case (an invalid
configuration, its id ending in ``-x<rule>``) has no geometry.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import jinja2

from conformance import modes
from conformance.case import Case
from conformance.equivalence import analyse
from conformance.records import OUTCOMES, PASSING
from reports.results import ResultSet, scope_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILTERS = ("rank", "stride", "padding", "output_padding", "dilation", "groups", "dtype", "mode")
# Coverage also counts these, per axis where a parameter has one value per spatial axis.
COVERED = ("rank", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "dtype", "mode", "bias")
CODES = "0123456789abcdefghijklmnopqrstuvwxyz"  # one character per outcome in the matrix's cells
BROAD = 0.5  # a divergence explaining this share of an adapter's cases or more is flagged as broad
_VIOLATES = re.compile(r"-x([a-z0-9_]+)$")  # a must-reject case's id ends in -x<the rule it breaks>


def case_fields(record: dict) -> dict:
    """The record's case as plain data (its ``case`` field; rebuilt from the id only where that is missing)."""
    fields = record.get("case") or Case.from_id(record["case_id"]).fields()
    if "violates" not in fields:
        found = _VIOLATES.search(record["case_id"])
        fields = {**fields, "violates": found[1] if found else None}
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
    }


def mode_kind(case: dict) -> str:
    """The mode without its sizes; a token that breaks the mode's rules (a must-reject case) as written."""
    try:
        return modes.parse(case["mode"], len(case["input_size"])).kind
    except ValueError:
        return case["mode"]


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


def _detail(record: dict, strings: _Strings) -> dict:
    metrics = dict(record.get("metrics") or {})
    message = metrics.pop("message", None)
    divergence = record.get("divergence")
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
    }


def report_data(results: ResultSet) -> dict:
    """Everything the page shows, in a compact form the page's script reads."""
    runs = results.runs
    strings = _Strings()
    cases: dict[str, dict] = {}
    for run in runs:
        for record in run.records:
            if record["case_id"] not in cases:
                fields = case_fields(record)
                cases[record["case_id"]] = {"id": record["case_id"], "family": family(fields), "fields": fields}
    ordered = sorted(cases.values(), key=lambda c: (c["family"], c["id"]))
    row_of = {case["id"]: row for row, case in enumerate(ordered)}
    cells = [["-"] * len(runs) for _ in ordered]
    details = {}
    code = dict(zip(OUTCOMES, CODES))
    for column, run in enumerate(runs):
        for record in run.records:
            row = row_of[record["case_id"]]
            cells[row][column] = code[record["outcome"]]
            if record["outcome"] != "pass" or ordered[row]["fields"]["violates"]:  # a refusal that passes
                details[f"{row}:{column}"] = _detail(record, strings)
    return {
        "outcomes": list(OUTCOMES),
        "filters": list(FILTERS),
        "adapters": [run.label for run in runs],
        "cases": [
            {
                "id": case["id"],
                "family": case["family"],
                **({"violates": case["fields"]["violates"]} if case["fields"]["violates"] else {}),
                **{k: v for k, v in case_attributes(case["fields"]).items() if k in FILTERS},
            }
            for case in ordered
        ],
        "cells": ["".join(row) for row in cells],
        "details": details,
        "strings": strings.items,
    }


def summaries(results: ResultSet) -> list[dict]:
    rows = []
    for run in results.runs:
        envelope = run.envelope
        counts = Counter(record["outcome"] for record in run.records)
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


def coverage(results: ResultSet) -> list[dict]:
    """Per parameter: each value, and per adapter how many cases with it ran and how many passed."""
    tallies = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (parameter, value) -> column -> [ran, passed]
    attributes = {}
    for column, run in enumerate(results.runs):
        for record in run.records:
            case_id = record["case_id"]
            if case_id not in attributes:
                attributes[case_id] = case_attributes(case_fields(record))
            passed = record["outcome"] in PASSING
            for parameter in COVERED:
                for value in attributes[case_id][parameter]:
                    tally = tallies[(parameter, value)][column]
                    tally[0] += 1
                    tally[1] += passed
    tables = []
    for parameter in COVERED:
        values = sorted({v for p, v in tallies if p == parameter}, key=lambda v: (len(v), v))
        rows = [
            {"value": value, "cells": [tallies[(parameter, value)].get(c, [0, 0]) for c in range(len(results.runs))]}
            for value in values
        ]
        tables.append({"parameter": parameter.replace("_", " "), "rows": rows})
    return tables


def equivalence_tables(results: ResultSet) -> list[dict]:
    """Per family: its members, and for each pair whether they agree wherever both compute."""
    lines = results.equivalence
    several_versions = len({run.adapter for run in results.runs}) < len(results.runs)
    if not lines or several_versions:  # the file's members are adapter names; versions need the labels
        labelled = [
            {**record, "adapter": run.label}
            for run, record in results.records
            if record["outcome"] != "suite_error" and not case_fields(record)["violates"]  # no geometry to compare
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


def build(results: ResultSet, out_dir: Path, title: str = "Transposed convolution conformance") -> Path:
    """Write ``out_dir/index.html`` and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = (
        environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            outcomes=OUTCOMES,
            summaries=summaries(results),
            register=register(results),
            adapters=[run.label for run in results.runs],
            equivalence=equivalence_tables(results),
            coverage=coverage(results),
            data=report_data(results),
        )
    )
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
