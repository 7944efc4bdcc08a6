"""The published compatibility site: static pages built from result sets, ready for any static host.

A result set is one directory of result files (a run, or several per-framework runs merged), or a
site data file saved from one (``--save-data``): the compact form committed to the repository. The
site has an index comparing frameworks and their versions side by side, a page per adapter (every
version it was run in, the cases whose outcome changed between versions, its history over the result
sets), and the divergence register as the records carry it (reason, kind, links).

The index opens with the feature support table (``reports.features``): a row per feature a porter asks
about, a column per adapter and version, each cell a verdict on that feature's cases, linked to them on
the adapter's page. Pass rates are three shares (``tally``): conforms, registered divergences, unexplained.
A result set is named from its envelopes (profile, date, versions); an adapter's history is kept per
profile, in release order, each point with the cases changed since the one before.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from packaging.version import InvalidVersion, Version

from conformance.case import ID_PATTERN
from conformance.errors import UserError, document_schema, read_document
from conformance.records import GROUP_OF, OUTCOMES, SAFE_NAME
from reports import features
from reports.html import environment
from reports.results import load, place, scope_text

FORMAT = "transposed-convolution-conformance-site-data"
VERSION = 2  # 2: each run carries its raw outcomes and unavailability


def _set_from_results(path: Path, warnings: list) -> dict:
    results = load([path])
    warnings += results.warnings
    runs = []
    for run in results.runs:
        runs.append(
            {
                "adapter": run.adapter,
                "framework": run.envelope.get("framework", run.adapter),
                "round_trip": run.round_trip,
                "conversion": run.envelope.get("conversion"),
                "versions": run.versions,
                "version_text": run.version_text,
                "device": run.envelope.get("device"),
                "profile": run.envelope.get("profile"),
                "unfinished": run.unfinished,
                "unavailable": run.envelope.get("unavailable"),
                "date": run.envelope.get("timestamp_utc"),
                "suite_commit": run.envelope.get("suite_commit"),
                "outcomes": {record["case_id"]: record["outcome"] for record in run.records},
                "raw_outcomes": {
                    record["case_id"]: record["raw_outcome"]
                    for record in run.records
                    if record["raw_outcome"] != record["outcome"]
                },
                "divergences": {
                    record["case_id"]: record["divergence"]["id"] for record in run.records if record.get("divergence")
                },
            }
        )
    divergences = {}
    for _, record in results.records:
        if record.get("divergence"):
            entry = record["divergence"]
            divergences.setdefault(
                entry["id"], {k: entry.get(k) for k in ("kind", "reason", "links", "strict", "scope")}
            )
    dates = sorted(run["date"] for run in runs if run["date"])
    date = dates[-1] if dates else None
    return {
        "name": set_name(runs, date),
        "date": date,
        "suite_commits": sorted({run["suite_commit"] for run in runs if run["suite_commit"]}),
        "runs": runs,
        "divergences": divergences,
    }


def set_name(runs: list[dict], date: str | None) -> str:
    """A result set's name, from its envelopes: profile, date and the versions it ran (never its directory's
    name, which says nothing once published)."""
    profiles = "/".join(sorted({run["profile"] or "unknown profile" for run in runs}))
    versions = ", ".join(
        sorted({f"{package} {version}" for run in runs for package, version in run["versions"].items()})
    )
    when = date[:16].replace("T", " ") + " UTC" if date else "undated"
    return f"{profiles} run of {when}: {versions or 'no versions recorded'}"


def schema() -> dict:
    """The JSON Schema of a site data file (published as schemas/site-data.schema.json)."""
    text_or_null = {"type": ["string", "null"]}
    run = {
        "type": "object",
        "properties": {
            "adapter": {"type": "string", "pattern": SAFE_NAME},
            "framework": {"type": "string", "description": "the adapter's framework (older site data: absent)"},
            "round_trip": {"type": "string", "description": "a round trip's source → converter → target, else empty"},
            "conversion": {
                "type": ["object", "null"],
                "description": "a round trip's source, converter and target (null: none)",
                "properties": {key: {"type": "string"} for key in ("source", "converter", "target")},
                "required": ["source", "converter", "target"],
                "additionalProperties": False,
            },
            "versions": {"type": "object", "additionalProperties": {"type": "string"}},
            "version_text": {"type": "string"},
            "device": text_or_null,
            "profile": text_or_null,
            "unfinished": {**text_or_null, "description": "why the run did not finish (null: it did)"},
            "unavailable": {**text_or_null, "description": "why the adapter could not run (null: it ran)"},
            "date": text_or_null,
            "suite_commit": text_or_null,
            "outcomes": {
                "type": "object",
                "propertyNames": {"pattern": ID_PATTERN.pattern},
                "additionalProperties": {"enum": list(OUTCOMES)},
            },
            "raw_outcomes": {
                "type": "object",
                "description": "what the framework did, before the register, where it differs from the outcome",
                "propertyNames": {"pattern": ID_PATTERN.pattern},
                "additionalProperties": {"enum": [outcome for outcome in OUTCOMES if outcome in GROUP_OF]},
            },
            "divergences": {
                "type": "object",
                "propertyNames": {"pattern": ID_PATTERN.pattern},
                "additionalProperties": {"type": "string"},
            },
        },
        "required": ["adapter", "versions", "version_text", "device", "profile", "unfinished", "unavailable", "date",
                     "suite_commit", "outcomes", "raw_outcomes", "divergences"],
        "additionalProperties": False,
    }  # fmt: skip
    divergence = {
        "type": "object",
        "properties": {
            "kind": {"type": "string"},
            "reason": {"type": "string"},
            "links": {"type": "array", "items": {"type": "string", "pattern": "^https://"}},
            "strict": {"type": ["boolean", "null"]},
            "scope": {"type": ["object", "null"]},
        },
        "required": ["kind", "reason", "links"],
        "additionalProperties": False,
    }
    result_set = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "date": text_or_null,
            "suite_commits": {"type": "array", "items": {"type": "string"}},
            "runs": {"type": "array", "items": run},
            "divergences": {"type": "object", "additionalProperties": divergence},
        },
        "required": ["name", "date", "suite_commits", "runs", "divergences"],
        "additionalProperties": False,
    }
    return document_schema(
        "Transposed-convolution conformance site data",
        "The compact form of result sets that the compatibility site is built from.",
        FORMAT,
        VERSION,
        "sets",
        {"type": "array", "items": result_set},
    )


def read_data(path: Path) -> dict:
    """A saved site data file, validated against ``schema()``; a UserError naming the file and field if not one."""
    return read_document(path, schema(), "give result directories, or site data that publish --save-data wrote")


def _with_raw_outcomes(sets: list[dict], path: Path) -> list[dict]:
    """The sets, once every outcome the register gave (xfail, xpass) is known to carry what the framework did."""
    for result_set in sets:
        for run in result_set["runs"]:
            for case_id, outcome in run["outcomes"].items():
                if outcome not in GROUP_OF and case_id not in run["raw_outcomes"]:
                    raise UserError(
                        f"{path}: set {result_set['name']!r}, {run['adapter']}: case {case_id} is {outcome} "
                        "but raw_outcomes does not say what the framework did"
                    )
    return sets


def collect(paths, warnings: list | None = None) -> dict:
    """Site data from result directories (one set each) and saved site data files, oldest set first;
    what the readers warn of (torn last lines) goes to ``warnings``."""
    warnings = [] if warnings is None else warnings
    sets = []
    for path in map(Path, paths):
        if path.is_dir():
            sets.append(_set_from_results(path, warnings))
        elif path.is_file():
            sets += _with_raw_outcomes(read_data(path)["sets"], path)
        else:
            raise UserError(f"{path}: no such result directory or site data file")
    if not sets:
        raise UserError("no result sets given")
    sets.sort(key=lambda item: item["date"] or "")
    return {"format": FORMAT, "version": VERSION, "sets": sets}


def save(data: dict, path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def page_name(adapter: str) -> str:
    """The adapter's page, from its name alone so that it stays put from build to build: its slug where that
    is the name itself, else the slug and a hash of the exact name ("my.npu" and "NPU" must not take the
    pages of "my-npu" and "npu"). A slug never holds "_", so the two forms cannot meet."""
    if adapter and adapter == slug(adapter):
        return f"adapters/{adapter}.html"
    digest = hashlib.sha256(adapter.encode("utf-8")).hexdigest()[:8]
    return f"adapters/{slug(adapter) or 'adapter'}_{digest}.html"


def _counts(run: dict) -> list[int]:
    tally = Counter(run["outcomes"].values())
    return [tally.get(outcome, 0) for outcome in OUTCOMES]


def raw_outcome(run: dict, case_id: str) -> str:
    """What the framework did on the case, before the register."""
    return run["raw_outcomes"].get(case_id, run["outcomes"][case_id])


def explained(run: dict, case_id: str) -> bool:
    """Whether the register explains the case's raw outcome: as ``conformance.divergences.is_explained``
    says, read off the record (a non-pass outcome carries an entry only where that entry explains it)."""
    outcome = run["outcomes"][case_id]
    return outcome in ("pass", "xfail") or (outcome in ("rejected", "unsupported") and case_id in run["divergences"])


def tally(run: dict) -> dict:
    """The pass rate, as three shares that add up to the cases judged: conforms (the framework's answer is
    right), registered divergences (not right, and the register explains why) and unexplained (not right,
    and nothing explains it). Counted apart: the suite's own errors (never the framework's), and the cases
    the adapter's API cannot express (``unsupported``: there is no answer to judge)."""
    counts = Counter()
    for case_id, outcome in run["outcomes"].items():
        raw = raw_outcome(run, case_id)
        if outcome == "suite_error":
            counts["suite errors"] += 1
        elif raw == "unsupported":
            counts["cannot express"] += 1
        elif GROUP_OF[raw] == "right":
            counts["conforms"] += 1
        elif explained(run, case_id):
            counts["registered"] += 1
        else:
            counts["unexplained"] += 1
    judged = counts["conforms"] + counts["registered"] + counts["unexplained"]
    shares = {f"{key}_share": counts[key] / judged if judged else 0.0 for key in RATES}
    return {**{key: counts[key] for key in (*RATES, "suite errors", "cannot express")}, **shares, "judged": judged}


