"""Round trips: the case is built in a source framework, converted, and run in a target runtime.

Each adapter here declares its ``conversion`` (source, converter, target) and goes through four stages,
each of which can refuse the case (``rejected``, with the stage named in the record):

1. ``construction``: the source model (a torch module, a Keras model, a tf.function, an ONNX model);
2. ``conversion``: the converter exports or translates it;
3. ``load``: the target runtime reads what the converter wrote;
4. ``call``: the target runtime runs it.

What the converter wrote for the operation (the converted node's op types and attributes) is recorded
with the result, a refusal's included. The converted model is run as written: an adapter moves the input
and output between layouts where the converter documents a layout change, and never edits the model, so a
converter that drops or changes an attribute shows as a mismatch.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from adapters import Converted, stage
from adapters.capabilities import require


class RoundTrip:
    """A round trip's run, stage by stage; subclasses build, convert, load and call."""

    device = "cpu"
    conversion = None  # an adapters.Conversion, declared by each subclass
    # The adapters whose register entries the round trip inherits (conformance.divergences.load_register): the
    # source adapter whose model it converts, and the target runtime's adapter; their known bugs, once.
    inherits: tuple[str, ...] = ()

    def build(self, case, x, w, bias):
        """The source model holding the case's weight and bias."""
        raise NotImplementedError

    def convert(self, case, source, x, workdir: str):
        """What the converter writes for the source model (files go under ``workdir``)."""
        raise NotImplementedError

    def converted_node(self, converted) -> dict:
        """The converted operation as the converter wrote it: op types and attributes."""
        return {}

    def load(self, case, converted):
        """The target runtime's runnable form of what the converter wrote."""
        raise NotImplementedError

    def call(self, case, runnable, x):
        """The target runtime's output, in the canonical layout."""
        raise NotImplementedError

    def run(self, case, x, w, bias):
        require(self, case)
        with tempfile.TemporaryDirectory(prefix="conformance-") as workdir:
            with stage("construction"):
                source = self.build(case, x, w, bias)
            with stage("conversion"), quiet():
                converted = self.convert(case, source, x, workdir)
            node = self.converted_node(converted)
            try:
                with stage("load"):
                    runnable = self.load(case, converted)
                with stage("call"):
                    output = self.call(case, runnable, x)
            except Exception as error:
                with contextlib.suppress(AttributeError, TypeError):
                    error.conformance_converted = node
                raise
        return Converted(output, node)


class ToOnnxRuntime(RoundTrip):
    """A round trip whose converter writes an ONNX model, run by onnxruntime's CPU provider; its one input is x,
    channels-last where the source framework's is (``channels_last_io``)."""

    channels_last_io = False

    def converted_node(self, converted) -> dict:
        return onnx_node(converted)

    def load(self, case, converted):
        from adapters.onnx_runtimes import open_session

        return open_session(converted.SerializeToString())

    def call(self, case, runnable, x):
        from adapters.layouts import channels_first, channels_last
        from adapters.onnx_runtimes import run_session

        if not self.channels_last_io:
            return run_session(runnable, {runnable.get_inputs()[0].name: x})
        return channels_first(run_session(runnable, {runnable.get_inputs()[0].name: channels_last(x)}))

    def run_lines(self) -> list[str]:
        """The repro's lines from the converted ``model`` and the canonical ``x`` to ``y``, as ``call`` runs it."""
        feed = "np.ascontiguousarray(np.moveaxis(x, 1, -1))" if self.channels_last_io else "x"
        lines = [
            "import onnxruntime",
            "print([(n.op_type, n.attribute) for n in model.graph.node if n.op_type == 'ConvTranspose'])",
            "session = onnxruntime.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])",
            f"y = session.run(None, {{session.get_inputs()[0].name: {feed}}})[0]",
        ]
        if self.channels_last_io:
            lines.append("y = np.moveaxis(y, -1, 1)  # back to (N, C_out, *spatial)")
        return lines + ["print(y.shape, y)"]


@contextlib.contextmanager
def quiet():
    """Converters print progress to stdout and stderr at file-descriptor level (some from C++); a worker's
    output is noise in a run, and what matters comes back as an exception or a warning."""
    # Python's own buffers are flushed on each side, so that what was written inside goes where it was
    # written to, and nothing of it after the descriptors are back.
    _flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            _flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def onnx_node(model) -> dict:
    """An ONNX model's nodes as a converter wrote them: op types in order, and each ConvTranspose's attributes."""
    from onnx import helper

    found = {"ops": [node.op_type for node in model.graph.node]}
    opsets = {entry.domain or "ai.onnx": entry.version for entry in model.opset_import}
    found["opset"] = opsets.get("ai.onnx")
    found["ConvTranspose"] = [
        {attribute.name: _plain(helper.get_attribute_value(attribute)) for attribute in node.attribute}
        for node in model.graph.node
        if node.op_type == "ConvTranspose"
    ]
    return found


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (int, float, str)):
        return value
    return str(type(value).__name__)
