"""Result files read back and merged: one ``Run`` per adapter's file, from any number of directories.

Per-framework runs (one tox env each) write their files to their own directories; a report, a gate
or a site is built from several of them at once. The same adapter may appear in several versions
(two onnxruntime releases): each is its own run, labelled with its versions.

A run split into shards (``run --shard K/N``, one CI job each) leaves one file per shard, its envelope
saying ``"shard": {"index": K, "count": N}``; the shards of one adapter and versions are read back as
one run, wherever their files lie. A shard that is missing leaves that run unfinished; shards that
cannot be parts of one run (a shard twice, a case twice, another profile or commit) are an error.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from conformance import equivalence
from conformance.errors import UserError
from conformance.records import Conversion, file_kind, read_result_file


@dataclass
class Run:
    """One adapter's result file: what ran, on what, and whether the run finished."""

    path: Path
    envelope: dict
    records: list[dict]
    end: dict | None
    label: str = ""
    parts: list[Run] = field(default_factory=list)  # a sharded run's shard files, by shard index
    missing_shards: list[int] = field(default_factory=list)

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
    def round_trip(self) -> str:
        """A round trip's path ("torch → torch.onnx.export (dynamo) → onnxruntime"); "" for a framework's own."""
        conversion = self.envelope.get("conversion")
        return Conversion(**conversion).label() if conversion else ""

    @property
    def shard(self) -> dict | None:
        return self.envelope.get("shard")

    @property
    def paths(self) -> list[Path]:
        """The files the run was read from: one, or its shards'."""
        return [part.path for part in self.parts] or [self.path]

    @property
    def unfinished(self) -> str | None:
        """Why the run did not finish, or None if it did."""
        if self.parts:  # each shard's own file says best where it stopped
            reasons = [part.unfinished for part in self.parts if part.unfinished]
            if self.missing_shards:
                missing, count = ", ".join(map(str, self.missing_shards)), self.envelope["shards"]
                given = ", ".join(map(str, self.paths))
                reasons.insert(0, f"{self.label or self.adapter}: shards {missing} of {count} missing (given: {given})")
            return "; ".join(reasons) or None
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
    warnings: list[str] = field(default_factory=list)  # torn last lines skipped, with file and line

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
            raise UserError(f"{path}: no such result file or directory")
    return found


def load(paths) -> ResultSet:
    """Read result files and directories (searched recursively) into one set of runs."""
    results = ResultSet()
    # The records are millions of small objects that all live on: each automatic collection would walk
    # every one of them again (the full profile's 380,000 records: 28 s to read, 8 s without collections).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in _files(paths):
            if file_kind(path) == "equivalence":
                results.equivalence += equivalence.read(path)
                continue
            contents = read_result_file(path)
            results.warnings += contents.warnings
            results.runs.append(Run(path, contents.envelope, contents.records, contents.end))
    finally:
        if collecting:
            gc.enable()
    if not results.runs:
        raise UserError(f"no result files (*.jsonl with an envelope) in {', '.join(map(str, paths))}")
    results.runs = sorted(_merge_shards(results.runs), key=_place)
    _label(results.runs)
    return results


def place(adapter: str, framework: str, conversion: dict | None) -> tuple:
    """Where an adapter's column and row go, in the report and on the site: a framework's paths side by side,
    and after them the round trips that start from that framework (each converter's adapters together)."""
    if conversion:
        return (conversion["source"], 1, framework, adapter)
    return (framework, 0, "", adapter)


def _place(run: Run) -> tuple:
    return place(run.adapter, run.envelope.get("framework", run.adapter), run.envelope.get("conversion"))


# What the shards of one run must share besides adapter and versions. The suite commit is among them:
# a profile's cases, and how each is judged, are those of a commit, and each shard's planned count is
# only its own, so shards of two commits could leave cases out with no count showing it. Time, platform
# and CPU model may differ: each shard is its own CI job, on whichever runner it was given.
SHARED = ("device", "profile", "suite_commit", "precision", "unavailable")


def _merge_shards(runs: list[Run]) -> list[Run]:
    """The runs, with the shards of each adapter and versions merged into one run where its first shard was."""
    shards: dict[tuple, list[Run]] = {}
    for run in runs:
        if run.shard is not None:
            shards.setdefault((run.adapter, run.version_text), []).append(run)
    _check_versions(list(shards.values()))
    merged = {key: _merged(parts) for key, parts in shards.items()}
    result = []
    for run in runs:
        if run.shard is None:
            result.append(run)
        elif run is shards[(run.adapter, run.version_text)][0]:
            result.append(merged[(run.adapter, run.version_text)])
    return result


