"""``python -m conformance run ...``: the front door to the conformance run and to the commands that read it."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from conformance.case import DTYPE_CODES
from conformance.errors import UserError
from conformance.grid import MODELS_ONLY, PROFILES

HERE = Path(__file__).resolve().parent
SCHEMAS_DIR = HERE.parent / "schemas"


def _run(args: argparse.Namespace) -> int:
    from adapters import CPU_ADAPTERS
    from conformance.engine import Options, execute

    options = Options(
        adapters=args.adapter or list(CPU_ADAPTERS),
        profile=args.profile,
        dtypes=args.dtype,
        results=Path(args.results),
        case_timeout=args.case_timeout,
        threads=args.threads,
        registers=[Path(directory) for directory in args.register],
        keyword=args.k,
        shard=args.shard,
        junitxml=Path(args.junitxml) if args.junitxml else None,
        progress=args.progress,
        existing="resume" if args.resume else "overwrite" if args.overwrite else "refuse",
        allow_unavailable=args.allow_unavailable,
        cases=args.case,
    )
    return execute(options).exit_status


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds above 0")
    return value


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


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument said on one line (as every other bad input), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (UserError, OSError) as error:  # an OSError here is a path the user gave: unwritable, full, missing
        if args.debug:
            raise
        said = error if isinstance(error, UserError) else f"{error.filename or ''}: {error.strerror or error}"
        print(f"{parser.prog} {args.command}: error: {said}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        closed = "; every result file written so far has its end line" if args.command == "run" else ""
        print(f"{parser.prog} {args.command}: interrupted{closed}", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run(args)
    if args.command == "equivalence":
        return _equivalence(args)
    if args.command == "translate":
        return _translate(args)
    if args.command == "capabilities":
        print(capabilities_table())
        return 0
    if args.command == "schemas":
        for path in write_schemas(Path(args.output)):
            print(path)
        return 0
    from reports.cli import run

    return run(args)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="on bad input, show the traceback too")
    parser = Parser(prog="python -m conformance", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = commands.add_parser("run", parents=[common], help="run cases on adapters and write result records")
    run.add_argument("--adapter", action="append", default=[], help="adapter name or module:Class (repeatable)")
    run.add_argument("--profile", default="smoke", choices=[*sorted(PROFILES), MODELS_ONLY])
    run.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="ID",
        help="run this case (a case id; repeatable) instead of the profile's cases; the files name the profile 'cases'",
    )
    run.add_argument(
        "--dtype", action="append", default=[], choices=list(DTYPE_CODES), help="only this dtype (repeatable)"
    )
    run.add_argument("--results", default="results", help="directory for the result files (default results)")
    existing = run.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume", action="store_true", help="continue the result files already there: run only the cases they lack"
    )
    existing.add_argument("--overwrite", action="store_true", help="replace the result files already there")
    run.add_argument("--case-timeout", type=_seconds, default=60.0, help="seconds one case may take (default 60)")
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
    run.add_argument(
        "--register",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory of divergence register files (<adapter>.toml), added to the built-in register (repeatable)",
    )
    run.add_argument(
        "--allow-unavailable",
        action="append",
        nargs="?",
        const="*",
        default=[],
        metavar="ADAPTER",
        help="an adapter (or, without a name, any) that may be unavailable here without failing the run (repeatable)",
    )
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="per-adapter progress bars (default: on a terminal only)",
    )
    equivalence = commands.add_parser(
        "equivalence",
        parents=[common],
        help="where 'same' and 'valid' agree across frameworks, from a results directory",
    )
    equivalence.add_argument("results", nargs="+", help="directories of result files (one run or several)")
    equivalence.add_argument(
        "-o", "--output", default=None, help="file to write (default FIRST_RESULTS_DIR/equivalence.jsonl)"
    )
    translate = commands.add_parser(
        "translate",
        parents=[common],
        help="the same layer's padding in other frameworks: their spellings, and the cases that prove them",
    )
    translate.add_argument(
        "--from", dest="source", required=True, help="the framework you have: torch, onnx, tf, jax, keras"
    )
    translate.add_argument(
        "--padding",
        required=True,
        help="its padding word (same, valid, same_upper, ...), or per axis an int (torch) or begin.end pair (1.2x0.0)",
    )
    translate.add_argument("--kernel", required=True, help="kernel size, per axis as 4 or 4x4")
    translate.add_argument("--stride", default="1", help="stride, per axis (default 1)")
    translate.add_argument("--input", required=True, help="input spatial size, per axis as 16 or 16x16")
    translate.add_argument("--dilation", default="1", help="dilation, per axis (default 1)")
    translate.add_argument("--output-padding", default=None, help="its output_padding, per axis")
    translate.add_argument(
        "--output-size", default=None, help="its output size (tf.nn's and ONNX's output_shape), per axis"
    )
    translate.add_argument(
        "--use-consistent-padding",
        default=None,
        choices=["true", "false"],
        help="jax's pairs: read as the forward conv's pads (true) or the dilated input's (false, jax's default)",
    )
    translate.add_argument(
        "--to", action="append", default=[], help="a framework to translate to (repeatable; default every other)"
    )
    translate.add_argument(
        "--results", action="append", default=[], metavar="DIR", help="result files or directories to find proofs in"
    )
    commands.add_parser(
        "capabilities",
        parents=[common],
        help="print each built-in adapter's capability table (the README's table of limits)",
    )
    schemas = commands.add_parser(
        "schemas",
        parents=[common],
        help="write the JSON Schemas of result files, baselines, site data and equivalence files (schemas/)",
    )
    schemas.add_argument("-o", "--output", default=str(SCHEMAS_DIR), help=f"directory (default {SCHEMAS_DIR})")
    # The front door also offers the commands that only read records; they live downstream, in reports/.
    from reports.cli import add_commands

    add_commands(commands, common)
    return parser


def schemas() -> dict[str, dict]:
    """Each file format's JSON Schema by file name, derived from the code that writes and reads it."""
    from conformance.equivalence import schema as equivalence_file
    from conformance.records import schema as result_file
    from reports.gate import schema as baseline
    from reports.site import schema as site_data

    return {
        "result-file.schema.json": result_file(),
        "baseline.schema.json": baseline(),
        "site-data.schema.json": site_data(),
        "equivalence-file.schema.json": equivalence_file(),
    }


