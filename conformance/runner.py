"""Runs cases on one adapter: worker, comparison with the reference, register, result record.

An adapter's ``Feed`` runs its cases through its worker process in the background; ``AdapterRun.record``
turns each attempt into the result record. The engine (conformance/engine.py) and the pytest front end
(conformance/conftest.py) both drive runs this way, so their records are the same.
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import lru_cache
from pathlib import Path

from adapters.capabilities import Capabilities
from conformance.case import Case, shared_inputs, shared_upstream
from conformance.compare import (
    compare,
    compare_gradients,
    expected_and_tolerance,
    expected_gradients,
    judge_must_reject,
    observed_crop,
    tolerance_summary,
)
from conformance.divergences import (
    Register,
    capability_entries,
    is_explained,
    load_register,
    promotions,
    settle,
    widening,
)
from conformance.records import Record, RegisterEntry, ResultFile, cpu_model, envelope
from conformance.worker import AdapterNotLoaded, Attempt, Worker, unloaded_info


@lru_cache(maxsize=4096)
def _expected(case: Case):
    """The reference output and tolerance, computed once per case and shared by every adapter of a run."""
    return expected_and_tolerance(case, *shared_inputs(case))


def expected(case: Case, widen: float = 1.0):
    """The shared expected output and tolerance, the tolerance widened by a registered entry."""
    output, tolerance = _expected(case)
    return output, (tolerance if widen == 1.0 else widen * tolerance)


@lru_cache(maxsize=1024)
def _expected_gradients(case: Case) -> dict:
    return expected_gradients(case, *shared_inputs(case), shared_upstream(case))


def gradients_expected(case: Case, widen: float = 1.0) -> dict:
    """A backward case's reference gradients and tolerances, shared as ``expected``, widened alike."""
    return {name: (value, widen * tolerance) for name, (value, tolerance) in _expected_gradients(case).items()}


def given_to(case, capabilities: Capabilities, framework_modes, backward: bool = False) -> bool:
    """Whether an adapter is given a case: explicit ones and those of the modes it speaks; of the
    must-reject cases, those breaking a rule its framework documents; backward cases where it has a
    backward pass."""
    if case.violates and case.violates not in capabilities.rejects:
        return False
    if case.direction == "backward" and not backward:
        return False
    return case.mode_spec.framework in framework_modes


class Feed:
    """A thread that runs cases through one worker of an adapter, handing each attempt to
    ``deliver(case, attempt)``. ``cases`` may be a ``worker.Cases`` source that other feeds of the same
    adapter share: each takes the next case left."""

    def __init__(self, worker: Worker, cases, deliver):
        self.worker = worker
        self.cases = cases
        self._deliver = deliver
        self._stopping = False
        self._thread = threading.Thread(target=self._work, daemon=True, name=f"feed {worker.spec}")
        self._thread.start()

    def _work(self) -> None:
        try:
            for case, attempt in self.worker.attempts(self.cases):
                if self._stopping:
                    return
                self._deliver(case, attempt)
        except (OSError, ValueError):
            if not self._stopping:  # a worker stopped under a halted feed: the run is over, nothing is lost
                raise

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def halt(self) -> None:
        """Deliver nothing more (the attempt being delivered, if any, is the last)."""
        self._stopping = True

    def stop(self) -> None:
        self.halt()
        self.worker.stop()
        self._thread.join(timeout=5)


