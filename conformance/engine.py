"""The conformance run without pytest: ``python -m conformance run``.

Each adapter's worker process runs its cases in order (``runner.Feed``); this process judges every
attempt against the shared reference and the register (``runner.AdapterRun.record``) and writes the
records, and JUnit XML when asked. ``pytest conformance`` is the same run as pytest tests: the same
ids (``adapter:case-id``), markers (the framework's name), ``-k`` and records; it costs pytest's
protocol per test, which is more than the comparison itself.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import math
import os
import queue
import re
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

# pytest's own -k language and matcher, so that both front ends select the same tests.
from _pytest.mark import KeywordMatcher
from _pytest.mark.expression import Expression

from conformance import modes
from conformance.case import DTYPE_CODES, Case
from conformance.divergences import REGISTER_DIR
from conformance.errors import UserError
from conformance.grid import MODELS_ONLY, PROFILES, profile
from conformance.records import EXISTING, name_problem
from conformance.runner import AdapterRun, Feed
from conformance.worker import Cases, Worker

TEST_MODULE = "test_conformance.py"
TEST_FUNCTION = "test_case"
# Attempts waiting to be judged, at most: a slow judge holds the workers back rather than memory filling.
BACKLOG = 256
# Seconds of an adapter's work left that are worth starting one more process of it for (its framework's
# import costs a few seconds).
WORTH_A_PROCESS = 20.0


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based): a case belongs to one shard, chosen by its id alone, so
    every adapter and every machine agrees, and the shards of a profile together are the profile."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not found or not 1 <= int(found[1]) <= int(found[2]):
            raise ValueError(f"shard {text!r}: give K/N with 1 <= K <= N, e.g. 2/4")
        return cls(int(found[1]), int(found[2]))

    def holds(self, case_id: str) -> bool:
        digest = hashlib.sha256(case_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def thread_count(text: str) -> int:
    """Threads per framework operation as given on a command line: a whole number, 0 for the framework's own."""
    if not text.strip().isdigit():
        raise ValueError(f"{text!r}: give a whole number of threads, 0 for the framework's own")
    return int(text)


def marker_name(framework: str) -> str:
    """The pytest marker of a framework's tests (its name as an identifier)."""
    return re.sub(r"\W", "_", framework)


def test_id(adapter: str, case_id: str) -> str:
    return f"{adapter}:{case_id}"


def keyword_names(adapter: str, framework: str, case: Case) -> set[str]:
    """The names pytest's ``-k`` matches for this test: the test's name, its module and folder, its marker."""
    return {f"{TEST_FUNCTION}[{test_id(adapter, case.id)}]", TEST_MODULE, "conformance", marker_name(framework)}


def keyword_filter(expression: str | None):
    """A predicate over ``keyword_names`` for a ``-k`` expression (None: everything)."""
    if not expression or not expression.strip():
        return lambda names: True
    try:
        compiled = Expression.compile(expression)
    except SyntaxError as error:  # what pytest's parser raises for a malformed expression
        raise UserError(f"-k {expression!r}: {error.msg}") from None
    return lambda names: compiled.evaluate(KeywordMatcher(names))


@dataclass
class Options:
    adapters: list[str]
    profile: str = "smoke"
    dtypes: list[str] = field(default_factory=list)
    results: Path = Path("results")
    case_timeout: float = 60.0
    threads: int = 1  # per operation in each framework; 0: the framework's own default
    registers: list[Path] = field(default_factory=list)  # directories added to the built-in register
    keyword: str | None = None
    shard: Shard | None = None
    junitxml: Path | None = None
    progress: bool | None = None  # None: on a terminal only
    existing: str = "refuse"  # a result file already there: refuse, resume or overwrite (records.ResultFile)
    allow_unavailable: list[str] = field(default_factory=list)  # adapters that may be unavailable; "*": any
    cases: list[str] = field(default_factory=list)  # case ids to run instead of the profile's

    @property
    def profile_name(self) -> str:
        """What the result files name as the profile: "cases" where case ids were given instead of one."""
        return "cases" if self.cases else self.profile

    @property
    def register_dirs(self) -> list[Path]:
        return [REGISTER_DIR, *self.registers]


