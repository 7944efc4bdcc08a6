"""Flax: the ``ConvTranspose`` layers users call, ``flax.linen.ConvTranspose`` and ``flax.nnx.ConvTranspose``,
each with ``transpose_kernel=False`` (the default) and ``transpose_kernel=True``; channels-last.

Facts, from Flax's documentation (``_LINEN_DOCS``, ``_NNX_DOCS``) and source (flax/linen/linear.py and
flax/nnx/nn/linear.py, 0.12.8):

- Both layers wrap ``jax.lax.conv_transpose`` ("Behaviour mirrors of ``jax.lax.conv_transpose``") with its
  default dimension numbers: input ``(N, *spatial, C_in)``, output ``(N, *spatial, C_out)``.
- The kernel is ``(*kernel_size, in_features, features)`` with ``transpose_kernel=False``, used as the
  kernel of a convolution over the stride-dilated input (not flipped): the canonical weight
  ``(C_in, C_out, *k)`` goes in as ``(*k, C_in, C_out)`` with its spatial axes flipped. With
  ``transpose_kernel=True`` ("flips spatial axes and swaps the input/output channel axes of the kernel")
  the kernel is ``(*kernel_size, features, in_features)``: the canonical weight goes in as
  ``(*k, C_out, C_in)``, unflipped (as the ``jax`` adapter's ``transpose_kernel=True`` kernel).
- ``kernel_dilation`` is lax's ``rhs_dilation``; ``use_bias`` adds ``bias`` (shape ``(features,)``) after
  the convolution; ``dtype`` (the computation) and ``param_dtype`` are set to the case's dtype;
  ``precision`` is set to ``lax.Precision.HIGHEST`` (as the ``jax`` adapter does).
- No ``feature_group_count`` (groups) and no ``output_padding`` argument: neither layer has them in
  0.12.8, nor on Flax's main branch (July 2026); only ``Conv`` has ``feature_group_count``.
- ``padding``: Flax passes it to ``lax.conv_transpose`` without ``use_consistent_padding`` (whose default,
  False, reads integer pairs as the pads of the transposed convolution, i.e. of the stride-dilated input,
  and the strings as the forward convolution's padding). 'CIRCULAR' is Flax's own (lax gets 'VALID', then
  the output is wrapped periodically); it is not asked here (no mode family means it).

What the two documentations say ``padding`` means, and the modes each adapter is given:

- linen (``_LINEN_DOCS``): "either the string 'SAME', the string 'VALID', the string 'CIRCULAR' (periodic
  boundary conditions), or a sequence of n (low, high) integer pairs that give the padding to apply
  before and after each spatial dimension"; the strings are not defined further, and the layer's
  ``__call__`` says its behaviour mirrors ``jax.lax.conv_transpose``. So the linen adapters speak the
  ``jax`` mode family ('SAME', 'VALID', and explicit pads as lax's transposed-convolution pads:
  ``jax_legacy``), and explicit cases go in as those pairs: ``(ke - 1 - begin, ke - 1 - end + op)``.
- nnx (``_NNX_DOCS``, since google/flax#4990): the pairs are the same ("if you want a ConvTranspose
  layer to invert the shape change produced by a Conv layer ... pass dilation * (kernel_size - 1) -
  padding"), but the strings are defined differently from lax's: "``VALID`` adds
  ``dilation * (kernel_size - 1)`` padding to all dimensions" (the full output, (n - 1) * s + ke, where
  lax's 'VALID' gives n * s + max(ke - s, 0)) and "``SAME`` pads the input so that the output shape is the
  same as the input shape" (n, where lax's 'SAME' gives n * s); also 'CIRCULAR' and 'CAUSAL'. The mode
  family ``nnx`` (``conformance.modes``) encodes 'SAME' and 'VALID' as documented, so the results show
  what nnx computes (see the register); explicit cases go in as the documented pairs.

Must-reject rules: 'SAME_LOWER' (``jax_same_lower``) is a padding neither layer documents (linen); a
weight whose input channels differ from the input's breaks the layer's kernel shape, which linen checks
(``flax.errors.ScopeParamShapeError``) and lax checks for nnx (``_GENERAL``).

Every case runs through one jitted function per (argument shapes, parameters), its compiled program kept
on disk beside the ``jax`` adapter's (``adapters.jax_lax.CACHE_DIR``), with that adapter's XLA flags and
configuration (``adapters.jax_lax._configured_jax``). Backward cases: ``jax.vjp`` of the same layer call as
a function of the canonical x, w and bias, the layout moves inside, as the ``jax`` adapter does.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from adapters import jax_lax, stage
from adapters.capabilities import Capabilities, require, why_not
from adapters.jax_lax import _configured_jax, _identity, stored_executable
from adapters.layouts import channels_first, channels_last
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

_LINEN_DOCS = "https://flax.readthedocs.io/en/latest/api_reference/flax.linen/layers.html#flax.linen.ConvTranspose"
_NNX_DOCS = "https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/linear.html#flax.nnx.ConvTranspose"
_ERRORS = "https://flax.readthedocs.io/en/latest/api_reference/flax.errors.html#flax.errors.ScopeParamShapeError"
_GENERAL = "https://docs.jax.dev/en/latest/_autosummary/jax.lax.conv_general_dilated.html"

# Both layers (each documented at its source): no feature_group_count, no output_padding (an end pad
# carries it), explicit pads as the documented (low, high) pairs.
_COMMON = dict(groups=False, groups_with_modes=False, output_padding="none", data_format="channels_last")
LINEN_CAPABILITIES = Capabilities(
    source=_LINEN_DOCS,
    rejects={
        "undocumented_padding": f"{_LINEN_DOCS} (padding: 'SAME', 'VALID', 'CIRCULAR', or n (low, high) pairs)",
        "weight_channels": f"{_ERRORS} (the kernel's shape is (*kernel_size, in_features, features))",
    },
    **_COMMON,
)
NNX_CAPABILITIES = Capabilities(
    source=_NNX_DOCS,
    rejects={
        "weight_channels": f"{_NNX_DOCS} (in_features) and {_GENERAL} (rhs input features equal the lhs features)",
    },
    **_COMMON,
)


def _effective(case: Case) -> tuple[int, ...]:
    return tuple(d * (k - 1) + 1 for k, d in zip(case.kernel, case.dilation))


def flax_padding(case: Case):
    """The ``padding`` argument the layer is given: a lax string of the jax family as written (documented
    or not), else the case's pads as the documented (low, high) pairs of the stride-dilated input."""
    mode = case.mode_spec
    if mode.framework in ("jax", "nnx") and mode.padding != "legacy":
        return mode.padding.upper()
    return tuple(
        (ke - 1 - b, ke - 1 - e + op) for ke, (b, e), op in zip(_effective(case), case.padding, case.output_padding)
    )


