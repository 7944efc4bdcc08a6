"""To LiteRT (TensorFlow Lite), run by the LiteRT interpreter (``ai_edge_litert.interpreter.Interpreter``):

- ``tflite-keras``: ``tf.lite.TFLiteConverter.from_keras_model`` on a functional Keras model (TensorFlow
  backend) holding the keras-tensorflow adapter's layer, float32;
- ``tflite-keras-float16``: the same with the converter's float16 option (``optimizations=[Optimize.DEFAULT]``,
  ``target_spec.supported_types=[tf.float16]``), given the float16 cases: the weights are stored in float16 and
  the model's input and output stay float32, as the converter documents (post-training float16 quantization);
  the case's float16 x is fed as float32 (exact), and the register's promotion entry names the float32 output;
- ``onnx2tf-tflite``: the float32 .tflite that onnx2tf writes (``adapters.converters.onnx2tf_convert``).

The interpreter's input keeps the batch free (-1): it is resized to the case's batch before allocation.
"""

from __future__ import annotations

import numpy as np

from adapters import Conversion, thread_limit
from adapters.capabilities import why_not
from adapters.converters import RoundTrip
from adapters.keras_layers import KerasTensorflow
from adapters.layouts import channels_first, channels_last
from adapters.snippets import input_lines
from conformance.case import Case

_CONVERTER_DOCS = "https://ai.google.dev/edge/litert/models/convert_tf"
_FLOAT16_DOCS = "https://tensorflow.org/lite/performance/post_training_quantization"


def interpreter(model: bytes):
    """The LiteRT interpreter of a .tflite model, with the suite's thread limit."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=model, num_threads=thread_limit() or None)


def invoke(runner, inputs: np.ndarray) -> np.ndarray:
    """The model's output for one input: the input resized to its shape (the batch is free), then invoked."""
    (detail,) = runner.get_input_details()
    runner.resize_tensor_input(detail["index"], list(inputs.shape))
    runner.allocate_tensors()
    runner.set_tensor(detail["index"], inputs.astype(detail["dtype"]) if inputs.dtype != detail["dtype"] else inputs)
    runner.invoke()
    return runner.get_tensor(runner.get_output_details()[0]["index"])


def tflite_ops(model: bytes) -> dict:
    """The interpreter's ops, in order, with the dtypes of the model's input and output."""
    runner = interpreter(model)
    ops = [detail["op_name"] for detail in runner._get_ops_details()]
    return {
        "ops": ops,
        "input_dtype": np.dtype(runner.get_input_details()[0]["dtype"]).name,
        "output_dtype": np.dtype(runner.get_output_details()[0]["dtype"]).name,
    }


def litert_versions() -> dict:
    import importlib.metadata

    return {"ai-edge-litert": importlib.metadata.version("ai-edge-litert")}


class TfliteKeras(RoundTrip):
    name = "tflite-keras"
    framework = "tflite"
    conversion = Conversion("keras", "TFLiteConverter.from_keras_model", "LiteRT interpreter")
    modes = KerasTensorflow.modes
    capabilities = KerasTensorflow.capabilities.but(source=f"{KerasTensorflow.capabilities.source}; {_CONVERTER_DOCS}",
                                                    dtypes=("float32",), rejects={})  # fmt: skip
    inherits = ("keras-tensorflow",)
    float16 = False

    def __init__(self):
        self.source = KerasTensorflow()

    def availability(self) -> str | None:
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError as error:
            return f"ai-edge-litert is not importable: {error}"
        return self.source.availability()

    def versions(self) -> dict:
        return {**self.source.versions(), **litert_versions()}

    def precision(self) -> dict:
        weights = "float16 weights (Optimize.DEFAULT, supported_types float16)" if self.float16 else "float32"
        return {"converter": "tf.lite.TFLiteConverter.from_keras_model", "weights": weights,
                "num_threads": thread_limit() or "default"}  # fmt: skip

    def build(self, case: Case, x, w, bias):
        dtype_case = case if not self.float16 else _as_float32(case)
        return self.source.model(dtype_case, self.source._inputs(x).astype(np.float32), w.astype(np.float32),
                                 None if bias is None else bias.astype(np.float32))  # fmt: skip

    def convert(self, case: Case, source, x, workdir: str):
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_keras_model(source)
        if self.float16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()

    def converted_node(self, converted) -> dict:
        return tflite_ops(converted)

    def load(self, case: Case, converted):
        return interpreter(converted)

    def call(self, case: Case, runnable, x):
        return channels_first(invoke(runnable, channels_last(x)))

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        lines = KerasTensorflow().model_lines(_as_float32(case) if self.float16 else case)
        if self.float16:  # the float16 case's inputs, widened (exactly) for the float32 model
            lines = (
                input_lines(case)
                + [
                    "x, w = x.astype(np.float32), w.astype(np.float32)",
                    "bias = None if bias is None else bias.astype(np.float32)",
                ]
                + lines[len(input_lines(_as_float32(case))) :]
            )
        lines += ["import tensorflow as tf", "converter = tf.lite.TFLiteConverter.from_keras_model(model)"]
        if self.float16:
            lines += [
                "converter.optimizations = [tf.lite.Optimize.DEFAULT]",
                "converter.target_spec.supported_types = [tf.float16]",
            ]
        return "\n".join(
            lines
            + [
                "from ai_edge_litert.interpreter import Interpreter",
                "runner = Interpreter(model_content=converter.convert())",
                "index = runner.get_input_details()[0]['index']",
                "runner.resize_tensor_input(index, list(inputs.shape))",
                "runner.allocate_tensors()",
                "runner.set_tensor(index, inputs.astype(np.float32))",
                "runner.invoke()",
                "y = runner.get_tensor(runner.get_output_details()[0]['index'])",
                "y = np.moveaxis(y, -1, 1)  # back to (N, C_out, *spatial)",
                "print(y.dtype, y.shape, y)",
            ]
        )


def _as_float32(case: Case) -> Case:
    from dataclasses import replace

    return replace(case, dtype="float32")


class TfliteKerasFloat16(TfliteKeras):
    name = "tflite-keras-float16"
    conversion = Conversion("keras", "TFLiteConverter.from_keras_model (float16 weights)", "LiteRT interpreter")
    capabilities = TfliteKeras.capabilities.but(source=f"{TfliteKeras.capabilities.source}; {_FLOAT16_DOCS}",
                                                dtypes=("float16",))  # fmt: skip
    float16 = True
