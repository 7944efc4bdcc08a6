"""Adapters: one module per framework, translating a canonical case into the framework's own call.

An adapter is any object with

- ``name``: a short unique name (``"torch"``, ``"onnxruntime-cuda"``, ``"my-npu"``);
- ``run(case, x, w, bias) -> array``: x, w, bias are NumPy arrays in the canonical layout and the
  case's dtype; it returns the framework's output in the canonical layout ``(N, C_out, *spatial)``,
  or raises ``Unsupported(reason)`` when the case cannot be expressed in the framework's API.

and optionally ``modes`` (the mode families it speaks, see ``conformance.modes``; default
``("explicit",)``: it is given only the cases of those modes), ``framework`` (the marker name;
defaults to ``name``), ``device`` (default ``"cpu"``), ``availability()`` (None when it can run
here, else the reason; default available), ``versions()`` (dict of package -> version; default
``{}``), ``precision()`` (dict of precision settings), ``repro(case)`` (a few lines of plain
framework code reproducing the output), and ``run_backward(case, x, w, bias, dy) -> (dx, dw, db)``:
the gradients of ``<dy, y>`` by the framework's own differentiation, in the canonical layouts of x, w
and bias (db None without a bias); an adapter that has it is given the backward cases; and
``conversion`` (a ``Conversion``): the adapter is a round trip, built in one framework, converted, and
run in another (``adapters.converters``).

An adapter only converts layouts: it never slices, pads, casts back or rounds the framework's output
to make it match.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import asdict

from adapters.capabilities import Capabilities
from conformance.invalid import CANONICAL_RULES
from conformance.records import STAGES, Conversion  # noqa: F401 (Conversion: declared by round-trip adapters)

# Built-in adapters by name; anything else is loaded as "package.module:Attribute".
BUILTIN = {
    "torch": "adapters.pytorch:TorchCPU",
    "torch-cuda": "adapters.pytorch:TorchCUDA",
    "onnxruntime": "adapters.onnx_runtimes:OnnxRuntimeCPU",
    "onnxruntime-cuda": "adapters.onnx_runtimes:OnnxRuntimeCUDA",
    "onnx-reference": "adapters.onnx_runtimes:OnnxReference",
    "onnx-shape-inference": "adapters.onnx_runtimes:OnnxShapeInference",
    "keras-tensorflow": "adapters.keras_layers:KerasTensorflow",
    "keras-jax": "adapters.keras_layers:KerasJax",
    "keras-torch": "adapters.keras_layers:KerasTorch",
    "keras-tensorflow-channels-first": "adapters.keras_layers:KerasTensorflowChannelsFirst",
    "keras-jax-channels-first": "adapters.keras_layers:KerasJaxChannelsFirst",
    "keras-torch-channels-first": "adapters.keras_layers:KerasTorchChannelsFirst",
    "tf-nn": "adapters.tensorflow_nn:TensorflowNN",
    "tf-nn-explicit-pads": "adapters.tensorflow_nn:TensorflowNNExplicitPads",
    "jax": "adapters.jax_lax:JaxLax",
    # Other paths users take to the same operation: each its own adapter, side by side in the matrix.
    "torch-module": "adapters.pytorch:TorchModule",
    "torch-channels-last": "adapters.pytorch:TorchChannelsLast",
    "torch-unbatched": "adapters.pytorch:TorchUnbatched",
    "torch-compile": "adapters.pytorch:TorchCompile",
    "tf-nn-xla": "adapters.tensorflow_nn:TensorflowNNXla",
    "onnxruntime-unoptimized": "adapters.onnx_runtimes:OnnxRuntimeUnoptimized",
    "onnxruntime-optimized": "adapters.onnx_runtimes:OnnxRuntimeOptimized",
    "onnxruntime-opset11": "adapters.onnx_runtimes:OnnxRuntimeOpset11",
    "flax-linen": "adapters.flax_layers:FlaxLinen",
    "flax-linen-transpose-kernel": "adapters.flax_layers:FlaxLinenTransposeKernel",
    "flax-nnx": "adapters.flax_layers:FlaxNNX",
    "flax-nnx-transpose-kernel": "adapters.flax_layers:FlaxNNXTransposeKernel",
    "openvino-onnx": "adapters.openvino_runtime:OpenVinoOnnx",
    "openvino-torch": "adapters.openvino_runtime:OpenVinoTorch",
    # Round trips through a converter (adapters.converters): built in one framework, run in another.
    "torch-onnx-dynamo": "adapters.converters.torch_onnx:TorchOnnxDynamo",
    "torch-onnx-torchscript": "adapters.converters.torch_onnx:TorchOnnxTorchScript",
    "onnx2torch-opset22": "adapters.converters.onnx2torch_import:Onnx2Torch",
    "onnx2torch-opset11": "adapters.converters.onnx2torch_import:Onnx2TorchOpset11",
    "tf2onnx-tf-nn": "adapters.converters.tf2onnx_export:Tf2OnnxTfNN",
    "tf2onnx-tf-nn-explicit-pads": "adapters.converters.tf2onnx_export:Tf2OnnxTfNNExplicitPads",
    "tf2onnx-keras": "adapters.converters.tf2onnx_export:Tf2OnnxKeras",
    "keras-onnx-tensorflow": "adapters.converters.keras_onnx:KerasOnnxTensorflow",
    "keras-onnx-jax": "adapters.converters.keras_onnx:KerasOnnxJax",
    "keras-onnx-torch": "adapters.converters.keras_onnx:KerasOnnxTorch",
    "tflite-keras": "adapters.converters.litert:TfliteKeras",
    "tflite-keras-float16": "adapters.converters.litert:TfliteKerasFloat16",
    "onnx2tf-saved-model": "adapters.converters.onnx2tf_convert:Onnx2TfSavedModel",
    "onnx2tf-tflite": "adapters.converters.onnx2tf_convert:Onnx2TfTflite",
}
CPU_ADAPTERS = (
    "torch",
    "onnxruntime",
    "onnx-reference",
    "onnx-shape-inference",
    "keras-tensorflow",
    "keras-jax",
    "keras-torch",
    "keras-tensorflow-channels-first",
    "keras-jax-channels-first",
    "keras-torch-channels-first",
    "tf-nn",
    "tf-nn-explicit-pads",
    "jax",
    "torch-module",
    "torch-channels-last",
    "torch-unbatched",
    "onnxruntime-optimized",
    "onnxruntime-unoptimized",
    "onnxruntime-opset11",
    "tf-nn-xla",
)


class Unsupported(Exception):
    """The case cannot be expressed in this framework's API; the message says why."""

    @property
    def reason(self) -> str:
        return str(self)


