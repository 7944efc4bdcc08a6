"""``python -m conformance report | gate | publish``: the commands that read result records only."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from conformance.errors import UserError


def add_commands(commands, common) -> None:
    """The reading commands, each with the ``common`` options (--debug)."""
    report = commands.add_parser(
        "report", parents=[common], help="the static HTML report of result files and directories"
    )
    report.add_argument("results", nargs="+", help="result files or directories (searched recursively), merged")
    report.add_argument(
        "-o", "--output", default="report", help="the report's directory: index.html and its details/ (default report)"
    )
    report.add_argument("--title", default="Transposed convolution conformance")
    gate = commands.add_parser(
        "gate", parents=[common], help="compare results case by case with a baseline; exit 1 on a regression"
    )
    gate.add_argument("results", nargs="+", help="result files or directories of one framework-version series")
    gate.add_argument("--baseline", required=True, help="baseline JSON file")
    gate.add_argument("--update-baseline", action="store_true", help="write the results as the new baseline")
    gate.add_argument(
        "--allow-partial",
        action="store_true",
        help="with --update-baseline: write it even from runs that did not finish (their missing cases are left out)",
    )
    publish = commands.add_parser(
        "publish", parents=[common], help="the static compatibility site from result sets (one per directory)"
    )
    publish.add_argument("results", nargs="+", help="result directories (one result set each) or site data files")
    publish.add_argument("-o", "--output", default="site", help="directory of the site (default site)")
    publish.add_argument("--save-data", default=None, help="also write the site's source data (JSON) here")


def run(args: argparse.Namespace) -> int:
    return {"report": _report, "gate": _gate, "publish": _publish}[args.command](args)


def _output_directory(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UserError(f"-o {path}: a file is there, not a directory")
    return path


def _loaded(paths):
    from reports.results import load

    results = load(paths)
    for warning in results.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return results


def _report(args) -> int:
    from reports import html

    start = time.perf_counter()
    output = _output_directory(Path(args.output))
    results = _loaded(args.results)
    path = html.build(results, output, title=args.title)
    records = sum(len(run.records) for run in results.runs)
    print(f"{records} records of {len(results.runs)} runs -> {path} in {time.perf_counter() - start:.1f} s")
    for run in results.runs:
        if run.unfinished:
            print(f"warning: {run.unfinished}", file=sys.stderr)
    return 0


def _gate(args) -> int:
    from reports import gate

    baseline_path = Path(args.baseline)
    if args.update_baseline:
        if baseline_path.is_dir():
            raise UserError(f"--baseline {baseline_path}: a directory is there, not a file")
        results = _loaded(args.results)
        unfinished = [run.unfinished for run in results.runs if run.unfinished]
        if unfinished and not args.allow_partial:
            raise UserError(
                f"no baseline written: {len(unfinished)} runs did not finish (first: {unfinished[0]}); "
                "--allow-partial writes it from what they hold"
            )
        baseline = gate.write_baseline(results, baseline_path)
        cases = sum(len(adapter["cases"]) for adapter in baseline["adapters"].values())
        print(f"baseline of {len(baseline['adapters'])} adapters and {cases} cases -> {args.baseline}")
        return 0
    expected = gate.read_baseline(baseline_path)
    verdict = gate.gate(expected, _loaded(args.results))
    print(verdict.text())
    return 0 if verdict.passed else 1


def _publish(args) -> int:
    from reports import site

    start = time.perf_counter()
    output = _output_directory(Path(args.output))
    if args.save_data and Path(args.save_data).is_dir():
        raise UserError(f"--save-data {args.save_data}: a directory is there, not a file")
    warnings: list[str] = []
    data = site.collect(args.results, warnings)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.save_data:
        site.save(data, Path(args.save_data))
    index = site.build(data, output)
    print(f"{len(data['sets'])} result sets -> {index} in {time.perf_counter() - start:.1f} s")
    return 0