RATES = ("conforms", "registered", "unexplained")


def _version_key(run: dict) -> tuple:
    """Runs in release order (then by date): each package's version, compared as versions where they are."""
    key = []
    for package, text in sorted(run["versions"].items()):
        try:
            key.append((package, 1, Version(text), text))
        except InvalidVersion:
            key.append((package, 0, Version("0"), text))
    return (tuple(key), run["date"] or "")


def versions_by_adapter(data: dict) -> dict[str, list[dict]]:
    """Per adapter, each profile and version it was run in, from the newest result set holding them (a smoke
    run never stands in for a default run of the same version)."""
    latest: dict[tuple, dict] = {}
    for result_set in data["sets"]:  # oldest first: newer sets replace older ones
        for run in result_set["runs"]:
            latest[(run["adapter"], run["profile"] or "", run["version_text"])] = {**run, "set": result_set["name"]}
    adapters = defaultdict(list)
    for (adapter, _, _), run in sorted(latest.items()):
        adapters[adapter].append(run)
    # A framework's paths side by side, its round trips after them: the report's order.
    return dict(sorted(adapters.items(), key=lambda item: _site_place(item[1][-1])))


def _site_place(run: dict) -> tuple:
    return place(run["adapter"], run.get("framework", run["adapter"]), run.get("conversion"))


