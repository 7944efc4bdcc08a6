"""The pytest plugin behind ``pytest conformance``: the engine's run, one test per (adapter, case).

The same adapters, cases, ids, markers and records as ``python -m conformance run`` (conformance/engine.py),
which does without pytest's per-test protocol.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from adapters import CPU_ADAPTERS
from conformance.engine import (
    Options,
    Shard,
    check,
    marker_name,
    open_files,
    planned_cases,
    register_problems,
    start_adapters,
    tallies,
    test_id,
    thread_count,
)
from conformance.errors import UserError
from conformance.grid import MODELS_ONLY, PROFILES
from conformance.runner import Feed


def pytest_addoption(parser):
    group = parser.getgroup("conformance")
    group.addoption(
        "--adapter",
        action="append",
        default=[],
        help=f"adapter name or import path module:Class (repeatable; default {', '.join(CPU_ADAPTERS)})",
    )
    group.addoption(
        "--profile", default="smoke", choices=[*sorted(PROFILES), MODELS_ONLY], help="case profile (default smoke)"
    )
    group.addoption("--dtype", action="append", default=[], help="only cases of this dtype (repeatable)")
    group.addoption("--results", default="results", help="directory for the JSON Lines result files")
    group.addoption("--case-timeout", type=float, default=60.0, help="seconds one case may take (default 60)")
    group.addoption(
        "--threads", type=thread_count, default=1, help="threads per operation in each framework (0: its own)"
    )
    group.addoption(
        "--register", action="append", default=[], help="a directory of register files added to the built-in one"
    )
    group.addoption("--resume", action="store_true", help="continue the result files already there")
    group.addoption("--overwrite", action="store_true", help="replace the result files already there")
    group.addoption("--shard", default=None, type=Shard.parse, help="run shard K of N of the profile (K/N)")


class Attempts:
    """One adapter's attempts as its Feed delivers them, taken by the tests in the same order."""

    def __init__(self):
        self._arrived = {}
        self._ready = threading.Condition()

    def deliver(self, case, attempt) -> None:
        with self._ready:
            self._arrived[case.id] = attempt
            self._ready.notify_all()

    def deliver_recorded(self, case_id: str) -> None:
        """A case an earlier run recorded (--resume): there is no attempt, the test says so."""
        with self._ready:
            self._arrived[case_id] = None
            self._ready.notify_all()

    def take(self, case_id: str):
        with self._ready:
            self._ready.wait_for(lambda: case_id in self._arrived)
            return self._arrived.pop(case_id)


class ConformanceRun:
    def __init__(self, config):
        self.options = Options(
            adapters=config.getoption("adapter") or list(CPU_ADAPTERS),
            profile=config.getoption("profile"),
            dtypes=config.getoption("dtype"),
            results=Path(config.getoption("results")),
            case_timeout=config.getoption("case_timeout"),
            threads=config.getoption("threads"),
            registers=[Path(directory) for directory in config.getoption("register")],
            shard=config.getoption("shard"),
            existing="resume"
            if config.getoption("resume")
            else "overwrite"
            if config.getoption("overwrite")
            else "refuse",
        )
        try:
            check(self.options)
            self.adapters = start_adapters(self.options)
        except UserError as error:  # said on one line, as the engine's front door says it
            raise pytest.UsageError(str(error)) from None
        cases = planned_cases(self.options)
        self.cases = {name: [case for case in cases if run.speaks(case)] for name, run in self.adapters.items()}
        self.narrowed = bool(self.options.dtypes or self.options.shard) or self.options.profile == MODELS_ONLY
        self.attempts = {name: Attempts() for name in self.adapters}
        self.feeds = []

    def start(self, selected: dict) -> None:
        """Once selection is final (-k, -m), every adapter's result file is opened and its worker starts
        on its selected cases (with --resume, those its file lacks: the others are taken as recorded)."""
        chosen = {name: selected.get(name, []) for name in self.adapters}
        try:
            left = open_files(self.options, self.adapters, chosen)
        except UserError as error:
            raise pytest.UsageError(str(error)) from None
        for name, run in self.adapters.items():
            recorded = {case.id for case in chosen[name]} - {case.id for case in left[name]}
            for case_id in recorded:
                self.attempts[name].deliver_recorded(case_id)
            if left[name]:
                self.feeds.append(Feed(run.worker, left[name], self.attempts[name].deliver))

    def close(self):
        for feed in self.feeds:
            feed.stop()
        for run in self.adapters.values():
            run.stop()
            if run.file is not None:
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
        params += [pytest.param(name, case, id=test_id(name, case.id), marks=mark) for case in state.cases[name]]
    metafunc.parametrize(("adapter_name", "case"), params)


def pytest_collection_finish(session):
    state = getattr(session.config, "_conformance", None)
    if state is None:
        return
    selected = {}
    for item in session.items:
        spec = getattr(item, "callspec", None)
        if spec is not None and "adapter_name" in spec.params:
            selected.setdefault(spec.params["adapter_name"], []).append(spec.params["case"])
    state.selected = selected
    if session.config.option.collectonly:  # nothing runs: no result file is opened, no worker fed
        return
    state.start(selected)


@pytest.fixture
def conformance(request):
    return request.config._conformance


def pytest_sessionfinish(session, exitstatus):
    state = getattr(session.config, "_conformance", None)
    if state is None:
        return
    state.close()
    # -k and -m narrow a run too: an adapter with fewer outcomes than cases is not held to every entry.
    problems = register_problems(state.adapters, state.cases, state.narrowed)
    state.register_problems = problems
    if problems and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = getattr(config, "_conformance", None)
    if state is None:
        return
    terminalreporter.section("conformance")
    for line in tallies(state.adapters):
        terminalreporter.write_line(line)
    for problem in getattr(state, "register_problems", []):
        terminalreporter.write_line(f"REGISTER: {problem}", red=True)
