"""Time the conformance run per adapter: cold and warm throughput, and the suite's per-case overhead.

    python benchmarks/suite.py [--profile default] [--adapter NAME ...]

Cold: from starting the adapter's process (importing the framework) to the last record of the
profile. Warm: the same cases again in the same process. Overhead: a case's wall time in the suite
(input generation, transfer, reference, tolerance, comparison, record) beyond the framework's own call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters import CPU_ADAPTERS  # noqa: E402
from conformance.divergences import REGISTER_DIR  # noqa: E402
from conformance.grid import profile  # noqa: E402
from conformance.runner import AdapterRun  # noqa: E402


def _pass(run: AdapterRun, cases) -> tuple[float, list[float], list[float]]:
    start = time.perf_counter()
    framework, overhead = [], []
    for case in cases:
        begun = time.perf_counter()
        record = run.execute(case)
        wall = time.perf_counter() - begun
        framework.append(record["duration_s"])
        overhead.append(wall - record["duration_s"])
    return time.perf_counter() - start, framework, overhead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--adapter", action="append", default=[])
    args = parser.parse_args()
    cases = profile(args.profile)
    print(f"profile {args.profile}: {len(cases)} cases; each adapter runs the explicit ones and its own modes'")
    header = (
        f"{'adapter':<32}{'cases':>7}{'cold s':>8}{'cases/s':>9}{'warm s':>8}{'cases/s':>9}"
        f"{'op ms':>8}{'overhead ms':>13}{'slowest ms':>12}"
    )
    print(header)
    print("-" * len(header))
    total_cold = 0.0
    with tempfile.TemporaryDirectory() as results:
        for spec in args.adapter or CPU_ADAPTERS:
            started = time.perf_counter()
            run = AdapterRun(
                spec, timeout=60, register_dir=REGISTER_DIR, results_dir=Path(results), profile=args.profile
            )
            if run.info["unavailable"]:
                print(f"{spec:<32}unavailable: {run.info['unavailable']}")
                continue
            spoken = [case for case in cases if run.speaks(case)]
            _, framework, _ = _pass(run, spoken)
            cold = time.perf_counter() - started
            warm, framework, overhead = _pass(run, spoken)
            run.worker.stop()
            run.file.close()
            total_cold += cold
            print(
                f"{run.name:<32}{len(spoken):>7}{cold:>8.1f}{len(spoken) / cold:>9.0f}"
                f"{warm:>8.1f}{len(spoken) / warm:>9.0f}"
                f"{statistics.median(framework) * 1e3:>8.2f}{statistics.median(overhead) * 1e3:>13.2f}"
                f"{max(framework) * 1e3:>12.1f}"
            )
    print(f"\ncold total over these adapters: {total_cold:.1f} s (medians per case for op and overhead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