class AdapterRun:
    """One adapter's share of a run: its worker, register, result file and tallies."""

    def __init__(
        self,
        spec: str,
        *,
        timeout: float,
        register_dir,
        results_dir: Path,
        profile: str,
        worker=None,
        shard=None,
    ):
        self.worker = worker or Worker(spec, timeout=timeout)
        try:
            self.info = self.worker.describe()
        except AdapterNotLoaded as error:  # this adapter alone is lost, with the reason
            self.info = unloaded_info(spec, str(error))
        self.name = self.info["name"]
        self.capabilities = Capabilities.from_data(self.info["capabilities"])
        self.register_dir = register_dir
        self.register = Register(self.name)  # loaded by load_register, once the name is known to be safe
        self.matched: set[str] = set()
        self.outcomes: Counter = Counter()
        self.results_dir = Path(results_dir)
        self.profile = profile
        self.shard = shard  # engine.Shard or None
        self.file = None
        self.planned = 0
        self.processes = 1  # the engine may lend an idle core to a slow adapter: a second process
        if self.info["unavailable"]:
            self.worker.stop()

    def load_register(self) -> None:
        """The adapter's register entries for its device and versions, and those its capabilities imply.
        Apart from construction: a name that cannot be an adapter's must not be looked up as a file."""
        self.register = load_register(
            self.name,
            self.register_dir,
            framework=self.info["framework"],
            device=self.info["device"],
            versions=None if self.info["unavailable"] else self.info.get("versions", {}),
            inherits=self.info.get("inherits", ()),
        )
        self.register.entries += capability_entries(self.name, self.capabilities, self.info["modes"])

    def speaks(self, case) -> bool:
        return given_to(case, self.capabilities, self.info["modes"], self.info.get("backward", False))

    def stop(self) -> None:
        self.worker.stop()

    def open_file(self, existing: str = "refuse", dtypes=(), keyword=None, cases=()) -> ResultFile:
        """The adapter's result file, opened before its first case (``existing``: see ``ResultFile``)."""
        if self.file is None:
            header = envelope(
                adapter=self.name,
                framework=str(self.info["framework"]),
                device=self.info["device"],
                versions=self.info.get("versions", {}),
                precision=self.info.get("precision", {}),
                profile=self.profile,
                device_model=cpu_model()
                if self.info["device"] == "cpu"
                else self.info.get("versions", {}).get("device", self.info["device"]),
                planned=self.planned,
                shard=self.shard,
                threads=self.info.get("threads"),
                unavailable=self.info["unavailable"],
                conversion=self.info.get("conversion"),
                dtypes=dtypes,
                keyword=keyword,
                cases=cases,
            )
            self.file = ResultFile(self.results_dir, header, existing=existing)
        return self.file

    def execute(self, case) -> Record:
        """Run one case now and record it."""
        return self.record(case, self.worker.run(case))

    def record(self, case, attempt: Attempt) -> Record:
        """Judge an attempt against the reference and the register, append its record, and return it."""
        entries = self.register.matching(case)
        self.matched.update(entry.id for entry in entries)
        widen = widening(entries)
        if case.violates:
            comparison = judge_must_reject(case, *shared_inputs(case), attempt)
            raw_outcome, metrics = comparison.outcome, comparison.metrics
        elif attempt.status == "ok" and case.direction == "backward":
            comparison = compare_gradients(case, gradients_expected(case, widen), attempt.gradients or {},
                                           promotions(entries))  # fmt: skip
            raw_outcome, metrics = comparison.outcome, comparison.metrics
        elif attempt.status == "ok":  # values come back only from an adapter that computes a real output
            reference, tolerance = expected(case, widen) if attempt.output is not None else (None, None)
            comparison = compare(
                case,
                reference,
                tolerance,
                attempt.output,
                output_shape=attempt.output_shape,
                output_dtype=attempt.output_dtype,
                promoted_to=promotions(entries),
            )
            raw_outcome, metrics = comparison.outcome, comparison.metrics
            if raw_outcome in ("shape_mismatch", "value_mismatch") and attempt.output is not None:
                metrics["observed_window"] = observed_crop(case, *shared_inputs(case), attempt.output)
        else:
            raw_outcome = attempt.status
            metrics = {"message": attempt.message}
            if attempt.stage:
                metrics["stage"] = attempt.stage
        if attempt.converted:
            metrics["converted"] = attempt.converted
        outcome, entry = settle(raw_outcome, entries, attempt.message)
        record = Record(
            type="result",
            case_id=case.id,
            case=case,
            adapter=self.name,
            device=self.info["device"],
            outcome=outcome,
            raw_outcome=raw_outcome,
            explained=is_explained(outcome, entry),
            metrics=metrics,
            tolerance=tolerance_summary(case, widen),
            divergence=RegisterEntry(**entry.summary()) if entry is not None else None,
            warnings=[str(warning) for warning in attempt.warnings],
            duration_s=round(attempt.seconds, 6),
            repro=attempt.repro if isinstance(attempt.repro, str) else None,
        )
        self.open_file().append(record)
        self.outcomes[outcome] += 1
        return record
