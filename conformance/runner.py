"""Runs cases on one adapter: worker, comparison with the reference, register, result record.

Adapters' workers can run ahead of the records (``start_ahead``): each adapter's process works
through its cases on its own, a few adapters at a time, while the records are written in order.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from functools import lru_cache
from pathlib import Path

from adapters.capabilities import Capabilities
from conformance.case import Case, make_inputs
from conformance.compare import (
    accumulation_length,
    compare,
    expected_and_tolerance,
    judge_must_reject,
    observed_crop,
)
from conformance.divergences import (
    capability_entries,
    is_explained,
    load_register,
    promotions,
    settle,
    widening,
)
from conformance.records import ResultFile, cpu_model, envelope
from conformance.worker import Worker

# How many adapters' processes compute at once when they run ahead: one per core, at least two.
PARALLEL = max(2, os.cpu_count() or 1)
_SLOTS = threading.BoundedSemaphore(PARALLEL)


@lru_cache(maxsize=8192)
def _expected(case_id: str, widen: float):
    """The reference output and tolerance, shared by every adapter that runs the same case."""
    case = Case.from_id(case_id)
    x, w, bias = make_inputs(case)
    return expected_and_tolerance(case, x, w, bias, widen)


def given_to(case, capabilities: Capabilities, framework_modes) -> bool:
    """Whether an adapter is given a case: explicit ones and those of the modes it speaks; of the
    must-reject cases, those breaking a rule its framework documents."""
    if case.violates and case.violates not in capabilities.rejects:
        return False
    return case.mode_spec.framework in framework_modes


class RunAhead:
    """A thread that feeds an adapter's worker its cases in order and keeps the attempts."""

    def __init__(self, worker: Worker, case_ids: list[str]):
        self.worker = worker
        self.pending = set(case_ids)
        self.attempts = {}
        self._ready = threading.Condition()
        self._stopping = False
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._work, args=(list(case_ids),), daemon=True)
        self._thread.start()

    def _work(self, case_ids: list[str]) -> None:
        try:
            for case_id in case_ids:
                if self._stopping:
                    return
                with _SLOTS:
                    attempt = self.worker.run(case_id)
                with self._ready:
                    self.attempts[case_id] = attempt
                    self._ready.notify_all()
        except BaseException as error:  # e.g. a worker that cannot restart: fail the tests, never hang them
            with self._ready:
                self.failure = error
                self._ready.notify_all()

    def take(self, case_id: str):
        if case_id not in self.pending:
            raise KeyError(f"case {case_id} was not given to this adapter's run-ahead")
        with self._ready:
            self._ready.wait_for(lambda: case_id in self.attempts or self.failure is not None)
            if case_id not in self.attempts:
                raise RuntimeError(f"the adapter's run-ahead stopped before {case_id}: {self.failure}")
            self.pending.discard(case_id)
            return self.attempts.pop(case_id)

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(timeout=5)


class AdapterRun:
    """One adapter's share of a run: its worker, register, result file and tallies."""

    def __init__(self, spec: str, *, timeout: float, register_dir: Path, results_dir: Path, profile: str, worker=None):
        self.worker = worker or Worker(spec, timeout=timeout)
        self.info = self.worker.describe()
        self.name = self.info["name"]
        self.capabilities = Capabilities.from_data(self.info["capabilities"])
        self.register = load_register(
            self.name,
            register_dir,
            framework=self.info["framework"],
            device=self.info["device"],
            versions=None if self.info["unavailable"] else self.info.get("versions", {}),
        )
        self.register.entries += capability_entries(self.name, self.capabilities, self.info["modes"])
        self.matched: set[str] = set()
        self.outcomes: Counter = Counter()
        self.results_dir = Path(results_dir)
        self.profile = profile
        self.file = None
        self.planned = 0
        self.ahead: RunAhead | None = None
        if self.info["unavailable"]:
            self.worker.stop()

    def speaks(self, case) -> bool:
        return given_to(case, self.capabilities, self.info["modes"])

    def start_ahead(self, cases) -> None:
        """Let the worker run these cases in the background; ``execute`` then takes their attempts."""
        if not self.info["unavailable"] and cases:
            self.ahead = RunAhead(self.worker, [case.id for case in cases])

    def stop(self) -> None:
        if self.ahead is not None:
            self.ahead.stop()
        self.worker.stop()

    def open_file(self) -> ResultFile:
        if self.file is None:
            header = envelope(
                adapter=self.name,
                device=self.info["device"],
                versions=self.info.get("versions", {}),
                precision=self.info.get("precision", {}),
                profile=self.profile,
                device_model=cpu_model()
                if self.info["device"] == "cpu"
                else self.info.get("versions", {}).get("device", self.info["device"]),
                planned=self.planned,
            )
            header["unavailable"] = self.info["unavailable"]
            self.file = ResultFile(self.results_dir, self.name, header)
        return self.file

    def execute(self, case) -> dict:
        attempt = self.ahead.take(case.id) if self.ahead is not None else self.worker.run(case.id)
        entries = self.register.matching(case)
        self.matched.update(entry.id for entry in entries)
        widen = widening(entries)
        if case.violates:
            comparison = judge_must_reject(case, *make_inputs(case), attempt)
            raw_outcome, metrics = comparison.outcome, comparison.metrics
        elif attempt.status == "ok":  # values come back only from an adapter that computes a real output
            expected, tolerance = _expected(case.id, widen) if attempt.output is not None else (None, None)
            comparison = compare(
                case,
                expected,
                tolerance,
                attempt.output,
                output_shape=attempt.output_shape,
                output_dtype=attempt.output_dtype,
                promoted_to=promotions(entries),
            )
            raw_outcome, metrics = comparison.outcome, comparison.metrics
            if raw_outcome in ("shape_mismatch", "value_mismatch") and attempt.output is not None:
                metrics["observed_window"] = observed_crop(case, *make_inputs(case), attempt.output)
        else:
            raw_outcome = attempt.status
            metrics = {"message": attempt.message}
            if attempt.stage:
                metrics["stage"] = attempt.stage
        outcome, entry = settle(raw_outcome, entries, attempt.message)
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
                "widen": widen,
            },
            "divergence": entry.summary() if entry is not None else None,
            "warnings": attempt.warnings,
            "duration_s": round(attempt.seconds, 6),
            "repro": attempt.repro,
        }
        self.open_file().append(record)
        self.outcomes[outcome] += 1
        return record