def check(options: Options) -> None:
    """Every option a user gave, checked before any framework loads; a UserError says which and why."""
    import adapters

    for spec in options.adapters:
        module, _, attribute = spec.partition(":")
        if ":" in spec and not (re.fullmatch(r"[\w.]+", module) and attribute.isidentifier()):
            raise UserError(f"--adapter {spec!r}: give an import path package.module:ClassName")
        if spec not in adapters.BUILTIN and ":" not in spec:
            close = difflib.get_close_matches(spec, adapters.BUILTIN, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserError(
                f"--adapter {spec!r}: no such built-in adapter; {hint}(built-in: {', '.join(adapters.BUILTIN)}; "
                "or give an import path package.module:ClassName)"
            )
    repeated = sorted({spec for spec in options.adapters if options.adapters.count(spec) > 1})
    if repeated:
        raise UserError(f"--adapter {repeated[0]!r} given twice: give each adapter once")
    for case_id in options.cases:
        try:
            Case.from_id(case_id)
        except ValueError as error:
            raise UserError(f"--case {case_id!r}: {error}") from None
    if options.profile not in (*PROFILES, MODELS_ONLY):
        raise UserError(f"--profile {options.profile!r}: choose one of {', '.join(sorted(PROFILES))} or {MODELS_ONLY}")
    for dtype in options.dtypes:
        if dtype not in DTYPE_CODES:
            raise UserError(f"--dtype {dtype!r}: choose among {', '.join(DTYPE_CODES)}")
    if not (isinstance(options.case_timeout, (int, float)) and math.isfinite(options.case_timeout)):
        raise UserError(f"--case-timeout {options.case_timeout!r}: give a finite number of seconds")
    if options.case_timeout <= 0:
        raise UserError(f"--case-timeout {options.case_timeout!r}: give a number of seconds above 0")
    for directory in options.registers:
        if not Path(directory).is_dir():
            raise UserError(f"--register {directory}: no such directory")
    if Path(options.results).exists() and not Path(options.results).is_dir():
        raise UserError(f"--results {options.results}: a file is there, not a directory")
    if options.junitxml and Path(options.junitxml).is_dir():
        raise UserError(f"--junitxml {options.junitxml}: a directory is there, not a file")
    if options.existing not in EXISTING:
        raise UserError(f"existing result files: choose one of {EXISTING}")
    keyword_filter(options.keyword)


def planned_cases(options: Options) -> list[Case]:
    """The profile's cases, or the ones given by id, narrowed by dtype and shard (before each adapter takes
    those it speaks)."""
    cases = [Case.from_id(case_id) for case_id in dict.fromkeys(options.cases)] or profile(options.profile)
    if options.dtypes:
        cases = [case for case in cases if case.dtype in options.dtypes]
    if options.shard:
        cases = [case for case in cases if options.shard.holds(case.id)]
    return cases


def launch_workers(options: Options) -> list[Worker]:
    """Every adapter's process starts importing its framework at once (``start_adapters`` waits for them)."""
    return [Worker(spec, timeout=options.case_timeout, threads=options.threads).launch() for spec in options.adapters]


def start_adapters(options: Options, workers: list[Worker] | None = None) -> dict[str, AdapterRun]:
    """Each adapter described in turn, once its process has loaded its framework; its name checked and
    its register loaded. A bad name or register stops every worker and raises a UserError."""
    workers = workers or launch_workers(options)
    runs = {}
    try:
        for spec, worker in zip(options.adapters, workers):
            run = AdapterRun(
                spec,
                worker=worker,
                timeout=options.case_timeout,
                register_dir=options.register_dirs,
                results_dir=options.results,
                profile=options.profile_name,
                shard=options.shard,
            )
            if not run.info.get("not_loaded"):
                problem = name_problem(run.name)
                if problem:
                    raise UserError(f"--adapter {spec}: {problem}")
                for member in ("framework", "device"):
                    if not isinstance(run.info[member], str) or not run.info[member].strip():
                        raise UserError(f"--adapter {spec}: its {member} {run.info[member]!r} must be a name")
                unknown = sorted(set(run.info["modes"]) - {modes.EXPLICIT, *modes.FRAMEWORKS})
                if unknown:
                    raise UserError(
                        f"--adapter {spec}: modes {unknown} are none of the suite's ({modes.EXPLICIT}, "
                        f"{', '.join(modes.FRAMEWORKS)})"
                    )
                if run.name in runs:
                    raise UserError(f"--adapter {spec}: another adapter of this run is named {run.name!r} too")
                run.load_register()
            runs[run.name] = run
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return runs


def unused_register_files(options: Options, runs: dict[str, AdapterRun]) -> list[str]:
    """The files in a user's register directories that name no adapter or framework of this run (a typo in
    a file name would otherwise leave its entries silently unused)."""
    names = {run.name for run in runs.values()} | {str(run.info["framework"]) for run in runs.values()}
    return [
        f"{path}: names no adapter or framework of this run ({', '.join(sorted(names))}); its entries are not used"
        for directory in options.registers
        for path in sorted(Path(directory).glob("*.toml"))
        if path.stem not in names
    ]


def open_files(options: Options, runs: dict[str, AdapterRun], chosen: dict[str, list[Case]]) -> dict[str, list[Case]]:
    """Each adapter's result file opened (locked) before any case runs, and the cases left to run: with
    ``--resume``, those its file does not hold yet. An adapter that has no case selected gets no file."""
    left = {}
    try:
        for name, run in runs.items():
            run.planned = 0 if run.info["unavailable"] else len(chosen[name])
            left[name] = []
            # An adapter that could not be loaded has a file only if its spec is a name a file can have.
            unnamed = run.info.get("not_loaded") and name_problem(run.name)
            if unnamed or not (run.planned or run.info["unavailable"]):
                continue
            file = run.open_file(options.existing, dtypes=options.dtypes, keyword=options.keyword, cases=options.cases)
            if not run.info["unavailable"]:
                left[name] = [case for case in chosen[name] if case.id not in file.recorded]
    except BaseException:
        for run in runs.values():
            run.stop()
            if run.file is not None:
                run.file.release()
        raise
    return left


def selection(options: Options, runs: dict[str, AdapterRun], cases: list[Case]) -> dict[str, list[Case]]:
    """Each adapter's cases: those of the plan it speaks, then those ``-k`` keeps."""
    selected = keyword_filter(options.keyword)
    return {
        name: [
            case for case in cases if run.speaks(case) and selected(keyword_names(name, run.info["framework"], case))
        ]
        for name, run in runs.items()
    }


@dataclass
class Finished:
    """What a run did: per adapter, its cases and records; the problems that fail it."""

    runs: dict[str, AdapterRun]
    records: dict[str, list[dict]]
    seconds: float
    register_problems: list[str]
    startup_seconds: float = 0.0  # until every adapter's framework was loaded and described
    unavailable: dict[str, str] = field(default_factory=dict)  # adapters that could not run, not allowed to: why

    @property
    def rate(self) -> float:
        """Results per second once the frameworks were loaded."""
        total = sum(len(records) for records in self.records.values())
        return total / max(self.seconds - self.startup_seconds, 1e-9)

    @property
    def unexplained(self) -> list[dict]:
        return [record for records in self.records.values() for record in records if not record["explained"]]

    @property
    def exit_status(self) -> int:
        if self.unavailable:
            return 1
        resumed = any(run.file and run.file.recorded for run in self.runs.values())
        if (
            not any(self.records.values())
            and not resumed
            and not any(run.info["unavailable"] for run in self.runs.values())
        ):
            return 5  # as pytest: nothing was selected
        return 1 if self.unexplained or self.register_problems else 0


def execute(options: Options, out=sys.stdout) -> Finished:
    """Run the selected cases on every adapter and write their records; print what happened.

    Bad options, adapter names, registers or result files raise a UserError before any case runs.
    SIGTERM ends the run as Ctrl-C does (KeyboardInterrupt): each result file gets its end line, and a
    file opened but not yet written is left as it was."""
    with _terminate_as_interrupt():
        return _execute(options, out)


def _execute(options: Options, out) -> Finished:
    check(options)
    start = time.perf_counter()
    workers = launch_workers(options)
    cases = planned_cases(options)  # while the frameworks load
    runs = start_adapters(options, workers)
    startup = time.perf_counter() - start
    chosen = selection(options, runs, cases)
    for warning in unused_register_files(options, runs):
        print(f"warning: {warning}", file=sys.stderr)
    left = open_files(options, runs, chosen)
    records: dict[str, list[dict]] = {name: [] for name in runs}
    judged: queue.Queue = queue.Queue(maxsize=BACKLOG)
    feeds: list[Feed] = []
    sources: dict[str, Cases] = {}
    pace = Pace()
    try:
        for name, run in runs.items():
            if left[name]:
                sources[name] = Cases(left[name])
                feeds.append(Feed(run.worker, sources[name], _deliver_to(judged, run)))
        bars = _progress_bars(options, runs, left)
        remaining = sum(map(len, left.values()))
        while remaining:
            try:
                run, case, attempt = judged.get(timeout=1.0)
            except queue.Empty:
                if any(feed.alive for feed in feeds) or not judged.empty():
                    continue
                # Never wait for records no one will send: the end lines will show what is missing.
                print(f"error: the workers stopped with {remaining} cases unrecorded", file=sys.stderr)
                break
            records[run.name].append(_kept(run.record(case, attempt)))
            pace.add(run.name, attempt.seconds)
            remaining -= 1
            if run.name in bars:
                bars[run.name].update()
            helped = pace.adapter_to_help(sources, busy=sum(feed.alive for feed in feeds))
            if helped:
                worker = Worker(runs[helped].worker.spec, timeout=options.case_timeout, threads=options.threads)
                feeds.append(Feed(worker.launch(), sources[helped], _deliver_to(judged, runs[helped])))
                runs[helped].processes += 1
        for bar in bars.values():
            bar.close()
    finally:
        # Feeds blocked on a full backlog (a run stopped early) get room for their last attempt, then end.
        for feed in feeds:
            feed.halt()
        with contextlib.suppress(queue.Empty):
            while True:
                judged.get_nowait()
        for feed in feeds:
            feed.stop()
        for run in runs.values():
            run.stop()
            if run.file is not None:
                run.file.close()
    # The model layers alone are a slice of the default profile: entries about the rest need not match there.
    narrowed = (
        bool(options.dtypes or options.keyword or options.shard or options.cases) or options.profile == MODELS_ONLY
    )
    problems = register_problems(runs, chosen, narrowed)
    finished = Finished(runs, records, time.perf_counter() - start, problems, startup_seconds=startup)
    finished.unavailable = unavailable_problems(runs, options.allow_unavailable)
    if options.junitxml:
        write_junit(finished, chosen, Path(options.junitxml))
    _summary(finished, out)
    return finished


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a CI job cancelled, ``kill``) raises KeyboardInterrupt, so the run closes its files as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def unavailable_problems(runs: dict[str, AdapterRun], allowed: list[str]) -> dict[str, str]:
    """The requested adapters that could not run here and were not allowed to be unavailable, with why."""
    return {
        name: f"{name}: unavailable ({run.info['unavailable']}); --allow-unavailable {name} records it and goes on"
        for name, run in runs.items()
        if run.info["unavailable"] and "*" not in allowed and name not in allowed and run.worker.spec not in allowed
    }


