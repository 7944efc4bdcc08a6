"""ONNX → torch: ``onnx2torch.convert`` on the very model the onnxruntime adapters build (its weights as
initializers, as in an exported model: onnx2torch reads them from there), run as the torch module it gives.

- ``onnx2torch-opset22``: the model at opset 22, as the onnxruntime adapter runs it;
- ``onnx2torch-opset11``: at opset 11, as older exporters write it (the onnxruntime-opset11 adapter's).

onnx2torch imports torchvision when it is imported (for its NMS and RoiAlign converters). The torchvision
release that pip pairs with torch 2.13.0 (0.28.0) is a CUDA build; beside a CPU-only torch its C++ ops do
not load, and its import stops at the one op it registers unguarded ("operator torchvision::nms does not
exist"). ``import_onnx2torch`` then declares that op's schema (and qnms's) so that torchvision imports
without its C++ ops; calling them raises torchvision's own error. No ConvTranspose code is touched.
"""

from __future__ import annotations

from adapters import Conversion
from adapters.capabilities import why_not
from adapters.converters import RoundTrip
from adapters.onnx_runtimes import CAPABILITIES as ONNX_CAPABILITIES
from adapters.onnx_runtimes import OLD_OPSET, OPSET, OnnxRuntimeOpset11, _model_lines, build_model
from adapters.pytorch import TorchCPU
from adapters.snippets import input_lines, torch_from_numpy
from conformance import modes
from conformance.case import Case

_DOCS = "https://github.com/ENOT-AutoDL/onnx2torch"
# The ONNX model expresses what the spec does; what onnx2torch makes of it is the result. Must-reject cases
# stay with the ONNX runtimes: a converter is not where a model's validity is documented.
CAPABILITIES = ONNX_CAPABILITIES.but(source=f"{ONNX_CAPABILITIES.source}; {_DOCS}", rejects={})
# torchvision's unguarded registrations (torchvision/_meta_registrations.py), declared where its C++ ops are missing.
_TORCHVISION_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_declared = []  # the torch.library.Library holding the schemas: it must live as long as the process


def import_onnx2torch():
    """onnx2torch, importable beside a torchvision whose C++ ops do not load (see the module's docstring)."""
    try:
        import onnx2torch
    except RuntimeError as error:
        if "torchvision::nms does not exist" not in str(error):
            raise
        import sys

        import torch

        for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
            del sys.modules[name]  # the half-imported package, so that it is imported again whole
        library = torch.library.Library("torchvision", "DEF")
        for schema in _TORCHVISION_SCHEMAS:
            library.define(schema)
        _declared.append(library)
        import onnx2torch
    return onnx2torch


class Onnx2Torch(RoundTrip):
    name = "onnx2torch-opset22"
    framework = "onnx2torch"
    conversion = Conversion("onnx", "onnx2torch", "torch")
    modes = (modes.EXPLICIT, "onnx")
    capabilities = CAPABILITIES
    inherits = ("torch",)
    opset = OPSET

    def __init__(self):
        self._torch = TorchCPU()

    def availability(self) -> str | None:
        try:
            import onnx  # noqa: F401
            import torch  # noqa: F401

            import_onnx2torch()
        except ImportError as error:
            return f"onnx2torch, onnx or torch is not importable: {error}"
        return None

    def versions(self) -> dict:
        import importlib.metadata

        import onnx
        import torch

        found = {"onnx2torch": importlib.metadata.version("onnx2torch"), "torch": torch.__version__}
        return {**found, "torchvision": importlib.metadata.version("torchvision"), "onnx": onnx.__version__,
                "opset": str(self.opset)}  # fmt: skip

    def precision(self) -> dict:
        return {"torchvision_ops": "declared schemas only" if _declared else "torchvision's own"}

    def build(self, case: Case, x, w, bias):
        return build_model(case, (w, bias), self.opset)

    def convert(self, case: Case, source, x, workdir: str):
        return import_onnx2torch().convert(source)

    def converted_node(self, converted) -> dict:
        """The torch modules onnx2torch made, with the convolution's arguments."""
        found = {"modules": [type(module).__name__ for _, module in converted.named_children()]}
        for _, module in converted.named_modules():
            if type(module).__name__.startswith("ConvTranspose"):
                found[type(module).__name__] = {
                    name: list(value) if isinstance(value, tuple) else value
                    for name, value in (
                        ("padding", module.padding),
                        ("output_padding", module.output_padding),
                        ("stride", module.stride),
                        ("dilation", module.dilation),
                        ("groups", module.groups),
                        ("weight_dtype", str(module.weight.dtype)),
                    )
                }
        return found

    def load(self, case: Case, converted):
        return converted.eval()

    def call(self, case: Case, runnable, x):
        import torch

        with torch.no_grad():
            return self._torch._array(runnable(self._torch._tensor(x)))

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        to_tensor = torch_from_numpy(case)
        return "\n".join(
            input_lines(case)
            + _model_lines(case, constant_weights=True, opset=self.opset)
            + [
                "import torch",
                "try:",
                "    import onnx2torch",
                "except RuntimeError:  # torchvision's CUDA build beside a CPU torch: declare the ops it needs first",
                "    import sys",
                "    for name in [n for n in sys.modules if n.split('.')[0] == 'torchvision']:",
                "        del sys.modules[name]",
                "    library = torch.library.Library('torchvision', 'DEF')",
                *(f"    library.define({schema!r})" for schema in _TORCHVISION_SCHEMAS),
                "    import onnx2torch",
                "module = onnx2torch.convert(model).eval()",
                "print(module)",
                f"t = {to_tensor}",
                "with torch.no_grad():",
                "    y = module(t(x))",
                "print(y.shape, y)",
            ]
        )


class Onnx2TorchOpset11(Onnx2Torch):
    name = "onnx2torch-opset11"
    opset = OLD_OPSET
    capabilities = OnnxRuntimeOpset11.capabilities.but(rejects={})
