"""The pytest plugin behind ``pytest conformance``: options, one test per (adapter, case), records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import CPU_ADAPTERS
from conformance.divergences import REGISTER_DIR
from conformance.grid import PROFILES, profile
from conformance.runner import AdapterRun
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


class ConformanceRun:
    def __init__(self, config):
        specs = config.getoption("adapter") or list(CPU_ADAPTERS)
        timeout = config.getoption("case_timeout")
        # Every adapter's process imports its framework at the same time; then each is described in turn.
        workers = [Worker(spec, timeout=timeout).launch() for spec in specs]
        self.adapters = {}
        for spec, worker in zip(specs, workers):
            run = AdapterRun(
                spec,
                worker=worker,
                timeout=timeout,
                register_dir=Path(config.getoption("register")),
                results_dir=Path(config.getoption("results")),
                profile=config.getoption("profile"),
            )
            self.adapters[run.name] = run
        dtypes = config.getoption("dtype")
        cases = [c for c in profile(config.getoption("profile")) if not dtypes or c.dtype in dtypes]
        self.cases = {name: [case for case in cases if run.speaks(case)] for name, run in self.adapters.items()}
        self.filtered = bool(dtypes)

    def close(self):
        for run in self.adapters.values():
            run.stop()
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
        params += [pytest.param(name, case, id=f"{name}:{case.id}", marks=mark) for case in state.cases[name]]
    metafunc.parametrize(("adapter_name", "case"), params)


def pytest_collection_finish(session):
    """Once selection is final (-k, -m), every adapter's worker starts on its cases, a few at a time."""
    state = getattr(session.config, "_conformance", None)
    if state is None:
        return
    selected = {}
    for item in session.items:
        spec = getattr(item, "callspec", None)
        if spec is not None and "adapter_name" in spec.params:
            selected.setdefault(spec.params["adapter_name"], []).append(spec.params["case"])
    for name, run in state.adapters.items():
        run.planned = 0 if run.info["unavailable"] else len(selected.get(name, []))
        run.start_ahead(selected.get(name, []))


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
        # A run narrowed by --dtype, -k or -m need not meet every entry; a complete one must.
        if run.info["unavailable"] or state.filtered or sum(run.outcomes.values()) < len(state.cases[run.name]):
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