def kernel_axes(rank: int, transpose_kernel: bool) -> tuple[int, ...]:
    """The transpose axes taking the canonical (C_in, C_out, *k) to the layer's kernel layout:
    (*k, C_in, C_out) (then flipped) or, under transpose_kernel, (*k, C_out, C_in)."""
    spatial = tuple(range(2, 2 + rank))
    return (*spatial, 1, 0) if transpose_kernel else (*spatial, 0, 1)


def layer_kernel(w, transpose_kernel: bool, xp=np):
    """The canonical weight as the layer's kernel: with transpose_kernel=False the layer convolves the
    stride-dilated input with its kernel as is, so the kernel is the weight spatially flipped; with
    transpose_kernel=True the layer flips it and swaps its channel axes itself. ``xp`` is numpy, or
    jax.numpy inside a differentiated function."""
    rank = w.ndim - 2
    moved = xp.transpose(w, kernel_axes(rank, transpose_kernel))
    return moved if transpose_kernel else xp.flip(moved, axis=tuple(range(rank)))


def _features(kernel_shape, transpose_kernel: bool) -> tuple[int, int]:
    """(in_features, out_features) of a layer kernel's shape."""
    return (kernel_shape[-1], kernel_shape[-2]) if transpose_kernel else (kernel_shape[-2], kernel_shape[-1])


