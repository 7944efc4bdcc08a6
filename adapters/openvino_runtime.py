"""OpenVINO (CPU plugin): the two ways a transposed convolution reaches it.

- ``openvino-onnx``: the one-node ONNX model of ``adapters.onnx_runtimes.build_model`` (the very model the
  onnxruntime adapters run), read by ``openvino.Core().read_model`` from bytes and compiled for "CPU";
  ONNX's explicit pads and its modes (auto_pad, output_shape), like the onnxruntime adapter.
- ``openvino-torch``: a ``torch.nn.ConvTranspose{1,2,3}d`` holding the case's weight and bias, converted with
  ``openvino.convert_model(module, example_input=x)`` (the PyTorch frontend) and compiled for "CPU"; torch's
  symmetric padding, so torch's capability table.

Precision (OpenVINO docs, CPU device, "Floating Point Data Types Specifics"): the CPU plugin's default
``INFERENCE_PRECISION_HINT`` is bf16 on CPUs with AVX512_BF16 or AMX, and a float32 model is then computed
in bfloat16. Each case is compiled with the hint of its own dtype (f32, f16, bf16); float64 has no hint
(the plugin computes in f32, bf16 or f16 only), so float64 models get f32, the widest there is, and the
results say what comes back.

Telemetry: ``import openvino`` (openvino.tools.ovc, loaded with it) and ``convert_model`` send usage events to
Google Analytics through the ``openvino_telemetry`` package unless the user opted out (``opt_in_out
--opt_out``, which writes ~/intel/openvino_telemetry and itself sends an opt-out event). openvino-telemetry
2025.2.0 reads no environment variable for it. Where ``openvino_telemetry`` cannot be imported, openvino's
tools fall back to their own no-op ``openvino.tools.ovc.telemetry_stub``: this module makes it unimportable
in its own process before openvino is imported, so the suite stays offline and writes nothing to ~/intel.
"""

from __future__ import annotations

import sys

# Before anything imports openvino: openvino.tools.ovc (imported by ``import openvino``) tries
# ``import openvino_telemetry`` and, on ImportError, uses its no-op stub. None in sys.modules makes that
# import raise ImportError in this process only.
TELEMETRY_MODULE = "openvino_telemetry"
if not getattr(sys.modules.get(TELEMETRY_MODULE), "__file__", None):
    sys.modules[TELEMETRY_MODULE] = None

import numpy as np  # noqa: E402

from adapters import stage, thread_limit  # noqa: E402
from adapters.capabilities import require, why_not  # noqa: E402
from adapters.onnx_runtimes import CAPABILITIES as ONNX_CAPABILITIES  # noqa: E402
from adapters.onnx_runtimes import IR_VERSION, OPSET, _model_lines, build_model  # noqa: E402
from adapters.pytorch import CAPABILITIES as TORCH_CAPABILITIES  # noqa: E402
from adapters.pytorch import symmetric_padding  # noqa: E402
from adapters.snippets import input_lines, torch_from_numpy  # noqa: E402
from conformance import modes  # noqa: E402
from conformance.case import Case  # noqa: E402

_CPU_DOCS = (
    "https://docs.openvino.ai/2026/openvino-workflow/running-inference/inference-devices-and-modes/cpu-device.html"
)
DEVICE = "CPU"
# INFERENCE_PRECISION_HINT per case dtype: the dtype itself; float64 has none (f32 is the widest the plugin has).
PRECISION_HINTS = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f32"}


def telemetry_off() -> bool:
    """Whether openvino's tools in this process use their no-op telemetry stub."""
    if sys.modules.get(TELEMETRY_MODULE, 0) is not None:
        return False
    telemetry_utils = sys.modules.get("openvino.tools.ovc.telemetry_utils")
    return telemetry_utils is None or telemetry_utils.tm.__name__.endswith("telemetry_stub")


def compile_config(case: Case) -> dict:
    """The properties each case's model is compiled with."""
    config = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[case.dtype]}
    if thread_limit():
        config["INFERENCE_NUM_THREADS"] = thread_limit()
    return config


def _tensor(array: np.ndarray):
    """An ov.Tensor of the array; bfloat16 (which openvino's numpy bridge lacks) by its bits."""
    import openvino as ov

    array = np.ascontiguousarray(array)
    if array.dtype.name == "bfloat16":
        return ov.Tensor(array.view(np.uint16), list(array.shape), ov.Type.bf16)
    return ov.Tensor(array)