def write_schemas(directory: Path) -> list[Path]:
    if directory.exists() and not directory.is_dir():
        raise UserError(f"-o {directory}: a file is there, not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in schemas().items():
        paths.append(directory / name)
        paths[-1].write_text(json.dumps(schema, indent=1) + "\n", encoding="utf-8")
    return paths


def capabilities_table() -> str:
    """The README's table of limits, derived from every built-in adapter's declaration (no framework loaded)."""
    import adapters
    from adapters.capabilities import markdown_table

    loaded = {name: adapters.load(name) for name in adapters.BUILTIN}
    return markdown_table({name: (adapters.capabilities(a), adapters.modes(a)) for name, a in loaded.items()})


def _translate(args: argparse.Namespace) -> int:
    from conformance import porting

    try:
        rank = len(str(args.input).split("x"))
        geometry = {
            name: porting.per_axis(f"--{name.replace('_size', '')}", getattr(args, key), rank)
            for name, key in (
                ("input_size", "input"),
                ("kernel", "kernel"),
                ("stride", "stride"),
                ("dilation", "dilation"),
            )
        }
        if min(min(values) for values in geometry.values()) < 1:
            raise ValueError("--input, --kernel, --stride and --dilation must be at least 1")
        parameters = {
            "padding": args.padding,
            "output_padding": args.output_padding,
            "output_size": args.output_size,
            "use_consistent_padding": None
            if args.use_consistent_padding is None
            else args.use_consistent_padding == "true",
        }
        parameters = {name: value for name, value in parameters.items() if value is not None}
        records = None
        if args.results:
            results = _loaded(args.results)
            records = [record for run in results.runs for record in run.records]
        print(porting.translation_text(args.source, parameters, porting.geometry_point(geometry), args.to, records))
    except ValueError as error:  # the case's and the modes' own rules, said as they say them
        raise UserError(str(error)) from None
    return 0


def _loaded(paths):
    from reports.cli import _loaded as loaded

    return loaded(paths)


def _equivalence(args: argparse.Namespace) -> int:
    from conformance.equivalence import write

    warnings: list[str] = []
    path = write([Path(path) for path in args.results], Path(args.output) if args.output else None, warnings)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
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
