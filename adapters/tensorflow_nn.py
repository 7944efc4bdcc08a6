"""TensorFlow: ``tf.nn.conv{1,2,3}d_transpose``, channels-last.

Facts (TensorFlow docs, tf.nn.conv2d_transpose): the gradient of ``tf.nn.conv2d``; filter
``(*k, C_out, C_in)``; ``output_shape`` is required (N, *spatial, C_out); padding 'SAME', 'VALID' or,
for conv2d_transpose only, explicit ``[[0, 0], [top, bottom], [left, right], [0, 0]]`` forward-conv
pads; no output_padding argument (the output_shape carries it); no groups.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from adapters import Unsupported
from adapters.layouts import channels_first, channels_last, spatial_out_in, spatial_out_in_axes
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

FACTS = {
    "filter_layout": "(*kernel, C_out, C_in)",
    "data_format": "channels last (NWC, NHWC, NDHWC)",
    "explicit_padding_ranks": (2,),
    "output_padding": "none; the output_shape argument sets the output length",
    "groups": "not supported",
}


def tf_arguments(case: Case) -> tuple[object, tuple[int, ...]]:
    """tf.nn's padding argument and spatial output_shape for the case, or Unsupported."""
    if case.groups > 1:
        raise Unsupported(f"tf.nn.conv{case.rank}d_transpose has no groups argument (groups={case.groups})")
    mode = case.mode_spec
    size = case.geometry.output_size
    if mode.framework == "tf":
        return mode.padding.upper(), mode.output_size
    if case.rank in FACTS["explicit_padding_ranks"]:
        return [[0, 0], *[list(pair) for pair in case.padding], [0, 0]], size
    found = modes.tf_string_equivalent(case)
    if found is None:
        raise Unsupported(
            f"tf.nn.conv{case.rank}d_transpose takes only 'SAME' or 'VALID' (explicit pads are conv2d_transpose's "
            f"alone); neither means pads {case.padding} with output_padding {case.output_padding} here"
        )
    return found.padding.upper(), size


@functools.cache
def _configured_tensorflow():
    """tensorflow with TF32 off, configured once per process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf


class TensorflowNN:
    name = "tf-nn"
    framework = "tensorflow"
    device = "cpu"
    modes = (modes.EXPLICIT, "tf")

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

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        padding, size = tf_arguments(case)
        tf = self._tf()
        function = getattr(tf.nn, f"conv{case.rank}d_transpose")
        out = function(
            tf.constant(channels_last(x)),
            tf.constant(spatial_out_in(w)),
            output_shape=[case.batch, *size, case.out_channels],
            strides=list(case.stride),
            padding=padding,
            dilations=list(case.dilation),
        )
        if bias is not None:
            out = tf.nn.bias_add(out, tf.constant(bias))
        return channels_first(out.numpy())

    def repro(self, case: Case) -> str:
        try:
            padding, size = tf_arguments(case)
        except Unsupported as unsupported:
            return f"# not expressible in tf.nn: {unsupported}"
        rank = case.rank
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
