"""TensorFlow / Keras → ONNX → onnxruntime with tf2onnx, at the opset tf2onnx picks by default.

- ``tf2onnx-tf-nn``: ``tf2onnx.convert.from_function`` on a ``tf.function`` of the tf-nn adapter's call (the
  padding strings 'SAME' and 'VALID' with their output_shape), the weight and bias constants inside it;
- ``tf2onnx-tf-nn-explicit-pads``: the same with conv2d_transpose's explicit pad list (tf-nn-explicit-pads);
- ``tf2onnx-keras``: ``tf2onnx.convert.from_keras`` on a functional Keras model (TensorFlow backend) holding the
  keras-tensorflow adapter's layer.

Each model takes and gives channels-last tensors, as its source does; the adapter moves x in and y out.
"""

from __future__ import annotations

from adapters import Conversion
from adapters.capabilities import why_not
from adapters.converters import ToOnnxRuntime
from adapters.keras_layers import KerasTensorflow
from adapters.layouts import channels_last, spatial_out_in
from adapters.tensorflow_nn import TensorflowNN, TensorflowNNExplicitPads
from conformance.case import Case

_DOCS = "https://github.com/onnx/tensorflow-onnx"


class _Tf2Onnx(ToOnnxRuntime):
    framework = "tf2onnx"
    channels_last_io = True
    source = None  # the source framework's adapter

    def availability(self) -> str | None:
        try:
            import onnxruntime  # noqa: F401
            import tf2onnx  # noqa: F401
        except ImportError as error:
            return f"tf2onnx or onnxruntime is not importable: {error}"
        return self.source.availability()

    def versions(self) -> dict:
        import onnx
        import onnxruntime
        import tf2onnx

        found = {"tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
        return {**self.source.versions(), **found}

    def precision(self) -> dict:
        return {"opset": "tf2onnx's default", "provider": "CPUExecutionProvider"}


class Tf2OnnxTfNN(_Tf2Onnx):
    name = "tf2onnx-tf-nn"
    conversion = Conversion("tensorflow", "tf2onnx (from_function)", "onnxruntime")
    modes = TensorflowNN.modes
    # tf.nn's API is the source's; tf2onnx documents no ConvTranspose limit of its own. Must-reject cases stay
    # with the tf-nn adapters, whose calls refuse them before any conversion.
    capabilities = TensorflowNN.capabilities.but(source=f"{TensorflowNN.capabilities.source}; {_DOCS}", rejects={})
    inherits = ("tf-nn", "onnxruntime")

    explicit_pads = False

    def __init__(self):
        self.source = TensorflowNNExplicitPads() if self.explicit_pads else TensorflowNN()

    def build(self, case: Case, x, w, bias):
        tf = self.source._tf()
        kernel, values = spatial_out_in(w), bias

        def conv_transpose(inputs):
            constant_bias = None if values is None else tf.constant(values)
            return self.source._call(case, inputs, tf.constant(kernel), constant_bias)

        signature = [tf.TensorSpec(channels_last(x).shape, case.dtype, name="x")]
        return tf.function(conv_transpose, input_signature=signature)

    def convert(self, case: Case, source, x, workdir: str):
        import tf2onnx

        model, _ = tf2onnx.convert.from_function(source, input_signature=source.input_signature)
        return model

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        lines = self.source.repro(case).splitlines()
        start = lines.index("import tensorflow as tf")
        call = lines[start + 1 : lines.index("y = np.moveaxis(y.numpy(), -1, 1)  # back to (N, C_out, *spatial)")]
        call = [line.replace("np.moveaxis(x, 1, -1),  # channels last", "inputs,") for line in call]
        call = [line.replace("bias_add(y, bias)", "bias_add(y, tf.constant(bias))") for line in call]
        return "\n".join(
            lines[: start + 1]
            + ["import tf2onnx", "def conv_transpose(inputs):"]
            + ["    " + line for line in call]
            + [
                "    return y",
                f"spec = tf.TensorSpec({list(channels_last_shape(case))}, {case.dtype!r}, name='x')",
                "function = tf.function(conv_transpose, input_signature=[spec])",
                "model, _ = tf2onnx.convert.from_function(function, input_signature=[spec])",
            ]
            + self.run_lines()
        )


class Tf2OnnxTfNNExplicitPads(Tf2OnnxTfNN):
    name = "tf2onnx-tf-nn-explicit-pads"
    modes = TensorflowNNExplicitPads.modes
    capabilities = TensorflowNNExplicitPads.capabilities.but(
        source=f"{TensorflowNNExplicitPads.capabilities.source}; {_DOCS}", rejects={}
    )
    inherits = ("tf-nn-explicit-pads", "onnxruntime")
    explicit_pads = True


def channels_last_shape(case: Case) -> tuple[int, ...]:
    return (case.batch, *case.input_size, case.in_channels)


class Tf2OnnxKeras(_Tf2Onnx):
    name = "tf2onnx-keras"
    conversion = Conversion("keras", "tf2onnx (from_keras)", "onnxruntime")
    modes = KerasTensorflow.modes
    capabilities = KerasTensorflow.capabilities.but(source=f"{KerasTensorflow.capabilities.source}; {_DOCS}",
                                                    rejects={})  # fmt: skip
    inherits = ("keras-tensorflow", "onnxruntime")

    def __init__(self):
        self.source = KerasTensorflow()

    def build(self, case: Case, x, w, bias):
        return self.source.model(case, self.source._inputs(x), w, bias)

    def convert(self, case: Case, source, x, workdir: str):
        import tensorflow as tf
        import tf2onnx

        signature = (tf.TensorSpec(channels_last_shape(case), case.dtype, name="x"),)
        model, _ = tf2onnx.convert.from_keras(source, input_signature=signature)
        return model

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        return "\n".join(
            self.source.model_lines(case)
            + [
                "import tensorflow as tf",
                "import tf2onnx",
                f"spec = (tf.TensorSpec({list(channels_last_shape(case))}, {case.dtype!r}, name='x'),)",
                "model, _ = tf2onnx.convert.from_keras(model, input_signature=spec)",
            ]
            + self.run_lines()
        )