def _array(tensor) -> np.ndarray:
    """The output tensor's values. openvino hands a bf16 tensor's data to numpy as float16 holding bf16
    bits: read its element type and move the bits into ml_dtypes.bfloat16 (no value changes)."""
    import openvino as ov

    data = np.array(tensor.data, copy=True)
    if tensor.element_type == ov.Type.bf16:
        import ml_dtypes

        return data.view(np.uint16).view(ml_dtypes.bfloat16)
    return data


def _text(value) -> str:
    """A property's value as openvino spells it (an element type as "bf16", an enum by its name)."""
    return value.to_string() if hasattr(value, "to_string") else str(value)


class _OpenVino:
    framework = "openvino"
    device = "cpu"

    def __init__(self):
        self._core = None

    def _ov(self):
        import openvino as ov

        if self._core is None:
            self._core = ov.Core()
        return ov, self._core

    def availability(self) -> str | None:
        try:
            import openvino  # noqa: F401
        except ImportError as error:
            return f"openvino is not importable: {error}"
        _, core = self._ov()
        if DEVICE not in core.available_devices:
            return f"openvino's {DEVICE} device is not among {core.available_devices}"
        return None

    def _versions(self) -> dict:
        import importlib.metadata

        import openvino as ov

        return {"openvino": importlib.metadata.version("openvino"), "openvino_build": ov.get_version()}

    def precision(self) -> dict:
        _, core = self._ov()
        return {
            "device": DEVICE,
            "INFERENCE_PRECISION_HINT": "per case: f32 for float32, f16 for float16, bf16 for bfloat16, "
            "f32 for float64 (the CPU plugin has no f64 precision)",
            "default_INFERENCE_PRECISION_HINT_here": _text(core.get_property(DEVICE, "INFERENCE_PRECISION_HINT")),
            "EXECUTION_MODE_HINT": str(core.get_property(DEVICE, "EXECUTION_MODE_HINT")),
            "INFERENCE_NUM_THREADS": thread_limit() or "default",
            "telemetry": "off (openvino_telemetry made unimportable in the worker: openvino's no-op stub)"
            if telemetry_off()
            else "ON: openvino_telemetry was imported before this adapter",
        }

    def _infer(self, compiled, arrays) -> np.ndarray:
        request = compiled.create_infer_request()
        for index, array in enumerate(arrays):
            request.set_input_tensor(index, _tensor(array))
        request.infer()
        return _array(request.get_output_tensor(0))

    @staticmethod
    def _run_lines(case: Case, inputs: str) -> list[str]:
        """The plain-openvino lines after the model is built: compile with the adapter's settings, infer."""
        bits = case.dtype == "bfloat16"
        return [
            "t = "
            + (
                "lambda a: ov.Tensor(np.ascontiguousarray(a).view(np.uint16), list(a.shape), ov.Type.bf16)"
                if bits
                else "lambda a: ov.Tensor(np.ascontiguousarray(a))"
            ),
            f"compiled = core.compile_model(ov_model, {DEVICE!r}, {compile_config(case)!r})",
            "request = compiled.create_infer_request()",
            f"for i, a in enumerate({inputs}):",
            "    request.set_input_tensor(i, t(a))",
            "request.infer()",
            "out = request.get_output_tensor(0)",
            "y = out.data.view(np.uint16).view(ml_dtypes.bfloat16)  # openvino hands bf16 to numpy as float16 bits"
            if bits
            else "y = out.data",
            "print(out.element_type, y.shape, y)",
        ]


_TELEMETRY_LINES = [
    "import sys",
    "sys.modules['openvino_telemetry'] = None  # openvino's tools then use their no-op telemetry stub",
]


