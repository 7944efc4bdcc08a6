"""Result files: JSON Lines, one file per adapter and device, written as the run goes.

The first line is the envelope (schema version, suite commit, UTC time, platform, device, framework
versions); every other line is one record for one (case, adapter, device). A killed run keeps every
record written before it died.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
from pathlib import Path

SCHEMA_VERSION = 1
OUTCOMES = (
    "pass",
    "shape_mismatch",
    "value_mismatch",
    "nonfinite",
    "rejected",
    "unsupported",
    "crash",
    "timeout",
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


def envelope(adapter: str, device: str, versions: dict, precision: dict, profile: str, device_model: str) -> dict:
    return {
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
    }


class ResultFile:
    """Appends records to ``DIR/<adapter>.jsonl``, flushing each so that a crash loses nothing."""

    def __init__(self, directory: Path, adapter: str, header: dict):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.path = Path(directory) / f"{adapter}.jsonl"
        self._handle = self.path.open("w", encoding="utf-8")
        self._write(header)

    def _write(self, item: dict) -> None:
        self._handle.write(json.dumps(item, sort_keys=True) + "\n")
        self._handle.flush()

    def append(self, record: dict) -> None:
        if record.get("outcome") not in OUTCOMES:
            raise ValueError(f"unknown outcome {record.get('outcome')!r}")
        self._write({"type": "result", **record})

    def close(self) -> None:
        self._handle.close()


def read_results(path: Path) -> tuple[dict, list[dict]]:
    """The envelope and the records of one result file."""
    lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines or lines[0].get("type") != "envelope":
        raise ValueError(f"{path}: the first line must be the envelope")
    if lines[0].get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema version {lines[0].get('schema_version')}, this suite reads {SCHEMA_VERSION}")
    return lines[0], lines[1:]
