"""The pytest plugin behind ``pytest conformance``: options, one test per (adapter, case), records."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from adapters import CPU_ADAPTERS
from conformance.case import make_inputs
from conformance.compare import accumulation_length, compare, expected_and_tolerance
from conformance.divergences import REGISTER_DIR, is_explained, load_register, settle
from conformance.grid import PROFILES, profile
from conformance.records import ResultFile, cpu_model, envelope
from conformance.worker import Worker


def pytest_addoption(parser):
    group = parser.getgroup("conformance")
    group.addoption(
        "--adapter",
        action="append",
        default=[],
        help=f"adapter name or import path module:Class (repeatable; default {', '.join(CPU_ADAPTERS)})",
    )
    group.addoption("--profile", default="smoke", choices=sorted(PROFILES), help="case profile (default smoke)")
    group.addoption("--dtype", action="append", default=[], help="only cases of this dtype (repeatable)")
    group.addoption("--results", default="results", help="directory for the JSON Lines result files")
    group.addoption("--case-timeout", type=float, default=60.0, help="seconds one case may take (default 60)")
    group.addoption("--register", default=str(REGISTER_DIR), help="directory of divergence register files")


def marker_name(framework: str) -> str:
    return re.sub(r"\W", "_", framework)


class AdapterRun:
    """One adapter's share of a run: its worker, register, result file and tallies."""

    def __init__(self, spec: str, config):
        self.worker = Worker(spec, timeout=config.getoption("case_timeout"))
        self.info = self.worker.describe()
        self.name = self.info["name"]
        self.register = load_register(self.name, Path(config.getoption("register")))
        self.matched: set[str] = set()
        self.outcomes: Counter = Counter()
        self.results_dir = Path(config.getoption("results"))
        self.profile = config.getoption("profile")
        self.file = None
        if self.info["unavailable"]:
            self.worker.stop()

    def open_file(self) -> ResultFile:
        if self.file is None:
            header = envelope(
                adapter=self.name,
                device=self.info["device"],
                versions=self.info.get("versions", {}),
                precision=self.info.get("precision", {}),
                profile=self.profile,
                device_model=cpu_model() if self.info["device"] == "cpu" else self.info.get("versions", {}).get(
                    "device", self.info["device"]
                ),
            )
            header["unavailable"] = self.info["unavailable"]
            self.file = ResultFile(self.results_dir, self.name, header)
        return self.file

    def execute(self, case) -> dict:
        attempt = self.worker.run(case.id)
        entries = self.register.matching(case)
        self.matched.update(entry.id for entry in entries)
        metrics = {}
        if attempt.status == "ok":
            x, w, bias = make_inputs(case)
            expected, tolerance = expected_and_tolerance(case, x, w, bias, self.register.widen(case))
            comparison = compare(case, expected, tolerance, attempt.output)
            raw_outcome, metrics = comparison.outcome, comparison.metrics
            metrics["output_dtype"] = attempt.output_dtype
        else:
            raw_outcome = attempt.status
            metrics["message"] = attempt.message
        outcome, entry = settle(raw_outcome, entries)
        record = {
            "case_id": case.id,
            "case": case.fields(),
            "adapter": self.name,
            "device": self.info["device"],
            "outcome": outcome,
            "raw_outcome": raw_outcome,
            "explained": is_explained(outcome, entry),
            "metrics": metrics,
            "tolerance": {
                "rule": "(gamma_L + u) * (|x| (*) |w| + |bias|) + smallest_normal",
                "accumulation_length": accumulation_length(case),
                "widen": self.register.widen(case),
            },
            "divergence": entry.summary() if entry is not None else None,
            "warnings": attempt.warnings,
            "duration_s": round(attempt.seconds, 6),
            "repro": attempt.repro,
        }
        self.open_file().append(record)
        self.outcomes[outcome] += 1
        return record


class ConformanceRun:
    def __init__(self, config):
        specs = config.getoption("adapter") or list(CPU_ADAPTERS)
        self.adapters = {}
        for spec in specs:
            run = AdapterRun(spec, config)
            self.adapters[run.name] = run
        dtypes = config.getoption("dtype")
        self.cases = [c for c in profile(config.getoption("profile")) if not dtypes or c.dtype in dtypes]
        self.filtered = bool(dtypes)
        self.executed: Counter = Counter()

    def close(self):
        for run in self.adapters.values():
            run.worker.stop()
            if run.file is None:
                run.open_file()  # an unavailable or deselected adapter still leaves its envelope
            run.file.close()


def pytest_configure(config):
    if not _is_conformance_session(config):
        return
    config._conformance = ConformanceRun(config)
    for run in config._conformance.adapters.values():
        marker = marker_name(run.info["framework"])
        config.addinivalue_line("markers", f"{marker}: cases run on the {run.info['framework']} framework")


def _is_conformance_session(config) -> bool:
    return not config.option.help and hasattr(config.option, "profile")


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    state = metafunc.config._conformance
    params = []
    for name, run in state.adapters.items():
        mark = getattr(pytest.mark, marker_name(run.info["framework"]))
        params += [pytest.param(name, case, id=f"{name}:{case.id}", marks=mark) for case in state.cases]
    metafunc.parametrize(("adapter_name", "case"), params)


def pytest_collection_modifyitems(session, config, items):
    state = getattr(config, "_conformance", None)
    if state is not None and len(items) < len(state.adapters) * len(state.cases):
        state.filtered = True  # -k or -m narrowed the run: unmatched register entries are not errors


@pytest.fixture
def conformance(request):
    return request.config._conformance


def pytest_sessionfinish(session, exitstatus):
    state = getattr(session.config, "_conformance", None)
    if state is None:
        return
    state.close()
    problems = []
    for run in state.adapters.values():
        if run.info["unavailable"] or state.filtered:
            continue
        for entry in run.register.entries:
            if entry.id not in run.matched:
                problems.append(f"{run.name}: register entry {entry.id!r} matched no case of this run")
    state.register_problems = problems
    if problems and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = getattr(config, "_conformance", None)
    if state is None:
        return
    terminalreporter.section("conformance")
    for run in state.adapters.values():
        if run.info["unavailable"]:
            terminalreporter.write_line(f"{run.name}: unavailable ({run.info['unavailable']})")
            continue
        tally = ", ".join(f"{count} {outcome}" for outcome, count in sorted(run.outcomes.items()))
        where = f" -> {run.file.path}" if run.file else ""
        terminalreporter.write_line(f"{run.name}: {tally or 'no cases run'}{where}")
    for problem in getattr(state, "register_problems", []):
        terminalreporter.write_line(f"REGISTER: {problem}", red=True)
