"""torch → ONNX → onnxruntime: ``torch.onnx.export`` of the ``torch.nn.ConvTranspose{1,2,3}d`` module the
torch-module adapter builds, with each of torch's two exporters, run by onnxruntime's CPU provider.

- ``torch-onnx-dynamo``: ``dynamo=True``, the exporter torch documents as the default since 2.9 (it needs
  onnxscript);
- ``torch-onnx-torchscript``: ``dynamo=False``, the TorchScript exporter, which older code and many
  tutorials still use.

Each at the opset it picks by default (what a user gets), recorded with the converted node's attributes.
The module's weight and bias become the model's initializers, as in any export; the model's one input is x.
"""

from __future__ import annotations

import io

from adapters import Conversion
from adapters.capabilities import why_not
from adapters.converters import ToOnnxRuntime
from adapters.pytorch import MODULE_CAPABILITIES, TorchModule
from adapters.snippets import input_lines, torch_from_numpy
from conformance import modes
from conformance.case import Case

_EXPORT_DOCS = "https://docs.pytorch.org/docs/stable/onnx_export.html"
# torch builds and checks the module; the exporter documents no limit of its own for ConvTranspose, so the
# module's table holds, and must-reject cases stay with the torch-module adapter (the module refuses them
# before any export).
CAPABILITIES = MODULE_CAPABILITIES.but(source=f"{MODULE_CAPABILITIES.source}; {_EXPORT_DOCS}", rejects={})


class TorchOnnx(ToOnnxRuntime):
    framework = "torch-onnx"
    modes = (modes.EXPLICIT, "torch")
    capabilities = CAPABILITIES
    inherits = ("torch", "onnxruntime")
    dynamo = True

    def __init__(self):
        self._torch = TorchModule()

    def availability(self) -> str | None:
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
            import torch  # noqa: F401

            if self.dynamo:
                import onnxscript  # noqa: F401
        except ImportError as error:
            return f"torch, onnx, onnxruntime{' or onnxscript' if self.dynamo else ''} is not importable: {error}"
        return None

    def versions(self) -> dict:
        import onnx
        import onnxruntime
        import torch

        found = {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
        if self.dynamo:
            import onnxscript

            found["onnxscript"] = onnxscript.__version__
        return found

    def precision(self) -> dict:
        return {"exporter": f"torch.onnx.export(dynamo={self.dynamo})", "provider": "CPUExecutionProvider"}

    def build(self, case: Case, x, w, bias):
        tensor = self._torch._tensor
        module = self._torch._module(case, tensor(w), None if bias is None else tensor(bias)).eval()
        if case.mode != "torch_output_size":
            return module
        return with_output_size(module, list(case.geometry.output_size))

    def convert(self, case: Case, source, x, workdir: str):
        import torch

        example = (self._torch._tensor(x),)
        with torch.no_grad():
            if self.dynamo:
                return torch.onnx.export(source, example, dynamo=True, verbose=False).model_proto
            buffer = io.BytesIO()
            torch.onnx.export(source, example, buffer, dynamo=False, verbose=False)
        import onnx

        return onnx.load_from_string(buffer.getvalue())

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        lines = input_lines(case) + ["import io", "import onnx", "import torch"]
        lines.append(f"t = {torch_from_numpy(case)}")
        module_lines = self._torch._call_lines(case)[:-2]  # the module and its weights, without the call
        lines += module_lines
        if case.mode == "torch_output_size":
            size = list(case.geometry.output_size)
            lines += [
                "class WithOutputSize(torch.nn.Module):",
                "    def __init__(self, m):",
                "        super().__init__(); self.m = m",
                "    def forward(self, x):",
                f"        return self.m(x, output_size={size})",
                "m = WithOutputSize(m)",
            ]
        if self.dynamo:
            lines.append("model = torch.onnx.export(m.eval(), (t(x),), dynamo=True).model_proto")
        else:
            lines += [
                "buffer = io.BytesIO()",
                "torch.onnx.export(m.eval(), (t(x),), buffer, dynamo=False)",
                "model = onnx.load_from_string(buffer.getvalue())",
            ]
        return "\n".join(lines + self.run_lines())


def with_output_size(module, output_size):
    """The module called with ``output_size``, as a module of its own (an exporter traces ``forward``)."""
    import torch

    class WithOutputSize(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = module

        def forward(self, x):
            return self.m(x, output_size=output_size)

    return WithOutputSize().eval()


class TorchOnnxDynamo(TorchOnnx):
    name = "torch-onnx-dynamo"
    conversion = Conversion("torch", "torch.onnx.export (dynamo)", "onnxruntime")
    dynamo = True


class TorchOnnxTorchScript(TorchOnnx):
    name = "torch-onnx-torchscript"
    conversion = Conversion("torch", "torch.onnx.export (TorchScript)", "onnxruntime")
    dynamo = False
