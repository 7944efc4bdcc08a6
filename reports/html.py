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

from conformance import models, modes, porting
from conformance.case import Case
from conformance.equivalence import PATHS, analyse, family_member
from conformance.records import OUTCOME_GROUPS, OUTCOMES, PASSING, STAGES, raw_outcome
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
# The matrix's cells say what the framework did (the raw outcome, grouped as a porter asks) and whether the
# register is involved: one character per cell, the raw outcome's index plus len(RAW) times the mark.
RAW = tuple(outcome for outcomes in OUTCOME_GROUPS.values() for outcome in outcomes)
MARKS = ("", "registered", "xpass")  # no entry; explained by an entry; an entry that no longer reproduces
CODES = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
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


MODEL_FAMILY = "model layers"  # the family the matrix's filter gives the models set's cases


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


def mark(record: dict) -> str:
    """How the register is involved in a record: not at all, it explains it, or it expected a failure that no
    longer happens (xpass). A pass that a non-strict entry matched needed no explaining: no mark; a pass
    within a tolerance entry's widened bound did."""
    divergence = record.get("divergence")
    if record["outcome"] == "xpass":
        return "xpass"
    if divergence is None or (raw_outcome(record) == "pass" and divergence.get("kind") != "tolerance"):
        return ""
    return "registered"


def is_unexplained(record: dict) -> bool:
    return not record.get("explained", record["outcome"] in PASSING)


def cell_code(record: dict) -> str:
    """The record's one character in the matrix: its raw outcome and its mark (``RAW``, ``MARKS``)."""
    return _CODE_OF[raw_outcome(record), mark(record)]


_CODE_OF = {(raw, how): CODES[i + len(RAW) * m] for i, raw in enumerate(RAW) for m, how in enumerate(MARKS)}


def has_detail(record: dict, violates) -> bool:
    """Which cells the page can open (the page's script applies the same rule to the cell codes): every
    cell but a plain pass; a must-reject case's refusal (its pass) has one too."""
    return raw_outcome(record) != "pass" or mark(record) != "" or bool(violates)