def _check_versions(groups: list[list[Run]]) -> None:
    """Two runs of one adapter in two versions each have their own shard 1, 2, ...; shards in two versions whose
    indices never meet are one run whose CI jobs installed different versions, not two runs."""
    for one, other in combinations(groups, 2):
        indices = {part.shard["index"] for part in one}
        if one[0].adapter != other[0].adapter or indices & {part.shard["index"] for part in other}:
            continue
        raise UserError(
            f"shards of {one[0].adapter} disagree on framework_versions: {one[0].version_text} in {_names(one)}; "
            f"{other[0].version_text} in {_names(other)}. The shards of one run must run the same versions"
        )


def _merged(parts: list[Run]) -> Run:
    """One run from its shards: their records in case-id order, their counts summed."""
    parts = _in_shard_order(parts)
    found_in: dict[str, Path] = {}
    for part in parts:
        for record in part.records:
            earlier = found_in.setdefault(record["case_id"], part.path)
            if earlier != part.path:
                raise UserError(f"case {record['case_id']} is in two shards: {earlier} and {part.path}")
    count = parts[0].shard["count"]
    envelope = dict(parts[0].envelope)
    envelope.update(
        shard=None,  # the whole run, as an unsharded one says
        shards=count,
        planned=sum(part.envelope["planned"] for part in parts),
        timestamp_utc=min(part.envelope["timestamp_utc"] for part in parts),  # when the run began, as unsharded
        device_model=_each(part.envelope.get("device_model") for part in parts),
        platform={key: _each(part.envelope["platform"].get(key) for part in parts) for key in envelope["platform"]},
    )
    end = None
    if all(part.end is not None for part in parts):
        end = {"type": "end", **{key: sum(part.end[key] for part in parts) for key in ("planned", "records")}}
    return Run(
        path=parts[0].path,
        envelope=envelope,
        records=sorted((record for part in parts for record in part.records), key=lambda record: record["case_id"]),
        end=end,
        parts=parts,
        missing_shards=sorted(set(range(1, count + 1)) - {part.shard["index"] for part in parts}),
    )


def _in_shard_order(parts: list[Run]) -> list[Run]:
    """The shards by index, once they are known to be parts of one run."""
    name = f"{parts[0].adapter} ({parts[0].version_text})"
    for key in ("shard count", *SHARED):
        values: dict[str, list[Run]] = {}
        for part in parts:
            value = part.shard["count"] if key == "shard count" else part.envelope.get(key)
            values.setdefault(json.dumps(value, sort_keys=True), []).append(part)
        if len(values) > 1:
            found = "; ".join(f"{value} in {_names(same)}" for value, same in values.items())
            raise UserError(f"shards of {name} disagree on {key}: {found}")
    by_index: dict[int, Run] = {}
    for part in parts:
        index, count = part.shard["index"], part.shard["count"]
        if not 1 <= index <= count:
            raise UserError(f"{part.path}: shard {index} of {count} does not exist")
        if index in by_index:
            raise UserError(f"shard {index} of {count} of {name} given twice: {by_index[index].path} and {part.path}")
        by_index[index] = part
    return [by_index[index] for index in sorted(by_index)]


def _names(runs: list[Run]) -> str:
    return ", ".join(str(run.path) for run in runs)


def _each(values) -> str:
    """The shards' machines all named, each once: one value where every shard ran on the same kind."""
    return " / ".join(dict.fromkeys(str(value) for value in values))


def _label(runs: list[Run]) -> None:
    """Adapter names, with the versions (and the profile) added where one adapter appears in several versions
    (or profiles: torch-compile's smoke and models runs)."""
    by_adapter: dict[str, list[Run]] = {}
    for run in runs:
        by_adapter.setdefault(run.adapter, []).append(run)
    for adapter, same in by_adapter.items():
        keys = [(run.version_text, run.envelope.get("profile")) for run in same]
        if len(set(keys)) < len(same):
            paths = ", ".join(str(path) for run in same for path in run.paths)
            raise UserError(
                f"adapter {adapter!r} appears twice with the same versions and profile ({paths}): give one of them"
            )
        varies = [len({key[i] for key in keys}) > 1 for i in (0, 1)]
        for run, key in zip(same, keys):
            shown = [str(part) for part, differs in zip(key, varies) if differs]
            run.label = f"{adapter} ({', '.join(shown)})" if shown else adapter


def scope_text(scope: dict | None) -> str:
    """A divergence's scope as a reader writes it ("cpu; onnxruntime >=1.30,<1.32"), empty when unscoped."""
    if not scope:
        return ""
    devices = ", ".join(scope.get("devices") or [])
    versions = ", ".join(f"{package} {spec}" for package, spec in (scope.get("versions") or {}).items())
    return "; ".join(part for part in (devices, versions) if part)
