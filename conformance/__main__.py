"""``python -m conformance run ...``: the front door to the conformance run and to the commands that read it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from conformance.divergences import REGISTER_DIR
from conformance.grid import PROFILES

HERE = Path(__file__).resolve().parent


def _run(args: argparse.Namespace) -> int:
    from adapters import CPU_ADAPTERS
    from conformance.engine import Options, execute, keyword_filter

    try:
        keyword_filter(args.k)
    except ValueError as error:  # a malformed -k: say so before any framework loads
        print(f"python -m conformance run: error: {error}", file=sys.stderr)
        return 2

    options = Options(
        adapters=args.adapter or list(CPU_ADAPTERS),
        profile=args.profile,
        dtypes=args.dtype,
        results=Path(args.results),
        case_timeout=args.case_timeout,
        threads=args.threads,
        register=Path(args.register),
        keyword=args.k,
        shard=args.shard,
        junitxml=Path(args.junitxml) if args.junitxml else None,
        progress=args.progress,
    )
    return execute(options).exit_status


def _thread_count(text: str) -> int:
    from conformance.engine import thread_count

    try:
        return thread_count(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _shard(text: str):
    from conformance.engine import Shard

    try:
        return Shard.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run cases on adapters and write result records")
    run.add_argument("--adapter", action="append", default=[], help="adapter name or module:Class (repeatable)")
    run.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    run.add_argument("--dtype", action="append", default=[], help="only this dtype (repeatable)")
    run.add_argument("--results", default="results", help="directory for the result files (default results)")
    run.add_argument("--case-timeout", type=float, default=60.0, help="seconds one case may take (default 60)")
    run.add_argument(
        "--threads",
        type=_thread_count,
        default=1,
        help="threads per operation in each framework (default 1: adapters run side by side; 0: the framework's own)",
    )
    run.add_argument("-k", default=None, help="pytest -k expression over the ids 'adapter:case-id' and framework names")
    run.add_argument(
        "--shard", type=_shard, default=None, help="run shard K of N of the profile (K/N, split by case id)"
    )
    run.add_argument("--junitxml", default=None, help="also write JUnit XML here")
    run.add_argument("--register", default=str(REGISTER_DIR), help="directory of divergence register files")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="per-adapter progress bars (default: on a terminal only)",
    )
    equivalence = commands.add_parser(
        "equivalence", help="where 'same' and 'valid' agree across frameworks, from a results directory"
    )
    equivalence.add_argument("results", nargs="+", help="directories of result files (one run or several)")
    equivalence.add_argument(
        "-o", "--output", default=None, help="file to write (default FIRST_RESULTS_DIR/equivalence.jsonl)"
    )
    commands.add_parser(
        "capabilities", help="print each built-in adapter's capability table (the README's table of limits)"
    )
    # The front door also offers the commands that only read records; they live downstream, in reports/.
    from reports.cli import add_commands, run

    add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "equivalence":
        return _equivalence(args)
    if args.command == "capabilities":
        print(capabilities_table())
        return 0
    return run(args)


def capabilities_table() -> str:
    """The README's table of limits, derived from every built-in adapter's declaration (no framework loaded)."""
    import adapters
    from adapters.capabilities import markdown_table

    loaded = {name: adapters.load(name) for name in adapters.BUILTIN}
    return markdown_table({name: (adapters.capabilities(a), adapters.modes(a)) for name, a in loaded.items()})


def _equivalence(args: argparse.Namespace) -> int:
    from conformance.equivalence import write

    path = write([Path(path) for path in args.results], Path(args.output) if args.output else None)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    for line in lines:
        if line["points"] == 0 or line["agree_everywhere"]:
            continue
        counts = ", ".join(f"{n} {k}" for k, n in sorted(line["counts"].items()))
        where = line["smallest_disagreement"]
        print(
            f"{line['family']:<6}{line['a']}  vs  {line['b']}: {counts}; smallest: n={where['input_size']} "
            f"k={where['kernel']} s={where['stride']} d={where['dilation']} ({where['verdict']})"
        )
    agreeing = sum(line["agree_everywhere"] for line in lines)
    print(f"{agreeing} of {len(lines)} pairs agree wherever both compute -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