class OpenVinoOnnx(_OpenVino):
    """The ONNX model onnxruntime runs, read and compiled by OpenVINO's ONNX frontend and CPU plugin."""

    name = "openvino-onnx"
    modes = (modes.EXPLICIT, "onnx")
    # OpenVINO's ONNX frontend documents ConvTranspose without a limitation of its own (Supported Operations,
    # https://docs.openvino.ai/2026/documentation/compatibility-and-support/supported-operations.html): the spec's.
    capabilities = ONNX_CAPABILITIES

    def availability(self) -> str | None:
        try:
            import onnx  # noqa: F401
        except ImportError as error:
            return f"onnx is not importable: {error}"
        return super().availability()

    def versions(self) -> dict:
        import onnx

        return {**self._versions(), "onnx": onnx.__version__, "opset": str(OPSET), "ir_version": str(IR_VERSION)}

    def compile(self, case: Case, x, w, bias):
        """The compiled model of the case (inputs X, W and B: the ONNX model's)."""
        _, core = self._ov()
        with stage("construction"):
            model = core.read_model(build_model(case).SerializeToString(), b"")
            return core.compile_model(model, DEVICE, compile_config(case))

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        compiled = self.compile(case, x, w, bias)
        with stage("call"):
            return self._infer(compiled, [a for a in (x, w, bias) if a is not None])

    def repro(self, case: Case) -> str:
        return "\n".join(
            _TELEMETRY_LINES
            + input_lines(case)
            + _model_lines(case)
            + [
                "import openvino as ov",
                "core = ov.Core()",
                "ov_model = core.read_model(model.SerializeToString(), b'')",
            ]
            + self._run_lines(case, "[a for a in (x, w, bias) if a is not None]")
        )


class OpenVinoTorch(_OpenVino):
    """A torch.nn.ConvTranspose module, converted by OpenVINO's PyTorch frontend and compiled for the CPU."""

    name = "openvino-torch"
    capabilities = TORCH_CAPABILITIES

    def availability(self) -> str | None:
        try:
            import torch  # noqa: F401
        except ImportError as error:
            return f"torch is not importable: {error}"
        return super().availability()

    def versions(self) -> dict:
        import torch

        return {**self._versions(), "torch": torch.__version__}

    @staticmethod
    def _torch_tensor(array: np.ndarray):
        import torch

        if array.dtype.name == "bfloat16":  # NumPy has no bfloat16: move the bits, not the values
            return torch.from_numpy(array.view(np.int16).copy()).view(torch.bfloat16)
        return torch.from_numpy(np.ascontiguousarray(array))

    def module(self, case: Case, w, bias):
        """The torch module: its shape from the weight (so a mismatched weight reaches the conversion)."""
        import torch

        layer = getattr(torch.nn, f"ConvTranspose{case.rank}d")(
            w.shape[0],
            w.shape[1] * case.groups,
            case.kernel,
            stride=case.stride,
            padding=symmetric_padding(case),
            output_padding=case.output_padding,
            groups=case.groups,
            bias=bias is not None,
            dilation=case.dilation,
        )
        layer.weight = torch.nn.Parameter(self._torch_tensor(w), requires_grad=False)
        if bias is not None:
            layer.bias = torch.nn.Parameter(self._torch_tensor(bias), requires_grad=False)
        return layer.eval()

    def compile(self, case: Case, x, w, bias):
        """The compiled model of the case: the module converted with x as its example input (input x only)."""
        import torch

        ov, core = self._ov()
        with stage("construction"), torch.no_grad():
            ov_model = ov.convert_model(self.module(case, w, bias), example_input=self._torch_tensor(x))
            return core.compile_model(ov_model, DEVICE, compile_config(case))

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        compiled = self.compile(case, x, w, bias)
        with stage("call"):
            return self._infer(compiled, [x])

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        to_tensor = torch_from_numpy(case)
        return "\n".join(
            _TELEMETRY_LINES
            + input_lines(case)
            + [
                "import torch",
                f"tt = {to_tensor}",
                f"layer = torch.nn.ConvTranspose{case.rank}d(",
                f"    {case.weight_shape[0]}, {case.weight_shape[1] * case.groups}, {case.kernel},",
                f"    stride={case.stride}, padding={symmetric_padding(case)},",
                f"    output_padding={case.output_padding}, groups={case.groups}, bias={case.bias}, "
                f"dilation={case.dilation})",
                "layer.weight = torch.nn.Parameter(tt(w), requires_grad=False)",
            ]
            + (["layer.bias = torch.nn.Parameter(tt(bias), requires_grad=False)"] if case.bias else [])
            + [
                "import openvino as ov",
                "core = ov.Core()",
                "with torch.no_grad():",
                "    ov_model = ov.convert_model(layer.eval(), example_input=tt(x))",
            ]
            + self._run_lines(case, "[x]")
        )