def _deliver_to(judged: queue.Queue, run: AdapterRun):
    return lambda case, attempt: judged.put((run, case, attempt))


class Pace:
    """Seconds per case of each adapter lately, to lend a core that fell idle to the slowest one left.

    Adapters run side by side, one process each; near the end of a run only the slowest may be left
    (JAX compiling every new shape), while a core idles. A second process of that adapter then takes
    cases from the same source, if what is left is worth a framework's import. The pace is that of the
    last ``RECENT`` cases: a framework's first calls (its own warm-up) say nothing of the rest."""

    RECENT = 50

    def __init__(self, cores: int | None = None):
        self.cores = cores or os.cpu_count() or 1
        self.recent: dict[str, deque] = {}

    def add(self, adapter: str, seconds: float) -> None:
        self.recent.setdefault(adapter, deque(maxlen=self.RECENT)).append(seconds)

    def left(self, adapter: str, cases_left: int) -> float:
        """Seconds of work left, or 0 until the adapter has shown its pace."""
        recent = self.recent.get(adapter, ())
        return cases_left * sum(recent) / len(recent) if len(recent) == self.RECENT else 0.0

    def adapter_to_help(self, sources: dict, busy: int) -> str | None:
        if busy >= self.cores:
            return None
        work = {name: self.left(name, len(source)) for name, source in sources.items() if len(source)}
        slowest = max(work, key=work.get, default=None)
        return slowest if slowest is not None and work[slowest] >= WORTH_A_PROCESS else None


