"""PyTorch: ``torch.nn.functional.conv_transpose{1,2,3}d``.

Facts (PyTorch docs, ConvTranspose2d and conv_transpose2d): weight ``(C_in, C_out // groups, *k)``,
the canonical layout; integer ``padding`` p crops p at both ends of an axis (no asymmetric form, no
string padding for transposed convolution); ``output_padding`` is appended at the end and must be
smaller than either the stride or the dilation.
"""

from __future__ import annotations

import numpy as np

from adapters import stage
from adapters.capabilities import Capabilities, require, why_not
from adapters.snippets import input_lines, torch_from_numpy
from conformance import modes
from conformance.case import Case

_DOCS = "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional.conv_transpose2d.html"
_ATEN = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native"
# The docs state only the layouts and the groups rule; the other argument checks live in ATen's source.
CAPABILITIES = Capabilities(
    source=_DOCS,
    pads="symmetric",
    output_padding="stride_or_dilation",
    rejects={
        "negative_pad": f"{_ATEN}/Convolution.cpp (check_shape_forward: 'negative padding is not supported')",
        "output_padding_at_bound": f"{_ATEN}/NaiveConvolutionTranspose2d.cpp (slow_conv_transpose2d_shape_check: "
        "'output padding must be smaller than either stride or dilation')",
        "output_below_one": f"{_ATEN}/NaiveConvolutionTranspose2d.cpp (shape check: 'Output size is too small')",
        "groups_not_dividing": f"{_DOCS} (groups: in_channels should be divisible by the number of groups)",
        "weight_channels": f"{_DOCS} (weight: (in_channels, out_channels / groups, kH, kW))",
        "zero_size": f"{_ATEN}/Convolution.cpp ('Only zero batch or zero channel inputs are supported')",
    },
)


def symmetric_padding(case: Case) -> tuple[int, ...]:
    """torch's per-axis padding for the case (the capability table refuses asymmetric pairs first)."""
    return tuple(begin for begin, _ in case.padding)


class TorchCPU:
    name = "torch"
    framework = "torch"
    device = "cpu"
    capabilities = CAPABILITIES

    def availability(self) -> str | None:
        try:
            import torch  # noqa: F401
        except ImportError as error:
            return f"torch is not importable: {error}"
        return None

    def versions(self) -> dict:
        import torch

        return {"torch": torch.__version__}

    def precision(self) -> dict:
        import torch

        return {
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "threads": torch.get_num_threads(),
        }

    def _tensor(self, array: np.ndarray):
        import torch

        if array.dtype.name == "bfloat16":  # NumPy has no bfloat16: move the bits, not the values
            return torch.from_numpy(array.view(np.int16).copy()).view(torch.bfloat16).to(self.device)
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def _array(self, tensor) -> np.ndarray:
        import torch

        tensor = tensor.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            import ml_dtypes

            return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return tensor.numpy()

    def _call(self, case: Case, x, w, bias):
        import torch

        function = getattr(torch.nn.functional, f"conv_transpose{case.rank}d")
        return function(
            x,
            w,
            bias,
            stride=case.stride,
            padding=symmetric_padding(case),
            output_padding=case.output_padding,
            groups=case.groups,
            dilation=case.dilation,
        )

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        import torch

        with torch.no_grad(), stage("call"):
            out = self._call(case, self._tensor(x), self._tensor(w), None if bias is None else self._tensor(bias))
        return self._array(out)

    def run_backward(self, case: Case, x, w, bias, dy):
        """dx, dw, db of <dy, y> by autograd."""
        require(self, case)
        import torch

        inputs = [self._tensor(a).requires_grad_() for a in (x, w, bias) if a is not None]
        with stage("call"):
            out = self._call(case, *inputs[:2], inputs[2] if bias is not None else None)
            gradients = torch.autograd.grad(out, inputs, grad_outputs=self._tensor(dy))
        found = [self._array(g) for g in gradients]
        return found[0], found[1], found[2] if bias is not None else None

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        padding = symmetric_padding(case)
        to_tensor = torch_from_numpy(case)
        lines = input_lines(case) + [
            "import torch",
            f"t = {to_tensor}",
            f"y = torch.nn.functional.conv_transpose{case.rank}d(",
            f"    t(x).to({self.device!r}), t(w).to({self.device!r}), "
            + ("t(bias).to(" + repr(self.device) + ")," if case.bias else "None,"),
            f"    stride={case.stride}, padding={padding}, output_padding={case.output_padding},",
            f"    groups={case.groups}, dilation={case.dilation})",
            "print(y.shape, y)",
        ]
        if case.direction == "backward":
            lines[lines.index("import torch") + 1 :] = [
                f"t = {to_tensor}",
                "inputs = [t(a).to(" + repr(self.device) + ").requires_grad_() for a in (x, w, bias) if a is not None]",
                f"y = torch.nn.functional.conv_transpose{case.rank}d(",
                "    inputs[0], inputs[1], " + ("inputs[2]," if case.bias else "None,"),
                f"    stride={case.stride}, padding={padding}, output_padding={case.output_padding},",
                f"    groups={case.groups}, dilation={case.dilation})",
                "grads = torch.autograd.grad(y, inputs, grad_outputs=t(dy).to(" + repr(self.device) + "))",
                "print([g.shape for g in grads], grads)",
            ]
        return "\n".join(lines)


