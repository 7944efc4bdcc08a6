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
from adapters.capabilities import Capabilities, require, why_not
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
# Opset 11 (ConvTranspose-11: float16, float and double only) is what older exporters still write by default;
# IR version 6 is the one that came with it (https://onnx.ai/onnx/repo-docs/Versioning.html).
OLD_OPSET, OLD_IR_VERSION = 11, 6
_OPSET_11_SPEC = "https://onnx.ai/onnx/operators/onnx__ConvTranspose.html#convtranspose-11"

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


def build_model(case: Case, weights: tuple | None = None, opset: int = OPSET):
    """The one-node ONNX model computing the case: inputs X, W (and B), output Y. Unchecked: whether it is
    valid is for the consumer to say (the onnx-shape-inference adapter runs the checker).

    ``weights`` (w, bias) makes W and B constant initializers, as in an exported model, which is what lets a
    runtime's optimizer pre-pack or re-lay them out; otherwise they are graph inputs.
    """
    from onnx import TensorProto, helper, numpy_helper

    element = getattr(TensorProto, _ELEMENT_TYPES[case.dtype])
    names = ["X", "W"] + (["B"] if case.bias else [])
    shapes = [list(case.input_shape), list(case.weight_shape), [case.out_channels]]
    inputs = [helper.make_tensor_value_info(n, element, s) for n, s in zip(names, shapes)]
    initializers = []
    if weights is not None:
        inputs = inputs[:1]
        initializers = [numpy_helper.from_array(array, n) for n, array in zip(names[1:], weights) if array is not None]
    node = helper.make_node("ConvTranspose", names, ["Y"], **node_attributes(case))
    # The output's rank only: its sizes are for the runtime to compute, not for this suite to suggest.
    output = helper.make_tensor_value_info("Y", element, [None] * (case.rank + 2))
    graph = helper.make_graph([node], "conv_transpose", inputs, [output], initializer=initializers)
    ir_version = OLD_IR_VERSION if opset == OLD_OPSET else IR_VERSION
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)


def _feeds(x, w, bias) -> dict:
    feeds = {"X": x, "W": w}
    if bias is not None:
        feeds["B"] = bias
    return feeds


def _model_lines(case: Case, constant_weights: bool = False, opset: int = OPSET) -> list[str]:
    element = _ELEMENT_TYPES[case.dtype]
    names = ["X", "W"] + (["B"] if case.bias else [])
    shapes = [list(case.input_shape), list(case.weight_shape)] + ([[case.out_channels]] if case.bias else [])
    graph_inputs = 1 if constant_weights else len(names)
    ir_version = OLD_IR_VERSION if opset == OLD_OPSET else IR_VERSION
    lines = [
        "from onnx import TensorProto, helper, numpy_helper",
        f"inputs = [helper.make_tensor_value_info(n, TensorProto.{element}, s) "
        f"for n, s in {list(zip(names, shapes))[:graph_inputs]}]",
        f"node = helper.make_node('ConvTranspose', {names}, ['Y'], **{node_attributes(case)})",
        f"output = helper.make_tensor_value_info('Y', TensorProto.{element}, {[None] * (case.rank + 2)})",
    ]
    if constant_weights:
        arrays = "w, bias" if case.bias else "w"
        lines += [
            f"constants = [numpy_helper.from_array(a, n) for a, n in zip([{arrays}], {names[1:]})]",
            "graph = helper.make_graph([node], 'conv_transpose', inputs, [output], initializer=constants)",
        ]
    else:
        lines.append("graph = helper.make_graph([node], 'conv_transpose', inputs, [output])")
    feeds = "{'X': x}" if constant_weights else "{'X': x, 'W': w}" + (" | {'B': bias}" if case.bias else "")
    return lines + [
        f"model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', {opset})], ir_version={ir_version})",
        f"feeds = {feeds}",
    ]


