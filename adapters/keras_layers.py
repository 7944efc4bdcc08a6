"""Keras 3: ``keras.layers.Conv{1,2,3}DTranspose`` on each backend (one adapter per backend and
data format).

Facts (Keras docs, Conv2DTranspose): kernel ``(*k, C_out, C_in)``; padding 'same' or 'valid' only;
output_padding None (inferred) or one int per axis below the stride; no groups; ``strides > 1`` is
incompatible with ``dilation_rate > 1``. KERAS_BACKEND is read once, when keras is first imported,
so each backend runs in its own worker process; this module imports keras only inside the adapter.
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np

from adapters import Unsupported, stage
from adapters.capabilities import Capabilities, require, why_not
from adapters.layouts import channels_first, channels_last, spatial_out_in, spatial_out_in_axes
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

_DOCS = "https://keras.io/api/layers/convolution_layers/convolution2d_transpose/"
# Kernel (*k, C_out, C_in); padding 'same' or 'valid'; output_padding None or below the stride; no groups;
# strides > 1 with dilation_rate > 1 refused.
CAPABILITIES = Capabilities(
    source=_DOCS,
    groups=False,
    pads="modes",
    output_padding="stride",
    strided_dilation=False,
    data_format="channels_last",
    rejects={
        "output_padding_at_bound": f"{_DOCS} (output_padding: must be lower than the stride)",
        "undocumented_padding": f"{_DOCS} (padding: one of 'valid' or 'same')",
    },
)

_CHANNELS_FIRST = CAPABILITIES.but(data_format="channels_first")


def keras_arguments(case: Case) -> tuple[str, tuple[int, ...] | None]:
    """Keras's (padding, output_padding) for the case (the capability table refuses what none means)."""
    mode = case.mode_spec
    if mode.framework == "keras":
        return mode.padding, mode.output_padding
    found = modes.keras_equivalent(case)
    if found is None and case.violates and not any(p for pair in case.padding for p in pair):
        # A must-reject case asked as written ('valid' and the invalid output_padding): Keras's own check
        # must refuse it. Before, this failed inside the adapter and counted as Keras's refusal.
        return "valid", case.output_padding
    if found is None:
        raise Unsupported(
            f"no Keras padding setting means padding {case.padding}, output_padding {case.output_padding}"
        )
    return found.padding, found.output_padding


@functools.cache
def _configured_keras(backend: str):
    """keras on this backend, configured once per process (KERAS_BACKEND is read at the first import)."""
    os.environ["KERAS_BACKEND"] = backend
    if backend == "jax":
        from adapters.jax_lax import quick_compiles

        os.environ["JAX_ENABLE_X64"] = "1"  # else jax silently computes float64 layers in float32
        quick_compiles()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(
            f"keras was already imported with backend {keras.backend.backend()!r} in this process; "
            f"this adapter needs {backend!r} (run each Keras backend in its own process)"
        )
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    if backend == "jax":
        import jax

        from adapters.jax_lax import configure

        configure(jax)
    return keras


def canonical_weight(kernel: np.ndarray) -> np.ndarray:
    """A Keras kernel (*k, C_out, C_in) back as the canonical (C_in, C_out, *k): the inverse of the move
    the forward makes (``spatial_out_in``)."""
    return np.ascontiguousarray(np.transpose(kernel, _canonical_axes(kernel.ndim - 2)))


def _canonical_axes(rank: int) -> tuple[int, ...]:
    return tuple(int(axis) for axis in np.argsort(spatial_out_in_axes(rank)))


# Each backend's gradients of <dy, y> through one layer call, with respect to the input, the kernel and the
# bias (None without one), as that backend's tensors; inputs and dy are its tensors in the layer's data format.


def _tensorflow_gradients(layer, inputs, dy):
    import tensorflow as tf

    # The tf.Variables under the Keras variables: the tape watches those (it refuses a Keras variable).
    variables = [layer.kernel.value] + ([layer.bias.value] if layer.bias is not None else [])
    with tf.GradientTape() as tape:
        tape.watch([inputs, *variables])
        y = layer(inputs)
    dx, dkernel, *dbias = tape.gradient(y, [inputs, *variables], output_gradients=dy)
    return dx, dkernel, dbias[0] if dbias else None


def _jax_gradients(layer, inputs, dy):
    import jax

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def call(inputs, trainable):
        return layer.stateless_call(trainable, non_trainable, inputs)[0]

    _, vjp = jax.vjp(call, inputs, trainable)
    dx, dvariables = vjp(dy)
    # stateless_call takes the variables in layer.trainable_variables's order: pick the kernel's and bias's out.
    by_variable = {id(v): g for v, g in zip(layer.trainable_variables, dvariables)}
    return dx, by_variable[id(layer.kernel)], by_variable[id(layer.bias)] if layer.bias is not None else None