@functools.cache
def _compiled(api: str, backward: bool):
    """The jitted function: the layer of ``api`` ("linen" or "nnx") on channels-last x and its kernel, or
    (backward) the VJP of that call as a function of the canonical x, w and bias."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def linen(x, kernel, bias, *, strides, padding, dilation, transpose_kernel, dtype):
        import flax.linen as nn

        _, features = _features(kernel.shape, transpose_kernel)
        with stage("construction"):
            layer = nn.ConvTranspose(
                features=features,
                kernel_size=tuple(kernel.shape[:-2]),
                strides=strides,
                padding=padding,
                kernel_dilation=dilation,
                use_bias=bias is not None,
                dtype=jnp.dtype(dtype),
                param_dtype=jnp.dtype(dtype),
                precision=lax.Precision.HIGHEST,
                transpose_kernel=transpose_kernel,
            )
        params = {"kernel": kernel} if bias is None else {"kernel": kernel, "bias": bias}
        with stage("call"):
            return layer.apply({"params": params}, x)

    def nnx(x, kernel, bias, *, strides, padding, dilation, transpose_kernel, dtype):
        from flax import nnx

        in_features, out_features = _features(kernel.shape, transpose_kernel)
        with stage("construction"):
            layer = nnx.ConvTranspose(
                in_features,
                out_features,
                tuple(kernel.shape[:-2]),
                strides,
                padding=padding,
                kernel_dilation=dilation,
                use_bias=bias is not None,
                dtype=jnp.dtype(dtype),
                param_dtype=jnp.dtype(dtype),
                precision=lax.Precision.HIGHEST,
                transpose_kernel=transpose_kernel,
                rngs=nnx.Rngs(0),
            )
            layer.kernel[...] = kernel  # the Params' documented setter (``.value =`` is deprecated)
            if bias is not None:
                layer.bias[...] = bias
        with stage("call"):
            return layer(x)

    forward = {"linen": linen, "nnx": nnx}[api]
    static = ("strides", "padding", "dilation", "transpose_kernel", "dtype")
    if not backward:
        return jax.jit(forward, static_argnames=static)

    def vjp(x, w, bias, dy, **arguments):
        # The layout moves are inside the differentiated function: dx, dw, db come back canonical.
        def canonical(x, w, bias):
            kernel = layer_kernel(w, arguments["transpose_kernel"], jnp)
            return jnp.moveaxis(forward(jnp.moveaxis(x, 1, -1), kernel, bias, **arguments), -1, 1)

        _, pullback = jax.vjp(canonical, x, w, bias)
        return pullback(dy)

    return jax.jit(vjp, static_argnames=static)


@functools.cache
def _flax_identity() -> str:
    """What a compiled program depends on beyond the jax adapter's identity: flax and this module."""
    import flax

    return hashlib.sha256(
        "\n".join([_identity(), flax.__version__, Path(__file__).read_text(encoding="utf-8")]).encode()
    ).hexdigest()


def _executable(api: str, backward: bool, device, arguments: tuple, static: dict):
    """The compiled program for these argument shapes and parameters, kept on disk beside the ``jax``
    adapter's (``adapters.jax_lax.stored_executable``)."""
    return stored_executable(
        (_flax_identity(), api, backward, str(device)),
        arguments,
        static,
        lambda: _compiled(api, backward).lower(*arguments, **static).compile(),
        prefix="flax-",
    )