def columns(adapters: dict[str, list[dict]]) -> list[dict]:
    """The feature table's columns: each adapter in each version it ran (not unavailable), from the profile
    with the most cases (then the newest); ``anchor`` numbers them on the adapter's page."""
    found = []
    for adapter, runs in adapters.items():
        best: dict[str, dict] = {}
        for run in runs:
            if run["unavailable"] or not run["outcomes"]:
                continue
            held = best.get(run["version_text"])
            if held is None or (len(run["outcomes"]), run["date"] or "") > (len(held["outcomes"]), held["date"] or ""):
                best[run["version_text"]] = run
        for number, run in enumerate(sorted(best.values(), key=_version_key), start=1):
            found.append({"adapter": adapter, "run": run, "anchor": number})
    return found


def feature_cells(run: dict) -> dict[str, dict]:
    """Per feature, the cell of one run: verdict, note, the cases that were not right (by raw outcome and
    register entry), and the entries behind them, most cases first."""
    members = defaultdict(list)
    for case_id in run["outcomes"]:
        for feature_id in features.features_of(case_id):
            members[feature_id].append(case_id)
    cells = {}
    for feature in features.FEATURES:
        cases = members.get(feature.id, [])
        raw = [raw_outcome(run, case_id) for case_id in cases]
        cell, note = features.verdict(raw, [explained(run, case_id) for case_id in cases])
        not_right = defaultdict(list)
        for case_id, outcome in zip(cases, raw):
            if GROUP_OF[outcome] != "right":
                not_right[(outcome, run["divergences"].get(case_id) or "")].append(case_id)
        # The entries the cell names: those behind its wrong answers, crashes and refusals, worst first; what
        # the API cannot express (the capability table's entries) is named on the adapter's page only.
        entries = Counter()
        for (outcome, entry), ids in not_right.items():
            if entry and outcome != "unsupported":
                entries[entry] += len(ids) + (1_000_000 if GROUP_OF[outcome] in ("wrong answer", "broken") else 0)
        cells[feature.id] = {
            "verdict": cell,
            "class": slug(cell),
            "note": note,
            "cases": len(cases),
            "entries": [
                {"id": entry, "short": entry.removeprefix(f"{run['adapter']}-") or entry}
                for entry, _ in sorted(entries.items(), key=lambda item: (-item[1], item[0]))
            ],
            "unregistered": any(not entry for _, entry in not_right),
            "not_right": [
                {"outcome": outcome, "group": GROUP_OF[outcome], "entry": entry, "cases": sorted(ids)}
                for (outcome, entry), ids in sorted(not_right.items(), key=lambda item: (-len(item[1]), item[0]))
            ],
        }
    return cells


