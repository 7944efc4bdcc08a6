"""Keras → ONNX → onnxruntime: Keras 3's own ``model.export(path, format="onnx")``, on each backend that has it,
of a functional model holding the keras-<backend> adapter's layer (channels last, the batch left free).

Keras converts with another package per backend (keras/src/export/onnx.py): tf2onnx on TensorFlow, jax2onnx
on JAX, ``torch.onnx.export`` on torch (the dynamo exporter where the signature is static, else TorchScript;
a free batch makes it TorchScript). Each backend runs in its own process (KERAS_BACKEND is read once).
"""

from __future__ import annotations

import importlib.metadata
import os

from adapters import Conversion
from adapters.capabilities import why_not
from adapters.converters import ToOnnxRuntime
from adapters.keras_layers import KerasJax, KerasTensorflow, KerasTorch
from conformance.case import Case

_DOCS = "https://keras.io/api/models/model_saving_apis/export/"
# The package Keras exports with, per backend (keras/src/export/onnx.py).
EXPORTERS = {"tensorflow": "tf2onnx", "jax": "jax2onnx", "torch": "onnxscript"}
# The round trips whose converter Keras calls underneath, per backend: their known bugs are this one's too.
UNDERNEATH = {"tensorflow": ("tf2onnx",), "jax": (), "torch": ("torch-onnx",)}


class _KerasOnnx(ToOnnxRuntime):
    framework = "keras-onnx"
    channels_last_io = True
    source_class = None

    def __init__(self):
        self.source = self.source_class()
        self.modes = self.source.modes
        self.capabilities = self.source.capabilities.but(source=f"{self.source.capabilities.source}; {_DOCS}",
                                                         rejects={})  # fmt: skip
        self.inherits = (self.source.name, *UNDERNEATH[self.backend], "onnxruntime")

    @property
    def backend(self) -> str:
        return self.source.backend

    def availability(self) -> str | None:
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401

            importlib.import_module(EXPORTERS[self.backend].replace("-", "_"))
        except ImportError as error:
            return f"onnx, onnxruntime or {EXPORTERS[self.backend]} is not importable: {error}"
        return self.source.availability()

    def versions(self) -> dict:
        import onnx
        import onnxruntime

        exporter = EXPORTERS[self.backend]
        return {**self.source.versions(), exporter: importlib.metadata.version(exporter), "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__}  # fmt: skip

    def precision(self) -> dict:
        return {"export": "model.export(path, format='onnx')", "provider": "CPUExecutionProvider"}

    def build(self, case: Case, x, w, bias):
        inputs = self.source._inputs(x)
        model = self.source.model(case, inputs, w, bias)
        # Keras exports only a model that has been called ("The model provided has never called"), as a
        # trained one has; the layer's own forward is the keras-<backend> adapter's to judge.
        model(inputs)
        return model

    def convert(self, case: Case, source, x, workdir: str):
        import onnx

        path = os.path.join(workdir, "model.onnx")
        source.export(path, format="onnx", verbose=False)
        return onnx.load(path)

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        return "\n".join(
            self.source.model_lines(case)
            + [
                "import onnx",
                "model(inputs)  # Keras exports only a model that has been called",
                "model.export('model.onnx', format='onnx', verbose=False)",
                "model = onnx.load('model.onnx')",
            ]
            + self.run_lines()
        )


class KerasOnnxTensorflow(_KerasOnnx):
    name = "keras-onnx-tensorflow"
    conversion = Conversion("keras", "keras export (tensorflow backend: tf2onnx)", "onnxruntime")
    source_class = KerasTensorflow


class KerasOnnxJax(_KerasOnnx):
    name = "keras-onnx-jax"
    conversion = Conversion("keras", "keras export (jax backend: jax2onnx)", "onnxruntime")
    source_class = KerasJax


class KerasOnnxTorch(_KerasOnnx):
    name = "keras-onnx-torch"
    conversion = Conversion("keras", "keras export (torch backend: torch.onnx)", "onnxruntime")
    source_class = KerasTorch
