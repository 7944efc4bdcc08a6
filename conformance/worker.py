"""Runs an adapter in a child process, so that a framework that crashes or hangs costs one case.

The parent sends each case with its inputs (drawn once per case for every adapter and the reference);
the child sends back the output widened exactly to float64 with its original dtype name, or why there
is none.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import threading
import time
import traceback
import warnings
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from conformance.case import shared_inputs, shared_upstream

_CONTEXT = multiprocessing.get_context("spawn")
# Cases queued in an adapter's process ahead of its answers (see Worker.attempts).
PIPELINE_DEPTH = 8
QUEUED_BYTES = 32 * 1024  # well inside a pipe's buffer
# Outputs larger than this are judged by their shape alone: sending a 1 GB answer widened to float64
# would cost the run its memory. The largest case of the profiles has about 0.3 million output elements.
MAX_OUTPUT_ELEMENTS = 16 * 2**20


@dataclass
class Attempt:
    status: str  # ok, unsupported, rejected, crash, timeout, suite_error
    output: np.ndarray | None = None  # widened exactly to float64; None for a shape-only or non-real output
    output_dtype: str | None = None
    output_shape: tuple | None = None
    message: str = ""
    stage: str | None = None  # where a refusal came: construction, conversion, load, call or unknown (adapters.stage)
    converted: dict | None = None  # a round trip's converted node, as the converter wrote it (adapters.Converted)
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    repro: str | None = None
    # A backward case's answer: per gradient (dx, dw, db), its shape, dtype and values as ``output`` above.
    gradients: dict | None = None


class AdapterNotLoaded(RuntimeError):
    """The adapter's process could not import, construct or start it; the message says why."""


def describe(adapter) -> dict:
    """What the suite records about an adapter: its names, and where it can run, its versions.

    An adapter's own ``availability()``, ``versions()`` or ``precision()`` that fails, or answers with
    the wrong type, makes it unavailable with that reason: it costs this adapter alone."""
    import adapters

    info = {
        "name": adapter.name,
        "framework": adapters.framework(adapter),
        "device": adapters.device(adapter),
        "modes": list(adapters.modes(adapter)),
        "capabilities": adapters.capabilities(adapter).to_data(),
        "threads": adapters.thread_limit() or "framework default",
        "backward": adapters.has_backward(adapter),
        "conversion": adapters.conversion(adapter),
        "inherits": list(getattr(adapter, "inherits", ())),  # a round trip's source and target register files
    }
    info["unavailable"] = _asked(adapter, "availability", (str, type(None)))
    for method in ("versions", "precision"):
        if info["unavailable"] is None:
            info[method] = _asked(adapter, method, (dict,))
            if isinstance(info[method], str):
                info["unavailable"], info[method] = info[method], {}
    # Plain JSON data only: a framework's own types (torch.__version__ is a TorchVersion) would make the
    # parent import that framework to unpickle them.
    return json.loads(json.dumps(info, default=str))


def _asked(adapter, method: str, answers: tuple):
    """The adapter's answer to one of its optional methods; a string saying what went wrong when it failed."""
    import adapters

    try:
        answer = getattr(adapters, method)(adapter)
    except Exception as error:
        return f"the adapter's {method}() failed: {type(error).__name__}: {error}"
    if method == "availability" and answer is not None and not isinstance(answer, str):
        return f"the adapter's availability() returned {type(answer).__name__}, not a reason (text) or None"
    return answer if isinstance(answer, answers) else f"the adapter's {method}() returned {type(answer).__name__}"


def unloaded_info(spec: str, reason: str) -> dict:
    """What is known of an adapter whose process could not load it: its spec, and why."""
    from adapters import DEFAULT_CAPABILITIES

    return {
        "name": spec,
        "framework": spec,
        "device": "cpu",
        "modes": [],
        "capabilities": DEFAULT_CAPABILITIES.to_data(),
        "threads": None,
        "unavailable": reason,
        "not_loaded": True,
    }


def read_output(result, attempt: Attempt) -> None:
    """The adapter's answer as shape, dtype and float64 values. Only real floating outputs are widened:
    a complex, integer, object or string output keeps its dtype and gives no values (never a silent cast)."""
    from adapters import Converted, ShapeOnly

    if isinstance(result, Converted):
        attempt.converted = result.converted
        result = result.output
    if isinstance(result, ShapeOnly):
        attempt.output_shape, attempt.output_dtype = result.shape, result.dtype
        return
    array = np.asarray(result)
    attempt.output_shape, attempt.output_dtype = tuple(array.shape), array.dtype.name
    if array.size > MAX_OUTPUT_ELEMENTS:  # a shape this far off needs no values to be judged
        attempt.warnings.append(f"SuiteWarning: an output of {array.size} elements; its values were not sent")
        return
    if array.dtype.kind == "f" or array.dtype.name == "bfloat16":
        attempt.output = array.astype(np.float64)