class _FlaxConvTranspose:
    framework = "flax"
    device = "cpu"
    api = "linen"
    transpose_kernel = False

    def _jax(self):
        return _configured_jax(self.device)

    def availability(self) -> str | None:
        try:
            self._jax()
            import flax  # noqa: F401
            from flax import linen, nnx  # noqa: F401
        except ImportError as error:
            return f"flax is not importable: {error}"
        return None

    def versions(self) -> dict:
        jax = self._jax()
        import flax
        import jaxlib

        return {"flax": flax.__version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__}

    def precision(self) -> dict:
        jax = self._jax()
        return {
            "precision": "lax.Precision.HIGHEST",
            "jax_enable_x64": bool(jax.config.jax_enable_x64),
            "transpose_kernel": self.transpose_kernel,
            "dtype": "the case's dtype (dtype and param_dtype)",
            "compilation_cache": str(jax_lax.CACHE_DIR / "executables"),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }

    def _static(self, case: Case) -> dict:
        return dict(
            strides=case.stride,
            padding=flax_padding(case),
            dilation=case.dilation,
            transpose_kernel=self.transpose_kernel,
            dtype=case.dtype,
        )

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        jax = self._jax()
        device = jax.devices(self.device)[0]
        put = functools.partial(jax.device_put, device=device)
        kernel = np.ascontiguousarray(layer_kernel(w, self.transpose_kernel))
        inputs = (put(channels_last(x)), put(kernel), None if bias is None else put(bias))
        with stage("call"):
            out = _executable(self.api, False, device, inputs, self._static(case))(*inputs)
        return channels_first(np.asarray(out))

    def run_backward(self, case: Case, x, w, bias, dy):
        """dx, dw, db of <dy, y> by jax.vjp through the layer's call (see _compiled)."""
        require(self, case)
        jax = self._jax()
        device = jax.devices(self.device)[0]
        inputs = tuple(None if a is None else jax.device_put(a, device) for a in (x, w, bias, dy))
        with stage("call"):
            found = _executable(self.api, True, device, inputs, self._static(case))(*inputs)
        dx, dw, db = (None if g is None else np.asarray(g) for g in found)
        return dx, dw, db

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        lines = input_lines(case) + [
            "import jax",
            "jax.config.update('jax_enable_x64', True)",
            "import jax.numpy as jnp",
            "from jax import lax",
            "import flax.linen as nn" if self.api == "linen" else "from flax import nnx",
        ]
        backward = case.direction == "backward"
        xp = "jnp" if backward else "np"
        body = [f"kernel = {xp}.transpose(w, {kernel_axes(case.rank, self.transpose_kernel)})"]
        if self.transpose_kernel:
            body[0] += "  # (*k, C_out, C_in): the layer flips it and swaps its channel axes"
        else:
            body.append(f"kernel = {xp}.flip(kernel, axis={tuple(range(case.rank))})  # (*k, C_in, C_out), flipped")
        body += self._layer_lines(case)
        body.append(f"y = {xp}.moveaxis({'' if backward else 'np.asarray('}y{'' if backward else ')'}, -1, 1)")
        if backward:
            lines += [
                "",
                "",
                "def f(x, w, bias):",
                "    xs = jnp.moveaxis(x, 1, -1)  # channels last",
                *[f"    {line}" for line in body],
                "    return y  # (N, C_out, *spatial)",
                "",
                "",
                "y, pullback = jax.vjp(f, x, w, bias)",
                "dx, dw, db = pullback(dy)  # db is None without a bias",
                "print(dx.shape, dx, dw.shape, dw, db)",
            ]
        else:
            lines += ["xs = np.moveaxis(x, 1, -1)  # channels last", *body, "print(y.shape, y)"]
        return "\n".join(lines)

    def _layer_lines(self, case: Case) -> list[str]:
        common = (
            f"padding={flax_padding(case)!r}, kernel_dilation={case.dilation}, use_bias={case.bias},\n"
            f"    dtype=jnp.{case.dtype}, param_dtype=jnp.{case.dtype}, precision=lax.Precision.HIGHEST, "
            f"transpose_kernel={self.transpose_kernel}"
        )
        if self.api == "linen":
            params = "{'kernel': kernel, 'bias': bias}" if case.bias else "{'kernel': kernel}"
            return [
                f"layer = nn.ConvTranspose(features={case.out_channels}, kernel_size={case.kernel}, "
                f"strides={case.stride},\n    {common})",
                f"y = layer.apply({{'params': {params}}}, xs)",
            ]
        lines = [
            f"layer = nnx.ConvTranspose({case.weight_shape[0]}, {case.out_channels}, {case.kernel}, {case.stride},\n"
            f"    {common}, rngs=nnx.Rngs(0))",
            "layer.kernel[...] = kernel",
        ]
        if case.bias:
            lines.append("layer.bias[...] = bias")
        return lines + ["y = layer(xs)"]


class FlaxLinen(_FlaxConvTranspose):
    name = "flax-linen"
    modes = (modes.EXPLICIT, "jax")
    capabilities = LINEN_CAPABILITIES


class FlaxLinenTransposeKernel(FlaxLinen):
    name = "flax-linen-transpose-kernel"
    transpose_kernel = True


class FlaxNNX(_FlaxConvTranspose):
    name = "flax-nnx"
    api = "nnx"
    modes = (modes.EXPLICIT, "nnx")  # its strings as its own docs define them (conformance.modes, nnx_*)
    capabilities = NNX_CAPABILITIES


class FlaxNNXTransposeKernel(FlaxNNX):
    name = "flax-nnx-transpose-kernel"
    transpose_kernel = True
