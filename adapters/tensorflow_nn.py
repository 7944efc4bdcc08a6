"""TensorFlow: ``tf.nn.conv{1,2,3}d_transpose``, channels-last, through its two call paths.

Facts (TensorFlow docs, tf.nn.conv2d_transpose): the gradient of ``tf.nn.conv2d``; filter
``(*k, C_out, C_in)``; ``output_shape`` is required (N, *spatial, C_out); padding 'SAME', 'VALID' or,
for conv2d_transpose only, explicit ``[[0, 0], [top, bottom], [left, right], [0, 0]]`` forward-conv
pads; no output_padding argument (the output_shape carries it); no groups.

The two paths run different kernels on the CPU, so each is its own adapter: ``tf-nn`` passes the
padding strings (the tf modes, and explicit cases wherever 'SAME' or 'VALID' means the same pads);
``tf-nn-explicit-pads`` passes every 2-D case's pads as the explicit list.

Backward cases: ``tf.GradientTape`` over the same call (and bias_add), watching the canonical x, w and
bias; the layout moves are taped too (tf.transpose), so the gradients come back in the canonical layouts.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from adapters import stage
from adapters.capabilities import Capabilities, require, why_not
from adapters.layouts import channels_first, channels_last, spatial_out_in, spatial_out_in_axes
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

_DOCS = "https://www.tensorflow.org/api_docs/python/tf/nn/conv2d_transpose"
_SAME_VALID = Capabilities(
    source=_DOCS,
    groups=False,
    pads="modes",
    output_padding="none",
    data_format="channels_last",
    rejects={
        "undocumented_padding": f"{_DOCS} (padding: either the string 'SAME' or 'VALID', or explicit pads)",
        "tf_output_shape_range": f"{_DOCS} (not stated: it follows from the op being the gradient of conv2d, whose "
        "output lengths https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2 gives)",
    },
)
_EXPLICIT_PADS = _SAME_VALID.but(
    ranks=(2,),
    pads="pairs",
    pad_ranks=(2,),
    rejects={
        "negative_pad": "https://github.com/tensorflow/tensorflow/blob/master/tensorflow/core/util/padding.cc "
        "(CheckValidPadding: 'All elements of explicit_paddings must be nonnegative'; the docs are silent)",
        "weight_channels": f"{_DOCS} (filters: in_channels must match the input's; raises ValueError)",
    },
)


def tf_arguments(case: Case, explicit_pads: bool) -> tuple[object, tuple[int, ...]]:
    """tf.nn's padding argument and spatial output_shape for the case (the capability table refuses first
    what the path cannot express)."""
    mode = case.mode_spec
    if mode.framework == "tf":
        return mode.padding.upper(), mode.output_size
    size = case.geometry.output_size
    if explicit_pads:
        return [[0, 0], *[list(pair) for pair in case.padding], [0, 0]], size
    return modes.tf_string_equivalent(case).padding.upper(), size


# tf.transpose's permutations between the canonical (N, C, *spatial) and channels-last layouts, by rank.
_CHANNELS_LAST = {rank: (0, *range(2, 2 + rank), 1) for rank in (1, 2, 3)}
_CHANNELS_FIRST = {rank: (0, 1 + rank, *range(1, 1 + rank)) for rank in (1, 2, 3)}


@functools.cache
def _configured_tensorflow():
    """tensorflow with TF32 off, configured once per process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf


