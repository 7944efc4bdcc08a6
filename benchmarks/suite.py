"""Time the conformance run against the targets of issue 14, side by side, in one go.

    python benchmarks/suite.py [--profile default] [--skip-cold] [--skip-pytest] [--skip-alone]

1. Every CPU adapter, the profile's every case: on a machine's first run (an empty JAX compilation
   cache, as on a fresh CI machine) and warm (the cache kept), against 60 s and 30 s wall.
2. torch + onnxruntime on the explicit cases: results per second once the frameworks are loaded,
   against 1,000/s; the same selection through ``pytest conformance`` beside it (pytest's per-test cost).
3. Each adapter alone, warm: wall seconds and results per second, so that the first line's total can
   be read as the sum of its parts on this machine's cores.

Every run is a fresh ``python -m conformance run`` process, as a user types it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters import CPU_ADAPTERS  # noqa: E402

EXPLICIT_ONLY = "not -m and not -x"  # mode cases carry -m<token> in their ids, must-reject ones -x<rule>
SUMMARY = re.compile(r"(\d+) results in ([\d.]+) s \(frameworks loaded in ([\d.]+) s, then (\d+) results/s\)")


def _run(arguments: list[str], cache: Path, results: Path) -> tuple[float, int, float, float]:
    """Wall seconds, results, startup seconds and results/s after startup of one run."""
    environment = {**os.environ, "CONFORMANCE_JAX_CACHE": str(cache)}
    start = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--overwrite",
            "--results",
            str(results),
            "--no-progress",
            *arguments,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    found = SUMMARY.search(completed.stdout)
    if found is None:
        raise RuntimeError(f"no summary in the run's output:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return wall, int(found[1]), float(found[3]), float(found[4])


def _pytest(arguments: list[str], cache: Path, results: Path) -> tuple[float, int]:
    environment = {**os.environ, "CONFORMANCE_JAX_CACHE": str(cache)}
    start = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "conformance",
            "-q",
            "-p",
            "no:cacheprovider",
            "--overwrite",
            "--results",
            str(results),
        ]
        + arguments,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    found = re.search(r"(\d+) passed", completed.stdout)
    return wall, int(found[1]) if found else 0


def _line(name: str, wall: float, results: int, target: str, note: str = "") -> None:
    print(f"{name:<52}{wall:>8.1f}{results:>9}{results / wall:>10.0f}{target:>14}  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--skip-cold", action="store_true", help="no first run with an empty JAX cache")
    parser.add_argument("--skip-pytest", action="store_true", help="no pytest front end beside the engine")
    parser.add_argument("--skip-alone", action="store_true", help="no per-adapter runs")
    args = parser.parse_args()
    profile = ["--profile", args.profile]
    print(f"{os.cpu_count()} cores; profile {args.profile}; every run a fresh process")
    print(f"{'run':<52}{'wall s':>8}{'results':>9}{'per s':>10}{'target':>14}  notes")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        cache = work / "jax-cache"
        if not args.skip_cold:
            wall, results, startup, rate = _run(profile, cache, work / "cold")
            _line(
                "every CPU adapter, first run (empty JAX cache)", wall, results, "<= 60 s", f"startup {startup:.1f} s"
            )
        wall, results, startup, rate = _run(profile, cache, work / "warm")
        _line("every CPU adapter, warm", wall, results, "<= 30 s", f"startup {startup:.1f} s")

        pair = ["--adapter", "torch", "--adapter", "onnxruntime", "-k", EXPLICIT_ONLY, *profile]
        wall, results, startup, rate = _run(pair, cache, work / "pair")
        _line("torch + onnxruntime, explicit cases", wall, results, ">= 1000/s", f"{rate:.0f}/s after startup")
        if not args.skip_pytest:
            pytest_wall, passed = _pytest(pair, cache, work / "pair-pytest")
            _line("  the same through pytest conformance", pytest_wall, passed, "-", f"engine {wall:.1f} s")
        if not args.skip_alone:
            total = 0.0
            for adapter in CPU_ADAPTERS:
                wall, results, startup, rate = _run(["--adapter", adapter, *profile], cache, work / adapter)
                total += wall - startup
                _line(f"  {adapter} alone, warm", wall, results, "-", f"{rate:.0f}/s after {startup:.1f} s startup")
            print(f"sum over adapters alone, after startup: {total:.1f} s of wall on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