def open_session(model: bytes, provider: str = "CPUExecutionProvider", optimization: str | None = None):
    """An onnxruntime session of a serialized model, quiet, with the suite's thread limit; ``optimization``: a
    GraphOptimizationLevel name (None: onnxruntime's default, ORT_ENABLE_ALL)."""
    import onnxruntime

    # Refusals come back as exceptions and are recorded; the same text on stderr is noise.
    onnxruntime.set_default_logger_severity(4)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = thread_limit() or 0  # 0: onnxruntime's default, one per core
    if optimization:
        options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, optimization)
    return onnxruntime.InferenceSession(model, options, providers=[provider])


def run_session(session, feeds: dict):
    """The session's first output for the feeds, quiet."""
    import onnxruntime

    quiet = onnxruntime.RunOptions()
    quiet.log_severity_level = 4
    return session.run(None, feeds, quiet)[0]


class OnnxRuntime:
    """One execution provider of onnxruntime; subclasses name the provider and the path: the optimization
    level, whether the weights are constants, and the opset."""

    framework = "onnxruntime"
    modes = (modes.EXPLICIT, "onnx")
    provider = "CPUExecutionProvider"
    capabilities = CAPABILITIES
    optimization = None  # a GraphOptimizationLevel name; None: onnxruntime's default (ORT_ENABLE_ALL)
    constant_weights = False
    opset = OPSET

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
            "opset": str(self.opset),
            "ir_version": str(OLD_IR_VERSION if self.opset == OLD_OPSET else IR_VERSION),
        }

    def precision(self) -> dict:
        return {
            "provider": self.provider,
            "graph_optimization_level": self.optimization or "ORT_ENABLE_ALL (default)",
            "weights": "constant initializers" if self.constant_weights else "graph inputs",
        }

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        model = build_model(case, (w, bias) if self.constant_weights else None, self.opset)
        with stage("construction"):  # a provider without a kernel for the dtype refuses here (NOT_IMPLEMENTED)
            session = open_session(model.SerializeToString(), self.provider, self.optimization)
        feeds = {"X": x} if self.constant_weights else _feeds(x, w, bias)
        with stage("call"):
            return run_session(session, feeds)

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        session = [f"session = onnxruntime.InferenceSession(model.SerializeToString(), providers=[{self.provider!r}])"]
        if self.optimization:
            session = [
                "options = onnxruntime.SessionOptions()",
                f"options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.{self.optimization}",
                "session = onnxruntime.InferenceSession(",
                f"    model.SerializeToString(), options, providers=[{self.provider!r}])",
            ]
        return "\n".join(
            input_lines(case)
            + _model_lines(case, self.constant_weights, self.opset)
            + ["import onnxruntime", *session, "y = session.run(None, feeds)[0]", "print(y.shape, y)"]
        )


class OnnxRuntimeCPU(OnnxRuntime):
    name = "onnxruntime"
    device = "cpu"
    provider = "CPUExecutionProvider"


class OnnxRuntimeCUDA(OnnxRuntime):
    name = "onnxruntime-cuda"
    device = "cuda"
    provider = "CUDAExecutionProvider"


class OnnxRuntimeOptimized(OnnxRuntimeCPU):
    """The model as an exporter writes it (W and B constant) with every graph optimization on: onnxruntime
    may then pre-pack the weights and change layouts (https://onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html)."""

    name = "onnxruntime-optimized"
    optimization = "ORT_ENABLE_ALL"
    constant_weights = True


class OnnxRuntimeUnoptimized(OnnxRuntimeOptimized):
    """The same model with every graph optimization off."""

    name = "onnxruntime-unoptimized"
    optimization = "ORT_DISABLE_ALL"


class OnnxRuntimeOpset11(OnnxRuntimeCPU):
    """The model at opset 11, as older exporters still write it (ConvTranspose-11 has no bfloat16)."""

    name = "onnxruntime-opset11"
    opset = OLD_OPSET
    capabilities = CAPABILITIES.but(
        source=_OPSET_11_SPEC, dtypes=("float64", "float32", "float16"), rejects=dict(CAPABILITIES.rejects)
    )


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
