"""ONNX → TensorFlow / LiteRT with onnx2tf, on the very model the onnxruntime adapter builds (opset 22, the
weights as initializers), with the output shape ONNX's shape inference gives, as exporters write it (onnx2tf
reads the node's output shape, and refuses a model without one: "Expected int32 ... got None"):

- ``onnx2tf-saved-model``: the SavedModel onnx2tf writes, loaded with ``tf.saved_model.load`` and called
  through its serving signature;
- ``onnx2tf-tflite``: the float32 .tflite it writes beside it, run by the LiteRT interpreter.

onnx2tf's models take and give channels-last tensors (NWC, NHWC, NDHWC) where the ONNX model is channels-first,
as its README documents: the adapter moves x in and y out, nothing more. It converts float32 models (a float16
model is turned into float32, onnx2tf PR 427), so the adapters take the float32 cases.

Offline: for a 4-D input of 3 channels, onnx2tf loads sample images for its own output check from
``calibration_image_sample_data_20x128x128x3_float32.npy`` in the working directory, and downloads the file from
GitHub when it is not there. The adapter converts in a directory holding a seeded stand-in of that file
(uniform in [0, 1), the range of onnx2tf's sample images), so nothing is downloaded.

One conversion, two targets: onnx2tf writes the SavedModel and the .tflite together, in about 2 s. The two
adapters share it through a cache on disk keyed by the ONNX model's bytes and onnx2tf's version and options
(``CACHE``), and a lock per model, so that each model is converted once per machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import tempfile

import numpy as np

from adapters import Conversion
from adapters.capabilities import why_not
from adapters.converters import RoundTrip
from adapters.converters.litert import interpreter, invoke, litert_versions, tflite_ops
from adapters.layouts import channels_first, channels_last
from adapters.onnx_runtimes import CAPABILITIES as ONNX_CAPABILITIES
from adapters.onnx_runtimes import OPSET, _model_lines, build_model
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

_DOCS = "https://github.com/PINTO0309/onnx2tf"
CAPABILITIES = ONNX_CAPABILITIES.but(
    source=f"{ONNX_CAPABILITIES.source}; {_DOCS} (float32 models; float16 ones are converted to float32, "
    "https://github.com/PINTO0309/onnx2tf/pull/427)",
    dtypes=("float32",),
    rejects={},
)
SAMPLE_DATA = "calibration_image_sample_data_20x128x128x3_float32.npy"
OPTIONS = {"non_verbose": True, "not_use_onnxsim": True, "output_signaturedefs": True}
CACHE = os.path.join(tempfile.gettempdir(), f"conformance-onnx2tf-{os.getuid()}")


def sample_data_directory(workdir: str) -> str:
    """``workdir`` holding the seeded stand-in of onnx2tf's sample images (see the module's docstring)."""
    path = os.path.join(workdir, SAMPLE_DATA)
    np.save(path, _sample_images())
    return workdir


@functools.cache
def _sample_images() -> np.ndarray:
    return np.random.default_rng(20).uniform(0.0, 1.0, (20, 128, 128, 3)).astype(np.float32)


class _Onnx2Tf(RoundTrip):
    framework = "onnx2tf"
    modes = (modes.EXPLICIT, "onnx")
    capabilities = CAPABILITIES

    def availability(self) -> str | None:
        try:
            import onnx2tf  # noqa: F401
        except ImportError as error:
            return f"onnx2tf (or a package it imports) is not importable: {error}"
        return None

    def versions(self) -> dict:
        import importlib.metadata

        import onnx
        import tensorflow as tf

        return {"onnx2tf": importlib.metadata.version("onnx2tf"), "tensorflow": tf.__version__,
                "tf_keras": importlib.metadata.version("tf_keras"), "onnx": onnx.__version__,
                "opset": str(OPSET)}  # fmt: skip

    def precision(self) -> dict:
        return {"options": OPTIONS}

    def build(self, case: Case, x, w, bias):
        import onnx

        return onnx.shape_inference.infer_shapes(build_model(case, (w, bias), OPSET))

    def convert(self, case: Case, source, x, workdir: str):
        """The folder of what onnx2tf wrote for the model: from the cache, or converted now and cached."""
        import importlib.metadata

        model = source.SerializeToString()
        key = hashlib.sha256(model + repr((importlib.metadata.version("onnx2tf"), OPTIONS)).encode()).hexdigest()
        os.makedirs(CACHE, exist_ok=True)
        folder = os.path.join(CACHE, key)
        with open(f"{folder}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the other adapter waits for this conversion, then reads it
            if not os.path.isdir(folder):
                self._convert(source, workdir)
                shutil.move(os.path.join(workdir, "out"), folder)
        return folder

    @staticmethod
    def _convert(source, workdir: str) -> None:
        import onnx2tf

        with contextlib.chdir(sample_data_directory(workdir)):
            onnx2tf.convert(onnx_graph=source, output_folder_path=os.path.join(workdir, "out"), **OPTIONS)

    def call(self, case: Case, runnable, x):
        return channels_first(np.asarray(runnable(channels_last(x))))

    run_lines: tuple[str, ...] = ()

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        return "\n".join(
            self._repro_lines(case)
            + [*self.run_lines, "y = np.moveaxis(y, -1, 1)  # back to (N, C_out, *spatial)", "print(y.shape, y)"]
        )

    def _repro_lines(self, case: Case) -> list[str]:
        return (
            input_lines(case)
            + _model_lines(case, constant_weights=True)[:-1]
            + [
                "import onnx",
                "model = onnx.shape_inference.infer_shapes(model)  # onnx2tf needs the output's shape",
                "import onnx2tf",
                "# for a 4-D input of 3 channels onnx2tf downloads its sample images unless",
                f"# {SAMPLE_DATA} is in the working directory",
                f"onnx2tf.convert(onnx_graph=model, output_folder_path='out', **{OPTIONS!r})",
                "inputs = np.ascontiguousarray(np.moveaxis(x, 1, -1))  # onnx2tf's models are channels-last",
            ]
        )


class Onnx2TfSavedModel(_Onnx2Tf):
    name = "onnx2tf-saved-model"
    conversion = Conversion("onnx", "onnx2tf", "TensorFlow SavedModel")

    def converted_node(self, converted) -> dict:
        return {"files": sorted(os.listdir(converted))}

    def load(self, case: Case, converted):
        import tensorflow as tf

        signature = tf.saved_model.load(converted).signatures["serving_default"]
        return lambda inputs: next(iter(signature(tf.constant(inputs)).values())).numpy()

    # The repro's lines from the converted folder 'out' and the channels-last ``inputs`` to ``y``.
    run_lines = (
        "import tensorflow as tf",
        "signature = tf.saved_model.load('out').signatures['serving_default']",
        "y = next(iter(signature(tf.constant(inputs)).values())).numpy()",
    )


class Onnx2TfTflite(_Onnx2Tf):
    name = "onnx2tf-tflite"
    conversion = Conversion("onnx", "onnx2tf", "LiteRT interpreter")

    def versions(self) -> dict:
        return {**super().versions(), **litert_versions()}

    def _model(self, converted) -> bytes:
        with open(os.path.join(converted, "model_float32.tflite"), "rb") as file:
            return file.read()

    def converted_node(self, converted) -> dict:
        return tflite_ops(self._model(converted))

    def load(self, case: Case, converted):
        runner = interpreter(self._model(converted))
        return lambda inputs: invoke(runner, inputs)

    run_lines = (
        "from ai_edge_litert.interpreter import Interpreter",
        "runner = Interpreter(model_path='out/model_float32.tflite')",
        "runner.allocate_tensors()",
        "runner.set_tensor(runner.get_input_details()[0]['index'], inputs)",
        "runner.invoke()",
        "y = runner.get_tensor(runner.get_output_details()[0]['index'])",
    )