class TensorflowNN:
    """The padding strings: tf's 'SAME'/'VALID' modes, and explicit cases wherever one means their pads."""

    name = "tf-nn"
    framework = "tensorflow"
    device = "cpu"
    modes = (modes.EXPLICIT, "tf")
    capabilities = _SAME_VALID
    explicit_pads = False

    def _tf(self):
        return _configured_tensorflow()

    def availability(self) -> str | None:
        try:
            self._tf()
        except ImportError as error:
            return f"tensorflow is not importable: {error}"
        return None

    def versions(self) -> dict:
        return {"tensorflow": self._tf().__version__}

    def precision(self) -> dict:
        tf = self._tf()
        return {
            "tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled(),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
        }

    def _call(self, case: Case, x, kernel, bias):
        """The tf.nn call (and bias_add) on the channels-last input and the (*k, C_out, C_in) kernel."""
        padding, size = tf_arguments(case, self.explicit_pads)
        tf = self._tf()
        function = getattr(tf.nn, f"conv{case.rank}d_transpose")
        out = function(
            x,
            kernel,
            output_shape=[case.batch, *size, case.out_channels],
            strides=list(case.stride),
            padding=padding,
            dilations=list(case.dilation),
        )
        return out if bias is None else tf.nn.bias_add(out, bias)

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        tf = self._tf()
        with stage("call"):
            out = self._call(
                case,
                tf.constant(channels_last(x)),
                tf.constant(spatial_out_in(w)),
                None if bias is None else tf.constant(bias),
            )
        return channels_first(out.numpy())

    def run_backward(self, case: Case, x, w, bias, dy):
        """dx, dw, db of <dy, y> by tf.GradientTape through the forward's call."""
        require(self, case)
        tf = self._tf()
        rank = case.rank
        sources = [tf.constant(a) for a in (x, w, bias) if a is not None]
        with stage("call"):
            with tf.GradientTape() as tape:
                tape.watch(sources)
                out = self._call(
                    case,
                    tf.transpose(sources[0], _CHANNELS_LAST[rank]),
                    tf.transpose(sources[1], spatial_out_in_axes(rank)),
                    sources[2] if bias is not None else None,
                )
                y = tf.transpose(out, _CHANNELS_FIRST[rank])
            found = [g.numpy() for g in tape.gradient(y, sources, output_gradients=tf.constant(dy))]
        return found[0], found[1], found[2] if bias is not None else None

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        padding, size = tf_arguments(case, self.explicit_pads)
        rank = case.rank
        if case.direction == "backward":
            return self._backward_repro(case, padding, size)
        lines = input_lines(case) + [
            "import tensorflow as tf",
            f"y = tf.nn.conv{rank}d_transpose(",
            "    np.moveaxis(x, 1, -1),  # channels last",
            f"    np.transpose(w, {spatial_out_in_axes(rank)}),  # (*k, C_out, C_in)",
            f"    output_shape={[case.batch, *size, case.out_channels]}, strides={list(case.stride)},",
            f"    padding={padding!r}, dilations={list(case.dilation)})",
        ]
        if case.bias:
            lines.append("y = tf.nn.bias_add(y, bias)")
        lines += ["y = np.moveaxis(y.numpy(), -1, 1)  # back to (N, C_out, *spatial)", "print(y.shape, y)"]
        return "\n".join(lines)

    def _backward_repro(self, case: Case, padding, size) -> str:
        rank = case.rank
        sources = "[x, w, bias]" if case.bias else "[x, w]"
        lines = input_lines(case) + [
            "import tensorflow as tf",
            "x, w, dy = tf.constant(x), tf.constant(w), tf.constant(dy)",
        ]
        if case.bias:
            lines.append("bias = tf.constant(bias)")
        lines += [
            "with tf.GradientTape() as tape:",
            f"    tape.watch({sources})",
            f"    y = tf.nn.conv{rank}d_transpose(",
            f"        tf.transpose(x, {_CHANNELS_LAST[rank]}),  # channels last",
            f"        tf.transpose(w, {spatial_out_in_axes(rank)}),  # (*k, C_out, C_in)",
            f"        output_shape={[case.batch, *size, case.out_channels]}, strides={list(case.stride)},",
            f"        padding={padding!r}, dilations={list(case.dilation)})",
        ]
        if case.bias:
            lines.append("    y = tf.nn.bias_add(y, bias)")
        lines += [
            f"    y = tf.transpose(y, {_CHANNELS_FIRST[rank]})  # back to (N, C_out, *spatial)",
            ("dx, dw, db" if case.bias else "dx, dw") + f" = tape.gradient(y, {sources}, output_gradients=dy)",
            "print(dx.shape, dx, dw.shape, dw" + (", db)" if case.bias else ")"),
        ]
        return "\n".join(lines)


class TensorflowNNExplicitPads(TensorflowNN):
    """conv2d_transpose with the explicit pad list, for every 2-D explicit case."""

    name = "tf-nn-explicit-pads"
    modes = (modes.EXPLICIT,)
    capabilities = _EXPLICIT_PADS
    explicit_pads = True


class TensorflowNNXla(TensorflowNN):
    """The same tf.nn calls inside ``tf.function(jit_compile=True)``: XLA compiles them, and XLA's CPU
    convolution is not the eager kernel (TensorFlow docs, tf.function: jit_compile "compiles the function
    using XLA"; https://www.tensorflow.org/xla). One function per case: its sizes are Python constants."""

    name = "tf-nn-xla"

    def precision(self) -> dict:
        return {**super().precision(), "jit_compile": True}

    def _call(self, case: Case, x, kernel, bias):
        tf = self._tf()
        tf.get_logger().setLevel("ERROR")  # a function per case is by design: no retracing warnings
        eager = super()._call
        compiled = tf.function(lambda x, kernel, bias: eager(case, x, kernel, bias), jit_compile=True)
        return compiled(x, kernel, bias)

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        padding, size = tf_arguments(case, self.explicit_pads)
        rank = case.rank
        lines = input_lines(case) + [
            "import tensorflow as tf",
            "@tf.function(jit_compile=True)",
            "def conv(x, w, bias=None):",
            f"    y = tf.nn.conv{rank}d_transpose(",
            f"        x, w, output_shape={[case.batch, *size, case.out_channels]}, strides={list(case.stride)},",
            f"        padding={padding!r}, dilations={list(case.dilation)})",
            "    return y if bias is None else tf.nn.bias_add(y, bias)",
        ]
        arguments = "x, w, bias" if case.bias else "x, w"
        if case.direction == "forward":
            return "\n".join(
                lines
                + [
                    f"x, w = np.moveaxis(x, 1, -1), np.transpose(w, {spatial_out_in_axes(rank)})  # channels last",
                    f"y = np.moveaxis(conv({arguments}).numpy(), -1, 1)  # back to (N, C_out, *spatial)",
                    "print(y.shape, y)",
                ]
            )
        sources = f"[{arguments}]"
        return "\n".join(
            lines
            + [
                f"{arguments}, dy = "
                + ", ".join(f"tf.constant({a})" for a in arguments.split(", "))
                + ", tf.constant(dy)",
                "with tf.GradientTape() as tape:",
                f"    tape.watch({sources})",
                f"    y = conv(tf.transpose(x, {_CHANNELS_LAST[rank]}), tf.transpose(w, {spatial_out_in_axes(rank)})"
                + (", bias)" if case.bias else ")"),
                f"    y = tf.transpose(y, {_CHANNELS_FIRST[rank]})  # back to (N, C_out, *spatial)",
                f"grads = tape.gradient(y, {sources}, output_gradients=dy)",
                "print([g.shape for g in grads], grads)",
            ]
        )