def _state(run: dict, case_id: str) -> tuple:
    if case_id not in run["outcomes"]:
        return ("not run", "not run", "")
    return (raw_outcome(run, case_id), run["outcomes"][case_id], run["divergences"].get(case_id) or "")


def changes(before: dict, after: dict) -> list[dict]:
    """The cases whose raw outcome, recorded outcome or register entry differ between two runs."""
    changed = []
    for case_id in sorted(set(before["outcomes"]) | set(after["outcomes"])):
        old, new = _state(before, case_id), _state(after, case_id)
        if old != new:
            changed.append({"case_id": case_id, "before": old, "after": new})
    return changed


def history(data: dict, adapter: str) -> list[dict]:
    """The adapter's history, one per profile (a smoke run and a default run are never one trend): its runs
    over every result set in release order, each with the cases changed since the point before it."""
    by_profile = defaultdict(list)
    for result_set in data["sets"]:
        for run in result_set["runs"]:
            if run["adapter"] == adapter:
                by_profile[run["profile"] or "unknown profile"].append({**run, "set": result_set["name"]})
    found = []
    for profile, runs in sorted(by_profile.items()):
        points, previous = [], None
        for run in sorted(runs, key=_version_key):
            point = {**run, "tally": tally(run), "counts": _counts(run), "commit": (run["suite_commit"] or "")[:12]}
            if previous is not None and not run["unavailable"]:
                point["since"] = {"versions": previous["version_text"], "set": previous["set"],
                                  "changes": changes(previous, run)}  # fmt: skip
            else:
                point["since"] = None
            if not run["unavailable"]:
                previous = run
            points.append(point)
        found.append({"profile": profile, "anchor": slug(profile) or "profile", "points": points})
    return found


def build(data: dict, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    (out_dir / "adapters").mkdir(parents=True, exist_ok=True)
    templates = environment()
    adapters = versions_by_adapter(data)
    pages = {adapter: page_name(adapter) for adapter in adapters}
    owners: dict[str, str] = {}
    for adapter, page in pages.items():  # only a hash collision could share one: refuse, never overwrite a page
        if owners.setdefault(page, adapter) != adapter:
            raise ValueError(f"adapters {owners[page]!r} and {adapter!r} would share the page {page}")
    rows = []
    for adapter, runs in adapters.items():
        for run in runs:
            rows.append(
                {
                    **run,
                    "page": pages[adapter],
                    "tally": tally(run),
                    "total": len(run["outcomes"]),
                    "several": len(runs) > 1,
                }
            )
    table = columns(adapters)
    for column in table:
        column["cells"] = feature_cells(column["run"])
        column["page"] = pages[column["adapter"]]
    unavailable = [row for row in rows if row["unavailable"]]
    divergences = {}
    for result_set in data["sets"]:
        divergences.update(result_set["divergences"])
    used = defaultdict(Counter)  # divergence id -> adapter -> cases, in the newest version of each adapter
    for adapter, runs in adapters.items():
        for run in runs:
            for divergence in run["divergences"].values():
                used[divergence][f"{adapter} ({run['version_text']}, {run['profile']})"] += 1
    common = dict(outcomes=OUTCOMES, sets=data["sets"], rates=RATES, cell_names=features.CELLS)
    index = out_dir / "index.html"
    index.write_text(
        templates.get_template("site_index.html.j2").render(
            rows=rows, features=features.FEATURES, columns=table, unavailable=unavailable, **common
        ),
        encoding="utf-8",
    )
    (out_dir / "divergences.html").write_text(
        templates.get_template("site_divergences.html.j2").render(
            divergences=[
                {**value, "id": key, "scope": scope_text(value.get("scope")), "used": sorted(used[key].items())}
                for key, value in sorted(divergences.items())
            ],
            **common,
        ),
        encoding="utf-8",
    )
    for adapter, runs in adapters.items():
        page = templates.get_template("site_adapter.html.j2").render(
            adapter=adapter,
            versions=[{**run, "counts": _counts(run), "tally": tally(run)} for run in runs],
            columns=[column for column in table if column["adapter"] == adapter],
            features=features.FEATURES,
            history=history(data, adapter),
            **common,
        )
        (out_dir / pages[adapter]).write_text(page, encoding="utf-8")
    return index
