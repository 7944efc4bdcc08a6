"""``python -m conformance report | gate | publish``: the commands that read result records only."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_commands(commands) -> None:
    report = commands.add_parser("report", help="the static HTML report of result files and directories")
    report.add_argument("results", nargs="+", help="result files or directories (searched recursively), merged")
    report.add_argument(
        "-o", "--output", default="report", help="the report's directory: index.html and its details/ (default report)"
    )
    report.add_argument("--title", default="Transposed convolution conformance")
    gate = commands.add_parser("gate", help="compare results case by case with a baseline; exit 1 on a regression")
    gate.add_argument("results", nargs="+", help="result files or directories of one framework-version series")
    gate.add_argument("--baseline", required=True, help="baseline JSON file")
    gate.add_argument("--update-baseline", action="store_true", help="write the results as the new baseline")
    publish = commands.add_parser("publish", help="the static compatibility site from result sets (one per directory)")
    publish.add_argument("results", nargs="+", help="result directories (one result set each) or site data files")
    publish.add_argument("-o", "--output", default="site", help="directory of the site (default site)")
    publish.add_argument("--save-data", default=None, help="also write the site's source data (JSON) here")


def run(args: argparse.Namespace) -> int:
    return {"report": _report, "gate": _gate, "publish": _publish}[args.command](args)


def _report(args) -> int:
    from reports import html
    from reports.results import load

    start = time.perf_counter()
    results = load(args.results)
    path = html.build(results, Path(args.output), title=args.title)
    records = sum(len(run.records) for run in results.runs)
    print(f"{records} records of {len(results.runs)} runs -> {path} in {time.perf_counter() - start:.1f} s")
    for run in results.runs:
        if run.unfinished:
            print(f"warning: {run.unfinished}", file=sys.stderr)
    return 0


def _gate(args) -> int:
    from reports import gate
    from reports.results import load

    results = load(args.results)
    if args.update_baseline:
        try:
            baseline = gate.write_baseline(results, Path(args.baseline))
        except ValueError as error:
            print(f"no baseline written: {error}", file=sys.stderr)
            return 1
        cases = sum(len(adapter["cases"]) for adapter in baseline["adapters"].values())
        print(f"baseline of {len(baseline['adapters'])} adapters and {cases} cases -> {args.baseline}")
        return 0
    verdict = gate.gate(gate.read_baseline(Path(args.baseline)), results)
    print(verdict.text())
    return 0 if verdict.passed else 1


def _publish(args) -> int:
    from reports import site

    start = time.perf_counter()
    data = site.collect(args.results)
    if args.save_data:
        site.save(data, Path(args.save_data))
    index = site.build(data, Path(args.output))
    print(f"{len(data['sets'])} result sets -> {index} in {time.perf_counter() - start:.1f} s")
    return 0
