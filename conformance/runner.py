"""Runs cases on one adapter: worker, comparison with the reference, register, result record."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conformance.case import make_inputs
from conformance.compare import accumulation_length, compare, expected_and_tolerance
from conformance.divergences import is_explained, load_register, settle, widening
from conformance.records import ResultFile, cpu_model, envelope
from conformance.worker import Worker


class AdapterRun:
    """One adapter's share of a run: its worker, register, result file and tallies."""

    def __init__(self, spec: str, *, timeout: float, register_dir: Path, results_dir: Path, profile: str):
        self.worker = Worker(spec, timeout=timeout)
        self.info = self.worker.describe()
        self.name = self.info["name"]
        self.register = load_register(self.name, register_dir)
        self.matched: set[str] = set()
        self.outcomes: Counter = Counter()
        self.results_dir = Path(results_dir)
        self.profile = profile
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
                device_model=cpu_model()
                if self.info["device"] == "cpu"
                else self.info.get("versions", {}).get("device", self.info["device"]),
            )
            header["unavailable"] = self.info["unavailable"]
            self.file = ResultFile(self.results_dir, self.name, header)
        return self.file

    def execute(self, case) -> dict:
        attempt = self.worker.run(case.id)
        entries = self.register.matching(case)
        self.matched.update(entry.id for entry in entries)
        widen = widening(entries)
        metrics = {}
        if attempt.status == "ok":
            x, w, bias = make_inputs(case)
            expected, tolerance = expected_and_tolerance(case, x, w, bias, widen)
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
