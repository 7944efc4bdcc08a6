"""Result files read back and merged: one ``Run`` per adapter's file, from any number of directories.

Per-framework runs (one tox env each) write their files to their own directories; a report, a gate
or a site is built from several of them at once. The same adapter may appear in several versions
(two onnxruntime releases): each is its own run, labelled with its versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from conformance.records import file_kind, read_result_file


@dataclass
class Run:
    """One adapter's result file: what ran, on what, and whether the run finished."""

    path: Path
    envelope: dict
    records: list[dict]
    end: dict | None
    label: str = ""

    @property
    def adapter(self) -> str:
        return self.envelope["adapter"]

    @property
    def versions(self) -> dict:
        return self.envelope.get("framework_versions", {})

    @property
    def version_text(self) -> str:
        return ", ".join(f"{package} {version}" for package, version in sorted(self.versions.items())) or "-"

    @property
    def unfinished(self) -> str | None:
        """Why the run did not finish, or None if it did."""
        if self.end is None:
            return f"{self.path}: no end line (the run was killed or is still going) after {len(self.records)} records"
        if self.end["records"] < self.end["planned"]:
            return f"{self.path}: {self.end['records']} of {self.end['planned']} planned cases have records"
        return None


@dataclass
class ResultSet:
    """Every run found under the given paths, plus any equivalence records among them."""

    runs: list[Run] = field(default_factory=list)
    equivalence: list[dict] = field(default_factory=list)

    @property
    def records(self) -> list[tuple[Run, dict]]:
        return [(run, record) for run in self.runs for record in run.records]


def _files(paths) -> list[Path]:
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.rglob("*.jsonl"))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such result file or directory")
    return found


def load(paths) -> ResultSet:
    """Read result files and directories (searched recursively) into one set of runs."""
    results = ResultSet()
    for path in _files(paths):
        if file_kind(path) == "equivalence":
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
            results.equivalence += [line for line in lines if line.get("type") == "equivalence"]
            continue
        envelope, records, end = read_result_file(path)
        results.runs.append(Run(path, envelope, records, end))
    _label(results.runs)
    return results


def _label(runs: list[Run]) -> None:
    """Adapter names, with the versions added where one adapter appears in several versions."""
    by_adapter: dict[str, list[Run]] = {}
    for run in runs:
        by_adapter.setdefault(run.adapter, []).append(run)
    for adapter, same in by_adapter.items():
        versions = {run.version_text for run in same}
        if len(versions) < len(same):
            paths = ", ".join(str(run.path) for run in same)
            raise ValueError(f"adapter {adapter!r} appears twice with the same versions ({paths}): give one of them")
        for run in same:
            run.label = adapter if len(same) == 1 else f"{adapter} ({run.version_text})"


def scope_text(scope: dict | None) -> str:
    """A divergence's scope as a reader writes it ("cpu; onnxruntime >=1.30,<1.32"), empty when unscoped."""
    if not scope:
        return ""
    devices = ", ".join(scope.get("devices") or [])
    versions = ", ".join(f"{package} {spec}" for package, spec in (scope.get("versions") or {}).items())
    return "; ".join(part for part in (devices, versions) if part)
