"""ONNX ``ConvTranspose`` as a one-node model, run by onnxruntime (one adapter per execution provider)
and by ``onnx.reference.ReferenceEvaluator``.

Facts (ONNX operator spec, ConvTranspose): weight ``(C, M // group, *k)``, the canonical layout;
``pads`` = all begins then all ends, the forward-convolution padding cropped from the full output;
``output_padding`` appended at the end; bias ``(M,)``. The ONNX modes (``onnx_*``, see
``conformance.modes``) set ``auto_pad`` and ``output_shape`` instead of ``pads``.
"""

from __future__ import annotations

import numpy as np

from adapters import ShapeOnly, stage, thread_limit
from adapters.capabilities import Capabilities, require
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

_SPEC = "https://onnx.ai/onnx/operators/onnx__ConvTranspose.html"
CAPABILITIES = Capabilities(
    source=_SPEC,
    rejects={
        "negative_pad": f"{_SPEC} (pads: 'can take any value greater than or equal to 0')",
        "output_padding_at_bound": f"{_SPEC} (output_padding: 'must be less than the corresponding stride/dilation "
        "dimension')",
        "output_below_one": f"{_SPEC} (the output shape formula; not stated, and onnxruntime refuses it: 'Computed "
        "output dimension is <= 0')",
        "undocumented_padding": f"{_SPEC} (auto_pad: 'must be either NOTSET, SAME_UPPER, SAME_LOWER or VALID')",
        "groups_not_dividing": f"{_SPEC} (group: 'number of groups input channels and output channels are divided "
        "into')",
        "weight_channels": f"{_SPEC} (W: '(C x M/group x kH x kW), where C is the number of channels')",
        "onnx_output_shape": f"{_SPEC} (output_shape sets pads through total_padding, and pads are >= 0)",
    },
)

# IR version 10 is the one that introduced opset 22; onnx 1.23 would stamp 14, newer than onnxruntime 1.31 reads.
IR_VERSION = 10
OPSET = 22  # the newest ConvTranspose schema (adds bfloat16 to its types) that onnx 1.23 and onnxruntime 1.31 know

_ELEMENT_TYPES = {"float64": "DOUBLE", "float32": "FLOAT", "float16": "FLOAT16", "bfloat16": "BFLOAT16"}


def node_attributes(case: Case) -> dict:
    """The node's attributes: explicit pads, or for an ONNX mode its auto_pad and output_shape."""
    attributes = {
        "kernel_shape": list(case.kernel),
        "strides": list(case.stride),
        "dilations": list(case.dilation),
        "group": case.groups,
    }
    mode = case.mode_spec
    if mode.framework != "onnx":
        attributes["pads"] = [begin for begin, _ in case.padding] + [end for _, end in case.padding]
        attributes["output_padding"] = list(case.output_padding)
        return attributes
    attributes["auto_pad"] = mode.padding.upper()
    if mode.output_padding is not None:
        attributes["output_padding"] = list(mode.output_padding)
    if mode.output_size is not None:
        attributes["output_shape"] = list(mode.output_size)
    return attributes


def build_model(case: Case):
    """The one-node ONNX model computing the case: inputs X, W (and B), output Y. Unchecked: whether it is
    valid is for the consumer to say (the onnx-shape-inference adapter runs the checker)."""
    from onnx import TensorProto, helper

    element = getattr(TensorProto, _ELEMENT_TYPES[case.dtype])
    inputs = [
        helper.make_tensor_value_info("X", element, list(case.input_shape)),
        helper.make_tensor_value_info("W", element, list(case.weight_shape)),
    ]
    if case.bias:
        inputs.append(helper.make_tensor_value_info("B", element, [case.out_channels]))
    node = helper.make_node("ConvTranspose", [i.name for i in inputs], ["Y"], **node_attributes(case))
    # The output's rank only: its sizes are for the runtime to compute, not for this suite to suggest.
    output = helper.make_tensor_value_info("Y", element, [None] * (case.rank + 2))
    graph = helper.make_graph([node], "conv_transpose", inputs, [output])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def _feeds(x, w, bias) -> dict:
    feeds = {"X": x, "W": w}
    if bias is not None:
        feeds["B"] = bias
    return feeds


def _model_lines(case: Case) -> list[str]:
    element = _ELEMENT_TYPES[case.dtype]
    names = ["X", "W"] + (["B"] if case.bias else [])
    shapes = [list(case.input_shape), list(case.weight_shape)] + ([[case.out_channels]] if case.bias else [])
    return [
        "from onnx import TensorProto, helper",
        f"inputs = [helper.make_tensor_value_info(n, TensorProto.{element}, s) for n, s in {list(zip(names, shapes))}]",
        f"node = helper.make_node('ConvTranspose', {names}, ['Y'], **{node_attributes(case)})",
        f"output = helper.make_tensor_value_info('Y', TensorProto.{element}, {[None] * (case.rank + 2)})",
        "graph = helper.make_graph([node], 'conv_transpose', inputs, [output])",
        f"model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', {OPSET})], ir_version={IR_VERSION})",
        "feeds = {'X': x, 'W': w}" + (" | {'B': bias}" if case.bias else ""),
    ]