def _detail(record: dict, strings: _Strings) -> dict:
    metrics = dict(record.get("metrics") or {})
    message = metrics.pop("message", None)
    divergence = record.get("divergence")
    gradients = gradient_rows(metrics)
    if gradients is not None:
        del metrics["gradients"]  # the detail's "gradients" carries them, each with its outcome
    return {
        "outcome": record["outcome"],
        "raw": raw_outcome(record),
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
                layer = models.name_of(record["case_id"])  # a well-known model's layer (conformance/models.py)
                if layer:
                    fields = {**fields, "model": layer}
                table[record["case_id"]] = {
                    "id": record["case_id"],
                    "fields": fields,
                    "family": MODEL_FAMILY if layer else family(fields),
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
    chunks: dict[int, dict] = defaultdict(lambda: {"details": {}, "strings": _Strings(), "cases": {}})
    for column, run in enumerate(runs):
        for record in run.records:
            row = row_of[record["case_id"]]
            cells[row][column] = cell_code(record)
            fields = ordered[row]["fields"]
            if has_detail(record, fields["violates"]):
                chunk = chunks[row // CHUNK_ROWS]
                chunk["details"][f"{row}:{column}"] = _detail(record, chunk["strings"])
                chunk["cases"][row] = fields  # the detail's parameter table
    values = {name: _in_order({v for case in ordered for v in case["attributes"][name]}) for name in FILTERS}
    index_of = {name: {value: i for i, value in enumerate(values[name])} for name in FILTERS}
    families = sorted({case["family"] for case in ordered})
    family_index = {name: i for i, name in enumerate(families)}
    data = {
        "raw": list(RAW),
        "marks": list(MARKS),
        "groups": {group: list(outcomes) for group, outcomes in OUTCOME_GROUPS.items()},
        "refused_at": {stage: f"Refused at {stage}: {what}." for stage, what in STAGES.items()},
        "filters": list(FILTERS),
        "values": values,
        "families": families,
        "adapters": [run.label for run in runs],
        "short_labels": [short_label(run.label) for run in runs],
        "adapter_titles": [": ".join(filter(None, (run.label, run.round_trip, run.version_text))) for run in runs],
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
        number: {
            "details": chunk["details"],
            "strings": chunk["strings"].items,
            "cases": {str(row): fields for row, fields in chunk["cases"].items()},
        }
        for number, chunk in chunks.items()
    }
    return data, dict(sorted(files.items()))


def short_label(label: str) -> str:
    """A matrix column's label, short enough to read rotated: Keras's backends and data format abbreviated
    (the full label and versions are on hover)."""
    short = label.replace("keras-tensorflow", "keras-tf").replace("-channels-first", " cf")
    return short.replace("tf-nn-explicit-pads", "tf-nn pads")


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


def _tally(records) -> dict:
    """Counts by raw outcome (``RAW`` order), each with how many the register explains and how many it no
    longer explains (xpass); and the unexplained ones, which fail a run."""
    states = Counter((raw_outcome(record), mark(record), is_unexplained(record)) for record in records)
    raw, registered, xpass = Counter(), Counter(), Counter()
    unexplained = 0
    for (outcome, how, unexplained_one), n in states.items():
        raw[outcome] += n
        registered[outcome] += n * (how == "registered")
        xpass[outcome] += n * (how == "xpass")
        unexplained += n * unexplained_one
    return {
        "raw": [{"count": raw[o], "registered": registered[o], "xpass": xpass[o]} for o in RAW],
        "unexplained": unexplained,
        "total": sum(raw.values()),
    }


def summaries(results: ResultSet, cases: dict[str, dict] | None = None) -> list[dict]:
    """Per adapter: what ran it, and for its forward and its backward cases apart (``directions``, with
    ``total`` 0 where it ran none of a direction's) the counts by raw outcome with the register's marks."""
    cases = case_table(results) if cases is None else cases
    rows = []
    for run in results.runs:
        envelope = run.envelope
        by_direction = {direction: [] for direction in DIRECTIONS}
        for record in run.records:
            (direction,) = cases[record["case_id"]]["attributes"]["direction"]
            by_direction.setdefault(direction, []).append(record)
        directions = [{"direction": direction, **_tally(records)} for direction, records in by_direction.items()]
        rows.append(
            {
                "label": run.label,
                "short_label": short_label(run.label),
                "round_trip": run.round_trip,
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
                "unexplained": sum(part["unexplained"] for part in directions),
                "total": len(run.records),
                "directions": directions,
            }
        )
    return rows


def verdict(rows: list[dict]) -> dict:
    """The report's first line: how many outcomes nothing explains, and whose; which adapters did not run
    or did not finish."""
    return {
        "unexplained": sum(row["unexplained"] for row in rows),
        "by_adapter": [(row["label"], row["unexplained"]) for row in rows if row["unexplained"]],
        "unavailable": [row["label"] for row in rows if row["unavailable"]],
        "unfinished": [row["label"] for row in rows if row["unfinished"]],
        "adapters": len(rows),
        "results": sum(row["total"] for row in rows),
    }


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
                key = raw_outcome(record)
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
    """Per family: its members, and for each pair three numbers over the points both ran: agree, differ
    (shape or values), one refuses. Members that are one adapter's data formats or versions, and that
    agree with each other and relate alike to every other member, are shown as one."""
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
        frameworks = {run.label: run.envelope["framework"] for run in results.runs}
        # The paths of one framework are compared on every case, where the framework has several.
        several = {name for name, count in Counter(frameworks.values()).items() if count > 1}
        labelled = [
            {**record, "adapter": run.label}
            for run, record in results.records
            if (record["case_id"] in members or frameworks[run.label] in several) and record["outcome"] != "suite_error"
        ]
        lines = analyse(labelled, {label: name for label, name in frameworks.items() if name in several})
    tables = []
    paths = sorted({line["family"] for line in lines if line["family"].startswith(PATHS)})
    for name in ("same", "valid", *paths):
        pairs = {(line["a"], line["b"]): line for line in lines if line["family"] == name}
        members, shown = _collapsed(sorted({member for pair in pairs for member in pair}), pairs)
        grid = []
        for a in members:
            row = []
            for b in members:
                line = pairs.get((a, b)) or pairs.get((b, a))
                row.append(None if a == b or line is None else _pair_cell(line, flipped=(a, b) not in pairs))
            grid.append({"member": shown[a], "cells": row})
        tables.append(
            {
                "family": name,
                "title": f"paths of {name[len(PATHS) :]}" if name.startswith(PATHS) else f"'{name}'",
                "members": [shown[m] for m in members],
                "short_members": [short_label(shown[m]) for m in members],
                "grid": grid,
            }
        )
    return tables


DIFFER = ("shape differs", "values differ")  # conformance.equivalence's verdicts of two windows that differ
_VARIANT = re.compile(r"-channels-first(?=:| \()| \([^)]*\)(?=:)")  # a data format or a version in a member's name


def _line_numbers(line: dict | None) -> tuple | None:
    if line is None:
        return None
    counts = line["counts"]
    return counts.get("agree", 0), sum(counts.get(v, 0) for v in DIFFER), counts.get("one refuses", 0)


def _collapsed(members: list[str], pairs: dict) -> tuple[list[str], dict[str, str]]:
    """The members to show, and each one's name: a member whose name differs from an earlier one's only by
    a data format or a version is folded into it where the two never differ nor one refuses, and every other
    member's numbers with them are the same."""

    def numbers(a, b):
        return _line_numbers(pairs.get((a, b)) or pairs.get((b, a)))

    kept, shown, folded = [], {}, {}
    # A plain member before its variants, so that the row keeps the plain name.
    for member in sorted(members, key=lambda m: (_VARIANT.sub("", m), len(_VARIANT.findall(m)), m)):
        base = _VARIANT.sub("", member)
        into = next(
            (
                other
                for other in kept
                if _VARIANT.sub("", other) == base
                and (numbers(member, other) or (0, 1, 0))[1:] == (0, 0)
                and all(numbers(member, c) == numbers(other, c) for c in members if c not in (member, other))
            ),
            None,
        )
        if into is None:
            kept.append(member)
            shown[member] = member
        else:
            folded.setdefault(into, []).append(member)
    for member, others in folded.items():
        variants = [" ".join(v.strip(" -()") for v in _VARIANT.findall(other)) or other for other in others]
        shown[member] = f"{member} (also {', '.join(variants)})"
    return kept, shown


def _pair_cell(line: dict, flipped: bool) -> dict:
    agree, differ, one_refuses = _line_numbers(line)
    counts = line["counts"]
    where = line.get("smallest_disagreement")
    title = f"{line['points']} shared points: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    if where:
        first, second = (where["b"], where["a"]) if flipped else (where["a"], where["b"])
        title += (
            f"; smallest disagreement ({where['verdict']}): n={where['input_size']} k={where['kernel']} "
            f"s={where['stride']} d={where['dilation']}: {first['case_id']} vs {second['case_id']}"
        )
    kind = "differ" if differ else "agree" if agree else "none"
    return {"agree": agree, "differ": differ, "one_refuses": one_refuses, "kind": kind, "title": title}


def error_sizes(results: ResultSet) -> dict:
    """Per adapter and dtype, how the worst error of each compared case stands to its tolerance (the
    record's ``max_error_over_tolerance``; the worst gradient's for a backward case), counted in bins."""
    dtypes = set()
    tallies = []
    for run in results.runs:
        tally = defaultdict(lambda: [0] * len(ERROR_BINS))
        for record in run.records:
            ratio = (record.get("metrics") or {}).get("max_error_over_tolerance")
            if isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
                dtype = (record.get("case") or {}).get("dtype") or Case.from_id(record["case_id"]).dtype
                dtypes.add(dtype)
                tally[dtype][_error_bin(ratio)] += 1
        tallies.append((run.label, tally))
    ordered = [dtype for dtype in ("float64", "float32", "float16", "bfloat16") if dtype in dtypes]
    ordered += sorted(dtypes - set(ordered))
    rows = [
        {"label": label, "cells": [_error_cell(tally.get(dtype), label, dtype) for dtype in ordered]}
        for label, tally in tallies
    ]
    return {"dtypes": ordered, "rows": rows, "bins": [label for _, label in ERROR_BINS]}


# Upper edges of the bins of error / tolerance, with their labels: under 1 is within tolerance.
ERROR_BINS = (
    (1e-3, "< 0.001"), (1e-2, "0.001-0.01"), (0.1, "0.01-0.1"), (0.5, "0.1-0.5"), (1.0, "0.5-1"),
    (10.0, "1-10 (fails)"), (float("inf"), "> 10 (fails)"),
)  # fmt: skip


def _error_bin(ratio: float) -> int:
    return next((i for i, (edge, _) in enumerate(ERROR_BINS) if ratio <= edge), len(ERROR_BINS) - 1)


def _error_cell(counts: list[int] | None, label: str, dtype: str) -> dict | None:
    """One small bar chart's data: bar heights (0-20 px) per bin, and a text of the counts for hover and readers."""
    if counts is None:
        return None
    tallest = max(counts)
    bars = [
        {"height": round(20 * n / tallest) if n else 0, "count": n, "fails": edge > 1.0, "x": 2 + 9 * i}
        for i, ((edge, _), n) in enumerate(zip(ERROR_BINS, counts))
    ]
    text = f"{label}, {dtype}: error / tolerance of {sum(counts)} compared cases: " + ", ".join(
        f"{n} in {name}" for (_, name), n in zip(ERROR_BINS, counts) if n
    )
    return {"bars": bars, "text": text, "cases": sum(counts), "fails": sum(counts[5:])}


PORTING = "porting.html"  # the porting table's page, next to index.html


def _axes(values) -> str:
    return "x".join(map(str, values))


def _listed(items, most: int = 3) -> str:
    """The first few items, and how many more: a hover text, not an inventory (the full profile backs a
    spelling with dozens of cases)."""
    items = list(items)
    more = f", and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def porting_rows(results: ResultSet, cases: dict[str, dict] | None = None) -> dict:
    """The porting table as the page shows it, at the mode grid's points: per point and output window, each
    framework's spellings that passing records back (with those records), those that ran and did not pass,
    and why a framework has none (``conformance.porting``)."""
    cases = case_table(results) if cases is None else cases
    # The points of the mode grid, where each framework's own spellings and (their explicit twins) the pads of
    # torch, ONNX and JAX are all asked: a drawn explicit case's point has only explicit spellings recorded.
    point_of, mode_points = {}, set()
    for case_id, case in cases.items():
        fields = case["fields"]
        if fields["direction"] != "forward" or fields["violates"]:
            continue
        point_of[case_id] = tuple(tuple(fields[name]) for name in ("input_size", "kernel", "stride", "dilation"))
        if fields["mode"] != modes.EXPLICIT:
            mode_points.add(point_of[case_id])
    wanted = {case_id for case_id, point in point_of.items() if point in mode_points}
    table = porting.porting_table((r for _, r in results.records if r["case_id"] in wanted), every_spelling=False)
    rows = []
    for point in table:
        g = point["geometry"]
        where = f"n={_axes(g['input_size'])} k={_axes(g['kernel'])} s={_axes(g['stride'])} d={_axes(g['dilation'])}"
        for row in point["meanings"]:
            m = row["meaning"]
            crop = f"crop begin {_axes(m['begin'])}, end {_axes(m['end'])}"
            window = f"{_axes(m['output_size'])} of {_axes(m['full_size'])}: {crop}"
            if any(m["appended"]):
                window += f", {_axes(m['appended'])} zeros appended"
            cells = []
            for framework in porting.FRAMEWORKS:
                cell = row["frameworks"][framework]
                entries = cell["spellings"]
                cells.append(
                    {
                        "backed": [
                            {
                                "text": e["text"],
                                "proof": _listed(f"{b['adapter']}: {b['case_id']}" for b in e["backed_by"]),
                            }
                            for e in entries
                            if e["status"] == "backed"
                        ],
                        "failing": [
                            {
                                "text": e["text"],
                                "proof": _listed(f"{b['adapter']}: {b['outcome']}" for b in e["not_passing"]),
                            }
                            for e in entries
                            if e["status"] == "not passing"
                        ],
                        "not_run": [e["text"] for e in entries if e["status"] == "not run here"],
                        "cannot": cell["cannot"],
                    }
                )
            rows.append({"where": where, "window": window, "cells": cells})
    return {"frameworks": list(porting.FRAMEWORKS), "rows": rows, "counts": porting.table_counts(table)}


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
        rows = summaries(results, cases)
        page = (
            environment()
            .get_template("report.html.j2")
            .render(
                title=title,
                outcomes=OUTCOMES,
                summaries=rows,
                verdict=verdict(rows),
                raw=RAW,
                groups=OUTCOME_GROUPS,
                error_sizes=error_sizes(results),
                register=register(results),
                adapters=[run.label for run in results.runs],
                equivalence=equivalence_tables(results, cases),
                coverage=coverage(results, cases),
                data_json=script_json(data),
            )
        )
        porting_page = (
            environment()
            .get_template("report_porting.html.j2")
            .render(title=title, porting=porting_rows(results, cases))
        )
        details = out_dir / DETAILS
        details.mkdir(parents=True, exist_ok=True)
        for stale in details.glob("chunk-*.js"):  # an earlier build's, which this one may not overwrite
            stale.unlink()
        for number, chunk in chunks.items():
            (out_dir / details_file(number)).write_text(details_script(number, chunk), encoding="utf-8")
    (out_dir / PORTING).write_text(porting_page, encoding="utf-8")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
