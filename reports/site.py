"""The published compatibility site: static pages built from result sets, ready for any static host.

A result set is one directory of result files (a run, or several per-framework runs merged), or a
site data file saved from one (``--save-data``): the compact form committed to the repository. The
site has an index comparing frameworks and their versions side by side, a page per adapter (every
version it was run in, the cases whose outcome changed between versions, its history over the result
sets), and the divergence register as the records carry it (reason, kind, links).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from conformance.case import ID_PATTERN
from conformance.errors import UserError, document_schema, read_document
from conformance.records import OUTCOMES, PASSING, SAFE_NAME
from reports.html import environment
from reports.results import load, scope_text

FORMAT = "transposed-convolution-conformance-site-data"
VERSION = 1


def _set_from_results(path: Path, warnings: list) -> dict:
    results = load([path])
    warnings += results.warnings
    runs = []
    for run in results.runs:
        runs.append(
            {
                "adapter": run.adapter,
                "versions": run.versions,
                "version_text": run.version_text,
                "device": run.envelope.get("device"),
                "profile": run.envelope.get("profile"),
                "unfinished": run.unfinished,
                "date": run.envelope.get("timestamp_utc"),
                "suite_commit": run.envelope.get("suite_commit"),
                "outcomes": {record["case_id"]: record["outcome"] for record in run.records},
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
    return {
        "name": path.name,
        "date": dates[-1] if dates else None,
        "suite_commits": sorted({run["suite_commit"] for run in runs if run["suite_commit"]}),
        "runs": runs,
        "divergences": divergences,
    }


def schema() -> dict:
    """The JSON Schema of a site data file (published as schemas/site-data.schema.json)."""
    text_or_null = {"type": ["string", "null"]}
    run = {
        "type": "object",
        "properties": {
            "adapter": {"type": "string", "pattern": SAFE_NAME},
            "versions": {"type": "object", "additionalProperties": {"type": "string"}},
            "version_text": {"type": "string"},
            "device": text_or_null,
            "profile": text_or_null,
            "unfinished": {**text_or_null, "description": "why the run did not finish (null: it did)"},
            "date": text_or_null,
            "suite_commit": text_or_null,
            "outcomes": {
                "type": "object",
                "propertyNames": {"pattern": ID_PATTERN.pattern},
                "additionalProperties": {"enum": list(OUTCOMES)},
            },
            "divergences": {
                "type": "object",
                "propertyNames": {"pattern": ID_PATTERN.pattern},
                "additionalProperties": {"type": "string"},
            },
        },
        "required": ["adapter", "versions", "version_text", "device", "profile", "unfinished", "date", "suite_commit",
                     "outcomes", "divergences"],
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


def collect(paths, warnings: list | None = None) -> dict:
    """Site data from result directories (one set each) and saved site data files, oldest set first;
    what the readers warn of (torn last lines) goes to ``warnings``."""
    warnings = [] if warnings is None else warnings
    sets = []
    for path in map(Path, paths):
        if path.is_dir():
            sets.append(_set_from_results(path, warnings))
        elif path.is_file():
            sets += read_data(path)["sets"]
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


def _pass_rate(run: dict) -> float:
    """Passed / cases run, leaving out what the API cannot express and the suite's own errors."""
    ran = [o for o in run["outcomes"].values() if o not in ("unsupported", "suite_error")]
    return sum(o in PASSING for o in ran) / len(ran) if ran else 0.0


def versions_by_adapter(data: dict) -> dict[str, list[dict]]:
    """Per adapter, each version it was run in, from the newest result set holding that version."""
    latest: dict[tuple, dict] = {}
    for result_set in data["sets"]:  # oldest first: newer sets replace older ones
        for run in result_set["runs"]:
            latest[(run["adapter"], run["version_text"])] = {**run, "set": result_set["name"]}
    adapters = defaultdict(list)
    for (adapter, _), run in sorted(latest.items()):
        adapters[adapter].append(run)
    return dict(sorted(adapters.items()))


def _changes(versions: list[dict]) -> list[dict]:
    """Cases whose outcome differs between an adapter's versions."""
    if len(versions) < 2:
        return []
    cases = sorted(set().union(*(run["outcomes"] for run in versions)))
    changed = []
    for case_id in cases:
        outcomes = [run["outcomes"].get(case_id, "not run") for run in versions]
        if len(set(outcomes)) > 1:
            changed.append({"case_id": case_id, "outcomes": outcomes})
    return changed


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
    for adapter, versions in adapters.items():
        for run in versions:
            rows.append(
                {
                    "adapter": adapter,
                    "page": pages[adapter],
                    "versions": run["version_text"],
                    "set": run["set"],
                    "date": run["date"],
                    "counts": _counts(run),
                    "total": len(run["outcomes"]),
                    "pass_rate": _pass_rate(run),
                    "several": len(versions) > 1,
                    "unfinished": run["unfinished"],
                }
            )
    divergences = {}
    for result_set in data["sets"]:
        divergences.update(result_set["divergences"])
    used = defaultdict(Counter)  # divergence id -> adapter -> cases, in the newest version of each adapter
    for adapter, versions in adapters.items():
        for run in versions:
            for divergence in run["divergences"].values():
                used[divergence][f"{adapter} ({run['version_text']})"] += 1
    common = dict(outcomes=OUTCOMES, sets=data["sets"])
    index = out_dir / "index.html"
    index.write_text(templates.get_template("site_index.html.j2").render(rows=rows, **common), encoding="utf-8")
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
    for adapter, versions in adapters.items():
        history = [
            {"set": result_set["name"], "date": run["date"], "commit": (run["suite_commit"] or "")[:12],
             "versions": run["version_text"], "counts": _counts(run), "pass_rate": _pass_rate(run)}
            for result_set in data["sets"]
            for run in result_set["runs"]
            if run["adapter"] == adapter
        ]  # fmt: skip
        page = templates.get_template("site_adapter.html.j2").render(
            adapter=adapter,
            versions=[{**run, "counts": _counts(run), "pass_rate": _pass_rate(run)} for run in versions],
            changes=_changes(versions),
            history=history,
            **common,
        )
        (out_dir / pages[adapter]).write_text(page, encoding="utf-8")
    return index