def _kept(record) -> dict:
    """What the summary and the JUnit XML need of a record (the result file holds it whole)."""
    kept = {
        key: getattr(record, key) for key in ("case_id", "adapter", "outcome", "raw_outcome", "explained", "duration_s")
    }
    if not record.explained:
        kept["repro"] = record.repro
    return kept


def _progress_bars(options: Options, runs: dict[str, AdapterRun], left: dict[str, list]) -> dict:
    """One bar per adapter with its rate and ETA on a terminal; nothing in a CI log."""
    shown = sys.stderr.isatty() if options.progress is None else options.progress
    if not shown:
        return {}
    from tqdm import tqdm

    width = max(len(name) for name in runs)
    return {
        name: tqdm(
            total=len(left[name]), desc=name.ljust(width), unit="case", position=index, leave=True, file=sys.stderr
        )
        for index, name in enumerate(runs)
        if left[name]
    }


def register_problems(runs: dict[str, AdapterRun], chosen: dict, narrowed: bool) -> list[str]:
    """A complete run must meet every register entry it can reach (but those a round trip inherits from its
    source and target); a narrowed one (dtype, -k, shard) need not."""
    if narrowed:
        return []
    return [
        f"{run.name}: register entry {entry.id!r} matched no case of this run"
        for run in runs.values()
        if not run.info["unavailable"] and sum(run.outcomes.values()) == len(chosen[run.name])
        for entry in run.register.entries
        if entry.id not in run.matched
        and not entry.inherited_from
        and entry.reaches(run.info["modes"], run.info.get("backward", True))
    ]