class Converted:
    """A round trip's answer: the target runtime's output, and what the converter wrote for the operation
    (the converted node's attributes), which the result records as ``metrics["converted"]``."""

    def __init__(self, output, converted: dict):
        self.output = output
        self.converted = converted


class ShapeOnly:
    """What an adapter that infers rather than computes returns: the output's shape and dtype name."""

    def __init__(self, shape, dtype: str):
        self.shape = tuple(int(v) if v is not None else None for v in shape)
        self.dtype = str(dtype)


# The thread pools of the frameworks, set before a framework is imported. A run computes small cases in
# several adapters' processes at once: a framework's own pool of one thread per core then only adds
# contention (torch's default profile on 2 cores: 1.7 s with 2 threads, 0.3 s with 1).
THREAD_LIMIT = "CONFORMANCE_THREADS"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def limit_threads(count: int) -> None:
    """Give every framework loaded after this ``count`` threads per operation (0: the framework's own default)."""
    if count > 0:
        os.environ[THREAD_LIMIT] = str(count)
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(count)


def thread_limit() -> int | None:
    """The threads per operation a framework is given, for adapters that set their pool themselves."""
    value = os.environ.get(THREAD_LIMIT)
    return int(value) if value else None


@contextlib.contextmanager
def stage(name: str):
    """Marks an error raised inside as raised at this stage (``conformance.records.STAGES``: construction,
    conversion, load, call), so a refusal records where it came from."""
    if name not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {name!r}")
    try:
        yield
    except Exception as error:
        if not hasattr(error, "conformance_stage"):
            with contextlib.suppress(AttributeError, TypeError):
                error.conformance_stage = name
        raise


# An adapter that declares nothing is taken to document the canonical convention's rules (the README's
# "The canonical convention"), so a vendor's kernel is given every explicit must-reject case.
DEFAULT_CAPABILITIES = Capabilities(
    source="README.md, The canonical convention",
    rejects={rule: "README.md, The canonical convention" for rule in CANONICAL_RULES},
)


def load(spec: str):
    """An adapter instance from a built-in name or an import path ``module:Attribute``.

    The attribute may be a class (instantiated without arguments) or a ready instance.
    """
    path = BUILTIN.get(spec, spec)
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            f"unknown adapter {spec!r}: use one of {sorted(BUILTIN)} or an import path 'package.module:ClassName'"
        )
    target = getattr(importlib.import_module(module_name), attribute)
    adapter = target() if isinstance(target, type) else target
    for required in ("name", "run"):
        if not hasattr(adapter, required):
            raise TypeError(f"adapter {spec!r} has no {required!r}; an adapter needs name and run(case, x, w, bias)")
    return adapter


def capabilities(adapter) -> Capabilities:
    return getattr(adapter, "capabilities", DEFAULT_CAPABILITIES)


def has_backward(adapter) -> bool:
    """Whether the adapter answers backward cases: it has ``run_backward(case, x, w, bias, dy)``."""
    return callable(getattr(adapter, "run_backward", None))


def framework(adapter) -> str:
    return getattr(adapter, "framework", adapter.name)


def conversion(adapter) -> dict | None:
    """The round trip an adapter is (source, converter, target), or None for a framework's own call."""
    declared = getattr(adapter, "conversion", None)
    return asdict(declared) if declared is not None else None


def modes(adapter) -> tuple[str, ...]:
    return tuple(getattr(adapter, "modes", ("explicit",)))


def device(adapter) -> str:
    return getattr(adapter, "device", "cpu")


def availability(adapter) -> str | None:
    """None when the adapter can run here, else the reason it cannot."""
    check = getattr(adapter, "availability", None)
    return check() if check else None


def versions(adapter) -> dict:
    report = getattr(adapter, "versions", None)
    return dict(report()) if report else {}


def precision(adapter) -> dict:
    report = getattr(adapter, "precision", None)
    return dict(report()) if report else {}


def repro(adapter, case) -> str | None:
    make = getattr(adapter, "repro", None)
    return make(case) if make else None
