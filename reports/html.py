"""The HTML report: one static page (opens from disk, nothing fetched) built from result records.

Summary per adapter, the matrix of cases by adapter (filters, search, pages, a detail per non-pass
cell with its error map and repro), the cross-framework equivalence of 'same'/'valid', and coverage
of the parameter space. The page carries its data as one JSON block; the matrix is drawn page by page
in the browser, so 100,000 records stay quick.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import jinja2

from conformance.case import Case
from conformance.equivalence import analyse
from conformance.records import OUTCOMES, PASSING
from reports.results import ResultSet

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILTERS = ("rank", "stride", "padding", "output_padding", "dilation", "groups", "dtype", "mode")
# Coverage also counts these, per axis where a parameter has one value per spatial axis.
COVERED = ("rank", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "dtype", "mode", "bias")


def padding_kinds(case: Case) -> list[str]:
    kinds = set()
    for (begin, end), kernel, dilation in zip(case.padding, case.kernel, case.dilation):
        if begin == end == 0:
            kinds.add("zero")
        elif begin == end:
            kinds.add("symmetric")
        else:
            kinds.add("asymmetric")
        if max(begin, end) > dilation * (kernel - 1) // 2:
            kinds.add("beyond half the kernel")
    return sorted(kinds)


def case_attributes(case: Case) -> dict[str, list[str]]:
    """The values a case has on each filtered or covered parameter (per-axis values taken one by one)."""
    return {
        "rank": [f"{case.rank}-D"],
        "kernel": sorted({str(k) for k in case.kernel}),
        "stride": sorted({str(s) for s in case.stride}),
        "padding": padding_kinds(case),
        "output_padding": sorted({str(op) for op in case.output_padding}),
        "dilation": sorted({str(d) for d in case.dilation}),
        "groups": [str(case.groups)],
        "dtype": [case.dtype],
        "mode": [case.mode_spec.kind],
        "bias": ["bias" if case.bias else "no bias"],
    }


def family(case: Case) -> str:
    return f"{case.rank}-D {case.mode_spec.kind}"


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
    cases: dict[str, Case] = {}
    for run in runs:
        for record in run.records:
            if record["case_id"] not in cases:
                cases[record["case_id"]] = Case.from_id(record["case_id"])
    ordered = sorted(cases.values(), key=lambda c: (family(c), c.id))
    row_of = {case.id: row for row, case in enumerate(ordered)}
    cells = [["-"] * len(runs) for _ in ordered]
    details = {}
    code = {outcome: str(index) for index, outcome in enumerate(OUTCOMES)}
    for column, run in enumerate(runs):
        for record in run.records:
            row = row_of[record["case_id"]]
            cells[row][column] = code[record["outcome"]]
            if record["outcome"] != "pass":
                details[f"{row}:{column}"] = _detail(record, strings)
    return {
        "outcomes": list(OUTCOMES),
        "filters": list(FILTERS),
        "adapters": [run.label for run in runs],
        "cases": [
            {"id": case.id, "family": family(case), **{k: v for k, v in case_attributes(case).items() if k in FILTERS}}
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


def coverage(results: ResultSet) -> list[dict]:
    """Per parameter: each value, and per adapter how many cases with it ran and how many passed."""
    tallies = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (parameter, value) -> column -> [ran, passed]
    attributes = {}
    for column, run in enumerate(results.runs):
        for record in run.records:
            case_id = record["case_id"]
            if case_id not in attributes:
                attributes[case_id] = case_attributes(Case.from_id(case_id))
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
        labelled = [{**record, "adapter": run.label} for run, record in results.records]
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
            adapters=[run.label for run in results.runs],
            equivalence=equivalence_tables(results),
            coverage=coverage(results),
            data=report_data(results),
        )
    )
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