def read_gradients(result, attempt: Attempt) -> None:
    """A backward answer, ``(dx, dw, db)``: each read as a forward output is (db None where there is no bias)."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise TypeError(f"run_backward must return (dx, dw, db), got {type(result).__name__}")
    attempt.gradients = {}
    for name, value in zip(("dx", "dw", "db"), result):
        if value is None:
            continue
        part = Attempt("ok")
        read_output(value, part)
        attempt.gradients[name] = {"output": part.output, "shape": part.output_shape, "dtype": part.output_dtype}
        attempt.warnings += part.warnings


def case_inputs(case) -> tuple:
    """What a case is sent with: x, w, bias, and for a backward case the upstream gradient dy."""
    inputs = shared_inputs(case)
    return (*inputs, shared_upstream(case)) if case.direction == "backward" else inputs


def _attempt(adapter, case, x, w, bias, dy=None) -> Attempt:
    import adapters

    attempt = Attempt("ok")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            if case.direction == "backward":
                result = adapter.run_backward(case, x, w, bias, dy)
            else:
                result = adapter.run(case, x, w, bias)
        except adapters.Unsupported as unsupported:
            attempt.status, attempt.message = "unsupported", unsupported.reason
        except (SystemExit, KeyboardInterrupt) as exit:  # the adapter tried to end its process: a crash
            attempt.status = "crash"
            attempt.message = f"the adapter raised {type(exit).__name__}({', '.join(map(repr, exit.args))})"
        except Exception as error:  # the framework's refusal is a result, not a crash
            attempt.status, attempt.stage = "rejected", getattr(error, "conformance_stage", "unknown")
            attempt.converted = getattr(error, "conformance_converted", None)
            attempt.message = f"{type(error).__name__}: {error}".strip()
            if not str(error):
                attempt.message += "\n" + traceback.format_exc(limit=3)
        attempt.seconds = time.perf_counter() - start
        if attempt.status == "ok":
            try:
                (read_gradients if case.direction == "backward" else read_output)(result, attempt)
            except Exception as error:  # the suite's own handling failed: never the framework's refusal
                attempt.status = "suite_error"
                attempt.message = f"the suite could not read the adapter's output: {type(error).__name__}: {error}"
    attempt.warnings = sorted({*attempt.warnings, *(f"{w.category.__name__}: {w.message}" for w in caught)})
    try:
        attempt.repro = adapters.repro(adapter, case)
    except Exception as error:
        attempt.repro = f"# the adapter's repro failed: {type(error).__name__}: {error}"
        attempt.warnings.append(f"SuiteWarning: the adapter's repro() failed: {type(error).__name__}: {error}")
    if attempt.repro is not None and not isinstance(attempt.repro, str):
        attempt.warnings.append(
            f"SuiteWarning: the adapter's repro() returned {type(attempt.repro).__name__}, not text"
        )
        attempt.repro = None
    return attempt


def _send(connection, attempt: Attempt) -> None:
    """Send the attempt; a part that cannot be pickled is dropped with a warning, never the whole reply."""
    try:
        connection.send(attempt)
        return
    except Exception as error:  # pickling: an adapter's repro or output object of its own
        problem = f"SuiteWarning: the reply could not be sent whole ({type(error).__name__}: {error})"
    attempt.repro = None
    attempt.warnings = [*map(str, attempt.warnings), problem]
    try:
        connection.send(attempt)
    except Exception:
        connection.send(Attempt("suite_error", message=problem, seconds=attempt.seconds))


def _serve(spec: str, connection, threads: int) -> None:
    import adapters

    try:
        adapters.limit_threads(threads)
        adapter = adapters.load(spec)
        connection.send(("ready", describe(adapter)))
    except Exception as error:
        connection.send(("failed", f"{type(error).__name__}: {error}"))
        return
    with contextlib.suppress(EOFError, ConnectionError):  # the parent closed the pipe: the run is over
        while True:
            _send(connection, _attempt(adapter, *connection.recv()))


class Cases:
    """Cases that several workers of one adapter take from, each the next one left (thread-safe)."""

    def __init__(self, cases):
        self._left = deque(cases)
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            if not self._left:
                raise StopIteration
            return self._left.popleft()

    def __len__(self) -> int:
        return len(self._left)


def _bytes(case) -> int:
    return sum(array.nbytes for array in case_inputs(case) if array is not None)


def _fits(queued, case) -> bool:
    """Whether one more case may be queued behind those already sent. Large inputs are sent one at a time:
    a parent blocked sending a large case while the child is blocked sending a large answer would deadlock."""
    return sum(map(_bytes, queued)) + _bytes(case) <= QUEUED_BYTES


class Worker:
    """One adapter's child process; restarted after a crash or a timeout."""

    def __init__(self, spec: str, timeout: float, threads: int = 1):
        self.spec = spec
        self.timeout = timeout
        self.threads = threads  # per operation in the framework; 0: the framework's own default
        self._process = None
        self._connection = None
        self._ready = False
        self._stopping = threading.Lock()
        self.info: dict = {}

    def launch(self) -> Worker:
        """Start the process without waiting for the framework to load (several can load at once)."""
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(self.spec, child, self.threads), daemon=True)
        process.start()
        child.close()
        # Both at once, under the lock stop() takes: a stop() from another thread (the run ending as a case
        # crashes) must never see the process without its pipe.
        with self._stopping:
            self._process, self._connection = process, parent
        self._ready = False
        return self

    def _start(self) -> None:
        if self._process is None or self._ready:
            self.launch()
        parent = self._connection
        self._ready = True
        if not parent.poll(120):
            self.stop()
            raise AdapterNotLoaded(f"adapter {self.spec!r} did not start within 120 s")
        try:
            status, info = parent.recv()
        except (EOFError, ConnectionError):
            self._process.join(5)
            code = self._process.exitcode
            self.stop()
            raise AdapterNotLoaded(
                f"adapter {self.spec!r}: its process died while loading it (exit code {code})"
            ) from None
        if status != "ready":
            self.stop()
            raise AdapterNotLoaded(f"adapter {self.spec!r} could not be loaded: {info}")
        self.info = info

    def describe(self) -> dict:
        if self._process is None or not self._ready:
            self._start()
        return self.info

    def run(self, case) -> Attempt:
        """One case, waited for."""
        return next(self.attempts([case]))[1]

    def attempts(self, cases, depth: int = PIPELINE_DEPTH):
        """Yield ``(case, Attempt)`` in order, keeping up to ``depth`` cases queued in the process.

        Queued cases spare a round trip between cases: the process starts the next case as soon as it
        has sent an answer. The per-case limit still holds, because the process works through its queue
        in order: the wait for the oldest case starts when the answer before it arrived. After a crash or
        a timeout the process is restarted and the cases it had queued are sent again; a process that
        cannot be restarted leaves every remaining case a crash with the reason. ``cases`` is read only as
        far as needed, so several workers can share one ``Cases`` source.
        """
        source = iter(cases)
        waiting: deque = deque()
        queued: deque = deque()
        while True:
            if self._process is None or not self._ready or not self._process.is_alive():
                waiting.extendleft(reversed(queued))
                queued.clear()
                try:
                    self._start()
                except Exception as error:
                    lost = Attempt("crash", message=f"the adapter's process could not be restarted: {error}")
                    for case in [*waiting, *source]:
                        yield case, lost
                    return
            try:
                while len(queued) < depth:
                    if not waiting:
                        waiting.extend(itertools.islice(source, 1))
                    if not waiting or (queued and not _fits(queued, waiting[0])):
                        break
                    try:
                        inputs = case_inputs(waiting[0])
                    except Exception as error:  # the suite's own failure, on this case alone
                        message = f"the suite could not draw the case's inputs: {type(error).__name__}: {error}"
                        yield waiting.popleft(), Attempt("suite_error", message=message)
                        continue
                    queued.append(waiting.popleft())
                    connection = self._connection
                    if connection is None:  # stopped meanwhile: the run is ending
                        raise BrokenPipeError
                    connection.send((queued[-1], *inputs))
            except (BrokenPipeError, ConnectionError):
                pass  # the process died on an earlier case: receiving says which, and the rest are sent again
            if not queued:
                return
            attempt = self._receive()
            yield queued.popleft(), attempt

    def _receive(self) -> Attempt:
        """The answer to the oldest queued case; a timeout or a death stops the process."""
        start = time.perf_counter()
        connection = self._connection
        try:
            if connection is None:  # stopped meanwhile (the run is ending): as a closed pipe
                raise EOFError
            if not connection.poll(self.timeout):
                self.stop()
                return Attempt(
                    "timeout",
                    message=f"no answer within {self.timeout:g} s (per-case limit)",
                    seconds=time.perf_counter() - start,
                )
            return connection.recv()
        except (EOFError, OSError):  # OSError: a pipe closed under poll() by the run's end
            process = self._process
            if process is not None:
                process.join(5)  # the pipe can close before the exit status is known
            code = process.exitcode if process is not None else None
            self.stop()
            return Attempt(
                "crash", message=f"the adapter's process died (exit code {code})", seconds=time.perf_counter() - start
            )

    def stop(self) -> None:
        # The run's end and a crash seen by the feed's thread may stop the process at once: one of them does.
        with self._stopping:
            process, connection = self._process, self._connection
            self._process = self._connection = None
        if connection is not None:  # closing the pipe ends the process's loop (a word could block behind cases)
            connection.close()
        if process is not None:
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join()