class TorchCUDA(TorchCPU):
    name = "torch-cuda"
    device = "cuda"

    def availability(self) -> str | None:
        reason = super().availability()
        if reason:
            return reason
        import torch

        if not torch.cuda.is_available():
            return f"CUDA is not available to torch {torch.__version__} (torch.cuda.is_available() is False)"
        # TF32 would silently compute float32 cases at ~10-bit precision: keep it off and say so.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return None

    def versions(self) -> dict:
        import torch

        found = {"torch": torch.__version__, "cuda": str(torch.version.cuda)}
        if torch.cuda.is_available():
            found["device"] = torch.cuda.get_device_name(0)
            found["cudnn"] = str(torch.backends.cudnn.version())
        return found

    def precision(self) -> dict:
        import torch

        return {
            "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
        }


_MODULE_DOCS = "https://docs.pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d.html"
# The module builds its own weight from in_channels, so it cannot be told a weight of the wrong channels.
MODULE_CAPABILITIES = CAPABILITIES.but(
    source=_MODULE_DOCS,
    rejects={rule: where for rule, where in CAPABILITIES.rejects.items() if rule != "weight_channels"},
)


class TorchModule(TorchCPU):
    """``torch.nn.ConvTranspose{1,2,3}d``, the layer torch users build, with the case's weight and bias loaded
    into it. Explicit cases pass ``output_padding`` to the constructor; ``torch_output_size`` cases call
    ``forward(x, output_size=...)`` and let the module choose the output_padding."""

    name = "torch-module"
    modes = (modes.EXPLICIT, "torch")
    capabilities = MODULE_CAPABILITIES

    def _module(self, case: Case, w, bias):
        import torch

        asks_size = case.mode == "torch_output_size"
        module = getattr(torch.nn, f"ConvTranspose{case.rank}d")(
            case.in_channels,
            case.out_channels,
            case.kernel,
            stride=case.stride,
            padding=symmetric_padding(case),
            output_padding=0 if asks_size else case.output_padding,
            groups=case.groups,
            bias=case.bias,
            dilation=case.dilation,
            device=self.device,
            dtype=getattr(torch, case.dtype),  # the case's dtype names are torch's
        )
        with torch.no_grad():
            module.weight.copy_(w)
            if bias is not None:
                module.bias.copy_(bias)
        return module

    def _forward(self, case: Case, module, x):
        if case.mode == "torch_output_size":
            return module(x, output_size=list(case.geometry.output_size))
        return module(x)

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        import torch

        with torch.no_grad():
            with stage("construction"):
                module = self._module(case, self._tensor(w), None if bias is None else self._tensor(bias))
            with stage("call"):
                out = self._forward(case, module, self._tensor(x))
        return self._array(out)

    def run_backward(self, case: Case, x, w, bias, dy):
        """dx, and the gradients of the module's weight and bias, of <dy, y> by autograd."""
        require(self, case)
        import torch

        with stage("construction"):
            module = self._module(case, self._tensor(w), None if bias is None else self._tensor(bias))
        inputs = [self._tensor(x).requires_grad_(), module.weight] + ([module.bias] if bias is not None else [])
        with stage("call"):
            out = self._forward(case, module, inputs[0])
            gradients = torch.autograd.grad(out, inputs, grad_outputs=self._tensor(dy))
        found = [self._array(g) for g in gradients]
        return found[0], found[1], found[2] if bias is not None else None

    def _call_lines(self, case: Case) -> list[str]:
        """The lines from the module to ``y``, given ``t`` (array -> tensor) and x, w, bias arrays."""
        asks_size = case.mode == "torch_output_size"
        return [
            f"m = torch.nn.ConvTranspose{case.rank}d({case.in_channels}, {case.out_channels}, {case.kernel}, "
            f"stride={case.stride}, padding={symmetric_padding(case)},",
            f"    output_padding={0 if asks_size else case.output_padding}, groups={case.groups}, bias={case.bias}, "
            f"dilation={case.dilation}, dtype=torch.{case.dtype})",
            "with torch.no_grad():",
            "    m.weight.copy_(t(w))" + ("; m.bias.copy_(t(bias))" if case.bias else ""),
            *self._input_lines(case),
            f"y = m(xt, output_size={list(case.geometry.output_size)})" if asks_size else "y = m(xt)",
        ]

    def _input_lines(self, case: Case) -> list[str]:
        return ["xt = t(x)" + (".requires_grad_()" if case.direction == "backward" else "")]

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        to_tensor = torch_from_numpy(case)
        lines = input_lines(case) + ["import torch", f"t = {to_tensor}", *self._call_lines(case)]
        if case.direction == "backward":
            params = "[xt, m.weight" + (", m.bias]" if case.bias else "]")
            return "\n".join(lines + [f"grads = torch.autograd.grad(y, {params}, grad_outputs=t(dy))", "print(grads)"])
        return "\n".join(lines + ["print(y.shape, y)"])