def tallies(runs: dict[str, AdapterRun]) -> list[str]:
    """One line per adapter: its outcomes and its result file, or why it was unavailable."""
    lines = []
    for run in runs.values():
        if run.info["unavailable"]:
            lines.append(f"{run.name}: unavailable ({run.info['unavailable']})")
            continue
        tally = ", ".join(f"{count} {outcome}" for outcome, count in sorted(run.outcomes.items()))
        where = f" -> {run.file.path}" if run.file else ""
        processes = f" ({run.processes} processes)" if run.processes > 1 else ""
        resumed = f" (resumed: {len(run.file.recorded)} recorded before)" if run.file and run.file.recorded else ""
        lines.append(f"{run.name}: {tally or 'no cases run'}{processes}{resumed}{where}")
    return lines


def _summary(finished: Finished, out) -> None:
    for line in tallies(finished.runs):
        print(line, file=out)
    for record in finished.unexplained:
        where = finished.runs[record["adapter"]].file.path
        print(
            f"FAILED {test_id(record['adapter'], record['case_id'])}: {record['outcome']} "
            f"is not explained by the divergence register (details and a repro in {where})",
            file=out,
        )
    for problem in finished.register_problems:
        print(f"REGISTER: {problem}", file=out)
    for problem in finished.unavailable.values():
        print(f"UNAVAILABLE: {problem}", file=out)
    total = sum(len(records) for records in finished.records.values())
    print(
        f"{total} results in {finished.seconds:.1f} s (frameworks loaded in {finished.startup_seconds:.1f} s, "
        f"then {finished.rate:.0f} results/s): "
        f"{total - len(finished.unexplained)} explained, {len(finished.unexplained)} not explained",
        file=out,
    )


def write_junit(finished: Finished, chosen: dict[str, list[Case]], path: Path) -> None:
    """JUnit XML as pytest writes it: one testcase per (adapter, case), a failure per unexplained outcome,
    a skip per case of an unavailable adapter."""
    suite = ElementTree.Element("testsuite", name="conformance")
    counts = Counter()
    for name, run in finished.runs.items():
        if run.info.get("not_loaded"):  # no case of its own to skip: the loading is the test that failed
            element = _testcase(suite, name, "load", 0.0)
            problem = name in finished.unavailable
            ElementTree.SubElement(element, "error" if problem else "skipped", message=run.info["unavailable"])
            counts["errors" if problem else "skipped"] += 1
            continue
        if run.info["unavailable"]:
            for case in chosen[name]:
                element = _testcase(suite, name, case.id, 0.0)
                ElementTree.SubElement(element, "skipped", message=f"{name} unavailable: {run.info['unavailable']}")
                counts["skipped"] += 1
            continue
        for record in finished.records[name]:
            element = _testcase(suite, name, record["case_id"], record["duration_s"])
            if not record["explained"]:
                failure = ElementTree.SubElement(
                    element, "failure", message=f"{record['outcome']} is not explained by the divergence register"
                )
                failure.text = f"outcome {record['outcome']} (raw {record['raw_outcome']})\nrepro:\n{record['repro']}"
                counts["failures"] += 1
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(counts["failures"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("errors", str(counts["errors"]))
    suite.set("time", f"{finished.seconds:.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ElementTree.ElementTree(ElementTree.Element("testsuites"))
    tree.getroot().append(suite)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _testcase(suite, adapter: str, case_id: str, seconds: float):
    return ElementTree.SubElement(
        suite,
        "testcase",
        classname="conformance.test_conformance",
        name=f"{TEST_FUNCTION}[{adapter}:{case_id}]",
        time=f"{seconds:.6f}",
    )
