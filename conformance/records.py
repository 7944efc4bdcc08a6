"""Result files: JSON Lines, one file per adapter and device, written as the run goes.

The first line is the envelope (schema version, suite commit, UTC time, platform, device, framework
versions, how many cases the run planned for the adapter); then one record per (case, adapter,
device); and, when the run closes the file, an ``end`` line with the counts. A killed run keeps every
record written before it died, and the missing ``end`` line says it did not finish.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
from pathlib import Path

SCHEMA_VERSION = 2  # 2: the envelope's planned count and the end line
PASSING = ("pass", "xpass")  # the outcomes in which the framework's output matched the reference
OUTCOMES = (
    "pass",
    "shape_mismatch",
    "value_mismatch",
    "nonfinite",
    "dtype_mismatch",
    "accepted_invalid",
    "rejected",
    "unsupported",
    "crash",
    "timeout",
    "suite_error",
    "xfail",
    "xpass",
)


def suite_commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def envelope(
    adapter: str,
    device: str,
    versions: dict,
    precision: dict,
    profile: str,
    device_model: str,
    planned: int,
    shard=None,
    threads=None,
) -> dict:
    """The first line of a result file; ``shard`` (with ``index`` and ``count``) only for one shard of a run."""
    header = {
        "type": "envelope",
        "schema_version": SCHEMA_VERSION,
        "suite_commit": suite_commit(),
        "timestamp_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": {
            "system": platform.platform(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "adapter": adapter,
        "device": device,
        "device_model": device_model,
        "framework_versions": versions,
        "precision": precision,
        "profile": profile,
        "planned": planned,
        "threads": threads,  # per operation in the framework (see adapters.limit_threads)
    }
    if shard is not None:
        header["shard"] = {"index": shard.index, "count": shard.count}
    return header


def result_file_name(adapter: str, shard: dict | None = None) -> str:
    """``<adapter>.jsonl``, or ``<adapter>.shard-K-of-N.jsonl`` for one shard, so shards never overwrite each other."""
    if shard is None:
        return f"{adapter}.jsonl"
    return f"{adapter}.shard-{shard['index']}-of-{shard['count']}.jsonl"


class ResultFile:
    """Appends records to ``DIR/<adapter>.jsonl``, flushing each so that a crash loses nothing."""

    def __init__(self, directory: Path, adapter: str, header: dict):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.path = Path(directory) / result_file_name(adapter, header.get("shard"))
        self._handle = self.path.open("w", encoding="utf-8")
        self.planned = header["planned"]
        self.written = 0
        self._write(header)

    def _write(self, item: dict) -> None:
        self._handle.write(json.dumps(item, sort_keys=True) + "\n")
        self._handle.flush()

    def append(self, record: dict) -> None:
        if record.get("outcome") not in OUTCOMES:
            raise ValueError(f"unknown outcome {record.get('outcome')!r}")
        self._write({"type": "result", **record})
        self.written += 1

    def close(self) -> None:
        """The end line: a run that wrote it, with as many records as it planned, finished."""
        self._write({"type": "end", "planned": self.planned, "records": self.written})
        self._handle.close()


def file_kind(path: Path) -> str:
    """What a JSON Lines file of this suite holds, from its envelope: "results" or "equivalence"."""
    with Path(path).open(encoding="utf-8") as handle:
        return json.loads(handle.readline() or "{}").get("kind", "results")


def read_result_file(path: Path) -> tuple[dict, list[dict], dict | None]:
    """The envelope, the records and the end line (None if the run never closed the file)."""
    lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or lines[0].get("type") != "envelope":
        raise ValueError(f"{path}: the first line must be the envelope")
    if lines[0].get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema version {lines[0].get('schema_version')}, this suite reads {SCHEMA_VERSION}")
    end = lines[-1] if lines[-1].get("type") == "end" else None
    return lines[0], [line for line in lines[1:] if line.get("type") == "result"], end


def read_results(path: Path) -> tuple[dict, list[dict]]:
    """The envelope and the records of one result file."""
    header, records, _ = read_result_file(path)
    return header, records