class TorchUnbatched(TorchModule):
    """The module called on one sample at a time, without the batch axis (documented input form
    ``(C_in, *spatial)``); the samples' outputs are stacked back into a batch."""

    name = "torch-unbatched"

    def _forward(self, case: Case, module, x):
        import torch

        return torch.stack([super(TorchUnbatched, self)._forward(case, module, sample) for sample in x])

    def _call_lines(self, case: Case) -> list[str]:
        lines = super()._call_lines(case)
        call = lines[-1].replace("m(xt", "m(sample").replace("y = ", "")
        return lines[:-1] + [f"y = torch.stack([{call} for sample in xt])  # each sample without its batch axis"]


_MEMORY_FORMATS = {2: "channels_last", 3: "channels_last_3d"}
_MEMORY_FORMAT_DOCS = "https://docs.pytorch.org/docs/stable/tensor_attributes.html#torch-memory-format"


class TorchChannelsLast(TorchCPU):
    """The functional call on input and weight in channels-last memory (``torch.channels_last`` for 2-D,
    ``channels_last_3d`` for 3-D; there is none for 1-D): the same values, other kernels."""

    name = "torch-channels-last"
    capabilities = CAPABILITIES.but(source=_MEMORY_FORMAT_DOCS, ranks=(2, 3))

    def _call(self, case: Case, x, w, bias):
        import torch

        layout = getattr(torch, _MEMORY_FORMATS[case.rank])
        return super()._call(case, x.contiguous(memory_format=layout), w.contiguous(memory_format=layout), bias)

    def repro(self, case: Case) -> str:
        text = super().repro(case)
        if text.startswith("#"):
            return text
        device = repr(self.device)
        return (
            text.replace(
                "import torch\n",
                f"import torch\nlast = lambda a: a.contiguous(memory_format=torch.{_MEMORY_FORMATS[case.rank]})\n",
            )
            .replace(f"t(x).to({device})", f"last(t(x).to({device}))")
            .replace(f"t(w).to({device})", f"last(t(w).to({device}))")
            .replace("inputs[0], inputs[1], ", "last(inputs[0]), last(inputs[1]), ")
        )


class TorchCompile(TorchModule):
    """``torch.compile`` of the module (inductor, on the CPU), compiled afresh per case: a compiled module is
    specialised to its shapes, and dynamo's cache is reset first, so that a case never runs a graph that
    fell back to eager after too many recompilations. Forward only: compiling the backward graph as well
    doubles a cost that is already about a second per case."""

    name = "torch-compile"
    run_backward = None

    def precision(self) -> dict:
        return {**super().precision(), "compile": "torch.compile(module, backend='inductor', fullgraph=True)"}

    def _forward(self, case: Case, module, x):
        import torch

        torch._dynamo.reset()
        compiled = torch.compile(module, backend="inductor", fullgraph=True, dynamic=False)
        return super()._forward(case, compiled, x)

    def _call_lines(self, case: Case) -> list[str]:
        lines = super()._call_lines(case)
        return lines[:-1] + [
            "m = torch.compile(m, backend='inductor', fullgraph=True, dynamic=False)",
            "with torch.no_grad():",
            "    " + lines[-1],
        ]