def _torch_gradients(layer, inputs, dy):
    import torch

    inputs.requires_grad_()
    # On the torch backend a Keras variable's value is a torch Parameter that the layer call reads.
    variables = [layer.kernel.value] + ([layer.bias.value] if layer.bias is not None else [])
    y = layer(inputs)
    dx, dkernel, *dbias = torch.autograd.grad(y, [inputs, *variables], grad_outputs=dy)
    return dx, dkernel, dbias[0] if dbias else None


class Keras:
    """One Keras backend; subclasses name it. Its data format is its capability table's."""

    framework = "keras"
    device = "cpu"
    backend = ""
    modes = (modes.EXPLICIT, "keras")
    capabilities = CAPABILITIES

    @property
    def data_format(self) -> str:
        return self.capabilities.data_format

    def _keras(self):
        return _configured_keras(self.backend)

    def availability(self) -> str | None:
        if "keras" in sys.modules and sys.modules["keras"].backend.backend() != self.backend:
            return f"keras is already loaded with another backend in this process; {self.name} needs its own"
        try:
            self._keras()
        except ImportError as error:
            return f"keras with the {self.backend} backend is not importable: {error}"
        return None

    def versions(self) -> dict:
        keras = self._keras()
        backend = __import__(self.backend)
        return {"keras": keras.__version__, self.backend: backend.__version__}

    def precision(self) -> dict:
        keras = self._keras()
        found = {"backend": keras.backend.backend(), "data_format": self.data_format}
        if self.backend == "tensorflow":
            import tensorflow as tf

            found["tensor_float_32_execution"] = tf.config.experimental.tensor_float_32_execution_enabled()
            found["onednn_opts"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")
        if self.backend == "jax":
            import jax

            found["jax_enable_x64"] = bool(jax.config.jax_enable_x64)
            found["compilation_cache"] = str(jax.config.jax_compilation_cache_dir)
            found["xla_flags"] = os.environ.get("XLA_FLAGS", "")
        return found

    def _layer_arguments(self, case: Case) -> dict:
        padding, output_padding = keras_arguments(case)
        return dict(
            filters=case.out_channels,
            kernel_size=case.kernel,
            strides=case.stride,
            padding=padding,
            output_padding=output_padding,
            data_format=self.data_format,
            dilation_rate=case.dilation,
            use_bias=case.bias,
            dtype=case.dtype,
        )

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        return channels_last(x) if self.data_format == "channels_last" else x

    def _canonical(self, y: np.ndarray) -> np.ndarray:
        """An array in the layer's data format back as (N, C, *spatial)."""
        return channels_first(y) if self.data_format == "channels_last" else y

    def _layer(self, case: Case, inputs: np.ndarray, w, bias):
        """The case's Conv{1,2,3}DTranspose, built for these inputs, holding the case's weights."""
        keras = self._keras()
        with stage("construction"):
            layer = getattr(keras.layers, f"Conv{case.rank}DTranspose")(**self._layer_arguments(case))
            layer.build(inputs.shape)
        layer.kernel.assign(spatial_out_in(w))
        if bias is not None:
            layer.bias.assign(bias)
        return layer

    def model(self, case: Case, inputs: np.ndarray, w, bias):
        """The layer as users export it: a functional model on a ``keras.Input`` with the batch left free."""
        keras = self._keras()
        layer = self._layer(case, inputs, w, bias)
        with stage("construction"):
            tensor = keras.Input(shape=inputs.shape[1:], dtype=case.dtype, name="x")
            return keras.Model(tensor, layer(tensor))

    def model_lines(self, case: Case) -> list[str]:
        """The repro's lines building ``model`` (and ``inputs``, the layer's input) as ``model`` does."""
        lines = self.repro(case).splitlines()
        built = lines[: lines.index("y = keras.ops.convert_to_numpy(layer(inputs))")]
        return built + [
            f"tensor = keras.Input(shape=inputs.shape[1:], dtype={case.dtype!r}, name='x')",
            "model = keras.Model(tensor, layer(tensor))",
        ]

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        keras = self._keras()
        inputs = self._inputs(x)
        layer = self._layer(case, inputs, w, bias)
        with stage("call"):
            out = keras.ops.convert_to_numpy(layer(inputs))
        return self._canonical(out)

    def run_backward(self, case: Case, x, w, bias, dy):
        """dx, dw, db of <dy, y> by the backend's own differentiation of the layer call."""
        require(self, case)
        keras = self._keras()
        inputs = self._inputs(x)
        layer = self._layer(case, inputs, w, bias)
        differentiate = {"tensorflow": _tensorflow_gradients, "jax": _jax_gradients, "torch": _torch_gradients}
        tensor = functools.partial(keras.ops.convert_to_tensor, dtype=case.dtype)
        with stage("call"):
            tensors = differentiate[self.backend](layer, tensor(inputs), tensor(self._inputs(dy)))
        dx, dkernel, dbias = (None if g is None else keras.ops.convert_to_numpy(g) for g in tensors)
        return self._canonical(dx), canonical_weight(dkernel), dbias

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        arguments = self._layer_arguments(case)
        rank = case.rank
        # Contiguous, as the adapter's arrays are: torch sums a strided tensor in another order (db's last bit).
        move_in = "np.ascontiguousarray(np.moveaxis(x, 1, -1))" if self.data_format == "channels_last" else "x"
        move_out = "np.moveaxis(y, -1, 1)" if self.data_format == "channels_last" else "y"
        lines = input_lines(case) + [
            "import os",
            f"os.environ['KERAS_BACKEND'] = {self.backend!r}",
        ]
        if self.backend == "jax":
            lines.append("os.environ['JAX_ENABLE_X64'] = '1'")
        lines += [
            "import keras",
            f"layer = keras.layers.Conv{rank}DTranspose(**{arguments!r})",
            f"inputs = {move_in}",
            "layer.build(inputs.shape)",
            f"layer.kernel.assign(np.transpose(w, {spatial_out_in_axes(rank)}))  # (*k, C_out, C_in)",
        ]
        if case.bias:
            lines.append("layer.bias.assign(bias)")
        if case.direction == "backward":
            return "\n".join(lines + self._backward_lines(case))
        lines += [
            "y = keras.ops.convert_to_numpy(layer(inputs))",
            f"y = {move_out}  # back to (N, C_out, *spatial)",
            "print(y.shape, y)",
        ]
        return "\n".join(lines)

    def _backward_lines(self, case: Case) -> list[str]:
        """The repro's gradients of <dy, y>, after the layer is set up as the forward's repro sets it up."""
        move_dy = "np.ascontiguousarray(np.moveaxis(dy, 1, -1))" if self.data_format == "channels_last" else "dy"
        values = "[layer.kernel.value, layer.bias.value]" if case.bias else "[layer.kernel.value]"
        lines = [
            f"inputs = keras.ops.convert_to_tensor(inputs, dtype={case.dtype!r})",
            f"upstream = keras.ops.convert_to_tensor({move_dy}, dtype={case.dtype!r})",
        ]
        if self.backend == "tensorflow":
            lines += [
                "import tensorflow as tf",
                f"variables = {values}  # the tf.Variables under the Keras variables",
                "with tf.GradientTape() as tape:",
                "    tape.watch([inputs, *variables])",
                "    y = layer(inputs)",
                "grads = tape.gradient(y, [inputs, *variables], output_gradients=upstream)",
            ]
        elif self.backend == "jax":
            lines += [
                "import jax",
                "non_trainable = [v.value for v in layer.non_trainable_variables]",
                "call = lambda inputs, trainable: layer.stateless_call(trainable, non_trainable, inputs)[0]",
                "y, vjp = jax.vjp(call, inputs, [v.value for v in layer.trainable_variables])",
                "dx, dvariables = vjp(upstream)",
                "grads = [dx, *dvariables]  # layer.trainable_variables: the kernel, then the bias",
            ]
        else:
            lines += [
                "import torch",
                "inputs.requires_grad_()",
                f"variables = {values}  # torch Parameters",
                "y = layer(inputs)",
                "grads = torch.autograd.grad(y, [inputs, *variables], grad_outputs=upstream)",
            ]
        lines += [
            "grads = [keras.ops.convert_to_numpy(g) for g in grads]",
            "dx, dw, db = grads" if case.bias else "dx, dw, db = *grads, None",
        ]
        if self.data_format == "channels_last":
            lines.append("dx = np.moveaxis(dx, -1, 1)  # back to (N, C_in, *spatial)")
        lines += [
            f"dw = np.transpose(dw, {_canonical_axes(case.rank)})  # back to (C_in, C_out, *k)",
            "print(dx.shape, dx, dw.shape, dw, db)",
        ]
        return lines


class KerasTensorflow(Keras):
    name = "keras-tensorflow"
    backend = "tensorflow"


class KerasJax(Keras):
    name = "keras-jax"
    backend = "jax"


class KerasTorch(Keras):
    name = "keras-torch"
    backend = "torch"


class KerasTensorflowChannelsFirst(KerasTensorflow):
    name = "keras-tensorflow-channels-first"
    capabilities = _CHANNELS_FIRST


class KerasJaxChannelsFirst(KerasJax):
    name = "keras-jax-channels-first"
    capabilities = _CHANNELS_FIRST


class KerasTorchChannelsFirst(KerasTorch):
    name = "keras-torch-channels-first"
    capabilities = _CHANNELS_FIRST