class OnnxRuntime:
    """One execution provider of onnxruntime; subclasses name the provider."""

    framework = "onnxruntime"
    modes = (modes.EXPLICIT, "onnx")
    provider = "CPUExecutionProvider"
    capabilities = CAPABILITIES

    def availability(self) -> str | None:
        try:
            import onnx  # noqa: F401
            import onnxruntime
        except ImportError as error:
            return f"onnxruntime or onnx is not importable: {error}"
        if self.provider not in onnxruntime.get_available_providers():
            return (
                f"{self.provider} is not among onnxruntime {onnxruntime.__version__}'s providers "
                f"{onnxruntime.get_available_providers()}"
            )
        return None

    def versions(self) -> dict:
        import onnx
        import onnxruntime

        return {
            "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__,
            "opset": str(OPSET),
            "ir_version": str(IR_VERSION),
        }

    def precision(self) -> dict:
        return {"provider": self.provider, "graph_optimization_level": "ORT_ENABLE_ALL (default)"}

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        import onnxruntime

        # Refusals come back as exceptions and are recorded; the same text on stderr is noise.
        onnxruntime.set_default_logger_severity(4)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4
        options.intra_op_num_threads = thread_limit() or 0  # 0: onnxruntime's default, one per core
        with stage("construction"):  # a provider without a kernel for the dtype refuses here (NOT_IMPLEMENTED)
            session = onnxruntime.InferenceSession(
                build_model(case).SerializeToString(), options, providers=[self.provider]
            )
        quiet = onnxruntime.RunOptions()
        quiet.log_severity_level = 4
        with stage("call"):
            return session.run(None, _feeds(x, w, bias), quiet)[0]

    def repro(self, case: Case) -> str:
        return "\n".join(
            input_lines(case)
            + _model_lines(case)
            + [
                "import onnxruntime",
                f"session = onnxruntime.InferenceSession(model.SerializeToString(), providers=[{self.provider!r}])",
                "y = session.run(None, feeds)[0]",
                "print(y.shape, y)",
            ]
        )


class OnnxRuntimeCPU(OnnxRuntime):
    name = "onnxruntime"
    device = "cpu"
    provider = "CPUExecutionProvider"


class OnnxRuntimeCUDA(OnnxRuntime):
    name = "onnxruntime-cuda"
    device = "cuda"
    provider = "CUDAExecutionProvider"


class _OnnxPackage:
    """What the onnx package's own consumers of the model share: availability, versions, modes."""

    modes = (modes.EXPLICIT, "onnx")
    device = "cpu"
    capabilities = CAPABILITIES

    def availability(self) -> str | None:
        try:
            import onnx.reference  # noqa: F401
            import onnx.shape_inference  # noqa: F401
        except ImportError as error:
            return f"onnx is not importable: {error}"
        return None

    def versions(self) -> dict:
        import onnx

        return {"onnx": onnx.__version__, "opset": str(OPSET)}


class OnnxReference(_OnnxPackage):
    name = "onnx-reference"
    framework = "onnx_reference"

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        from onnx.reference import ReferenceEvaluator

        with stage("construction"):
            evaluator = ReferenceEvaluator(build_model(case))
        with stage("call"):
            return evaluator.run(None, _feeds(x, w, bias))[0]

    def repro(self, case: Case) -> str:
        return "\n".join(
            input_lines(case)
            + _model_lines(case)
            + [
                "from onnx.reference import ReferenceEvaluator",
                "y = ReferenceEvaluator(model).run(None, feeds)[0]",
                "print(y.shape, y)",
            ]
        )


_DTYPES_BY_ELEMENT = {"DOUBLE": "float64", "FLOAT": "float32", "FLOAT16": "float16", "BFLOAT16": "bfloat16"}


class OnnxShapeInference(_OnnxPackage):
    """ONNX's own shape inference on the same one-node model: the shape and element type it infers for Y.

    Converters and runtimes trust these shapes. ``onnx.checker.check_model(full_check=True)`` and
    ``onnx.shape_inference.infer_shapes(strict_mode=True, data_prop=True)`` run on the model; either
    raising is a refusal (at construction), and no values are computed.
    """

    name = "onnx-shape-inference"
    framework = "onnx_shape_inference"
    capabilities = CAPABILITIES.but(values=False)

    def precision(self) -> dict:
        return {"strict_mode": True, "data_prop": True, "check_model_full_check": True}

    def run(self, case: Case, x, w, bias) -> ShapeOnly:
        require(self, case)
        import onnx

        model = build_model(case)
        with stage("construction"):
            inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
            onnx.checker.check_model(inferred, full_check=True)
        output = inferred.graph.output[0].type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in output.shape.dim]
        element = onnx.TensorProto.DataType.Name(output.elem_type)
        return ShapeOnly(dims, _DTYPES_BY_ELEMENT.get(element, element.lower()))

    def repro(self, case: Case) -> str:
        return "\n".join(
            _model_lines(case)[:-1]
            + [
                "import onnx",
                "inferred = onnx.shape_inference.infer_shapes(",
                "    model, check_type=True, strict_mode=True, data_prop=True)",
                "onnx.checker.check_model(inferred, full_check=True)",
                "print(inferred.graph.output[0].type.tensor_type.shape)",
            ]
        )
