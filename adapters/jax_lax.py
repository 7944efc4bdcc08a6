"""JAX: ``jax.lax.conv_transpose`` (groups through ``jax.lax.conv_general_dilated``), channels-last.

Facts (JAX docs, jax.lax.conv_transpose): default dimension numbers NHWC / HWIO / NHWC;
``transpose_kernel=True`` flips the kernel's spatial axes and swaps its I/O axes, so the canonical
weight goes in as ``(*k, C_out, C_in)``; padding 'SAME', 'VALID' or per-axis pairs, which mean the
forward convolution's pads under ``use_consistent_padding=True`` and the pads of the stride-dilated
input under ``use_consistent_padding=False`` (the default); no output_padding argument and no
feature_group_count. Both flags are set explicitly on every call and stated in the repro.

JAX compiles once per shape and parameters: every call goes through one ``jax.jit`` function (cases
that share shapes share a compilation), and the compiled programs persist in a project-local cache
folder (see ``_executable``).

Backward cases: ``jax.vjp`` of the same call (and bias) as a function of the canonical x, w and bias, the
layout moves done inside with jax.numpy so the gradients come back in the canonical layouts, jitted and
cached as the forward is.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

from adapters import stage
from adapters.capabilities import Capabilities, require, why_not
from adapters.layouts import channels_first, channels_last, spatial_out_in, spatial_out_in_axes
from adapters.snippets import input_lines
from conformance import modes
from conformance.case import Case

CACHE_DIR = Path(os.environ.get("CONFORMANCE_JAX_CACHE", Path(__file__).resolve().parent.parent / ".cache" / "jax"))
_SPECS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}

_DOCS = "https://docs.jax.dev/en/latest/_autosummary/jax.lax.conv_transpose.html"
_GENERAL = "https://docs.jax.dev/en/latest/_autosummary/jax.lax.conv_general_dilated.html"
# Explicit pads under use_consistent_padding=True are forward-conv pads (begin, end); under False the pads
# of the dilated input (ke - 1 - begin, ke - 1 - end). No output_padding: it becomes a smaller end pad
# (negative past the full output), which lax allows. Groups: conv_general_dilated with lhs_dilation and
# feature_group_count, which takes explicit pads only.
CAPABILITIES = Capabilities(
    source=_DOCS,
    output_padding="none",
    groups_with_modes=False,
    data_format="channels_last",
    rejects={
        "undocumented_padding": f"{_DOCS} (padding: 'SAME', 'VALID', or a sequence of n integer pairs)",
        "groups_not_dividing": f"{_GENERAL} (feature_group_count: lhs features must be a multiple of it)",
        "weight_channels": f"{_GENERAL} (rhs input features times feature_group_count equal the lhs features)",
    },
)


# Every case is a new small program, and XLA's default optimization costs about 4x more to compile one
# (185 ms against 41 ms per 1-D shape, measured here); the flags are recorded in each envelope and
# a user's own XLA_FLAGS win.
QUICK_COMPILES = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def quick_compiles() -> None:
    """Before jax is imported: XLA flags that spend little effort on tiny programs, unless XLA_FLAGS is set."""
    os.environ.setdefault("XLA_FLAGS", QUICK_COMPILES)


@functools.cache
def _configured_jax(device: str):
    """jax, configured once per process."""
    os.environ["JAX_ENABLE_X64"] = "1"  # else float64 arrays are silently computed in float32
    os.environ.setdefault("JAX_PLATFORMS", device)
    quick_compiles()
    import jax

    # This adapter keeps its compiled programs itself (_executable); jax's own cache would store each twice.
    jax.config.update("jax_enable_x64", True)
    return jax


def configure(jax) -> None:
    """float64 as float64, and compilations kept in jax's persistent cache in the project-local folder
    (every size of program): for Keras on JAX, whose programs jax compiles on its own."""
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", str(CACHE_DIR))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _effective(case: Case) -> tuple[int, ...]:
    return tuple(d * (k - 1) + 1 for k, d in zip(case.kernel, case.dilation))


def jax_call(case: Case) -> dict:
    """Which JAX function the case goes through, with its padding arguments; Unsupported if none."""
    mode = case.mode_spec
    legacy_pads = tuple(
        (ke - 1 - b, ke - 1 - e + op) for ke, (b, e), op in zip(_effective(case), case.padding, case.output_padding)
    )
    if case.groups > 1:  # a string mode with groups is refused first by the capability table
        return {"function": "conv_general_dilated", "padding": legacy_pads}
    if mode.framework == "jax" and mode.padding != "legacy":  # its strings, documented or not, as written
        return {"function": "conv_transpose", "padding": mode.padding.upper(), "use_consistent_padding": False}
    if mode.padding == "legacy":
        return {"function": "conv_transpose", "padding": legacy_pads, "use_consistent_padding": False}
    consistent = tuple((b, e - op) for (b, e), op in zip(case.padding, case.output_padding))
    return {"function": "conv_transpose", "padding": consistent, "use_consistent_padding": True}


def grouped_forward_kernel(w, groups: int, xp=np):
    """The canonical (C_in, C_out/g, *k) weight as conv_general_dilated's flipped (*k, C_in/g, C_out) kernel;
    ``xp`` is numpy for the forward's inputs, jax.numpy inside a differentiated function."""
    c_in, per_group, *kernel = w.shape
    rank = len(kernel)
    split = w.reshape(groups, c_in // groups, per_group, *kernel)
    moved = xp.transpose(split, (*range(3, 3 + rank), 1, 0, 2)).reshape(*kernel, c_in // groups, groups * per_group)
    return xp.flip(moved, axis=tuple(range(rank)))


def _static(case: Case, call: dict) -> dict:
    """The compiled function's static arguments for the case (they key the compiled-program cache)."""
    arguments = dict(stride=case.stride, padding=call["padding"], dilation=case.dilation)
    if call["function"] == "conv_transpose":
        arguments["use_consistent_padding"] = call["use_consistent_padding"]
    else:
        arguments["groups"] = case.groups
    return arguments


@functools.cache
def _compiled(function: str):
    """The jitted function of that name: "conv_transpose" or "conv_general_dilated" (channels-last, the
    forward), or either with "_backward" (canonical layouts, the VJP of that forward)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    highest = lax.Precision.HIGHEST

    def transpose(x, w, bias, *, stride, padding, dilation, use_consistent_padding):
        y = lax.conv_transpose(
            x,
            w,
            stride,
            padding,
            rhs_dilation=dilation,
            dimension_numbers=_SPECS[x.ndim - 2],
            transpose_kernel=True,
            precision=highest,
            use_consistent_padding=use_consistent_padding,
        )
        return y if bias is None else y + bias

    def grouped(x, w, bias, *, stride, padding, dilation, groups):
        y = lax.conv_general_dilated(
            x,
            w,
            window_strides=(1,) * (x.ndim - 2),
            padding=padding,
            lhs_dilation=stride,
            rhs_dilation=dilation,
            dimension_numbers=_SPECS[x.ndim - 2],
            feature_group_count=groups,
            precision=highest,
        )
        return y if bias is None else y + bias

    def transpose_kernel(w, **static):
        return jnp.transpose(w, spatial_out_in_axes(w.ndim - 2))

    def grouped_kernel(w, *, groups, **static):
        return grouped_forward_kernel(w, groups, jnp)

    def vjp_of(forward, kernel):
        # The layout moves are inside the differentiated function, so jax.vjp hands back dx, dw and db in
        # the canonical layouts and the output's dtype, with no transform after it.
        def backward(x, w, bias, dy, **static):
            def canonical(x, w, bias):
                y = forward(jnp.moveaxis(x, 1, -1), kernel(w, **static), bias, **static)
                return jnp.moveaxis(y, -1, 1)

            _, pullback = jax.vjp(canonical, x, w, bias)
            return pullback(dy)  # (dx, dw, db); db is None where bias is None

        return backward

    functions = {
        "conv_transpose": (transpose, ("stride", "padding", "dilation", "use_consistent_padding")),
        "conv_general_dilated": (grouped, ("stride", "padding", "dilation", "groups")),
        "conv_transpose_backward": (
            vjp_of(transpose, transpose_kernel),
            ("stride", "padding", "dilation", "use_consistent_padding"),
        ),
        "conv_general_dilated_backward": (vjp_of(grouped, grouped_kernel), ("stride", "padding", "dilation", "groups")),
    }
    body, static = functions[function]
    return jax.jit(body, static_argnames=static)


def _machine_identity() -> str:
    """What a compiled program depends on beyond its arguments: versions, flags, this adapter's code, and
    the host CPU's features (XLA compiles for the CPU it runs on; a program of another CPU may not run)."""
    import jax
    import jaxlib

    flags = ""
    with contextlib.suppress(OSError, StopIteration):
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    parts = [
        jax.__version__,
        jaxlib.__version__,
        os.environ.get("XLA_FLAGS", ""),
        str(jax.config.jax_enable_x64),
        Path(__file__).read_text(encoding="utf-8"),
        flags,
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_LOADED: dict = {}


def stored_executable(identity: tuple, arguments: tuple, static: dict, compile_program, prefix: str = ""):
    """The compiled program for these argument shapes and static parameters, where ``identity`` holds what
    else it depends on: from memory, from ``CACHE_DIR/executables``, or ``compile_program()`` and stored there.

    Kept on disk with jax's own serialization: a warm run loads a program without tracing or lowering it
    (about 3 ms a case against 25 ms through jax's persistent cache, which must lower a program to find its
    key). ``prefix`` starts the file's name (another adapter's programs, kept beside these)."""
    from jax.experimental.serialize_executable import deserialize_and_load, serialize

    shapes = [None if a is None else (tuple(a.shape), str(a.dtype)) for a in arguments]
    described = repr((*identity, shapes, sorted(static.items())))
    key = hashlib.sha256(described.encode()).hexdigest()
    if key in _LOADED:
        return _LOADED[key]
    path = CACHE_DIR / "executables" / f"{prefix}{key}.pickle"
    compiled = None
    if path.exists():
        try:
            compiled = deserialize_and_load(*pickle.loads(path.read_bytes()))
        except Exception:  # a damaged or foreign file: compile again and replace it
            compiled = None
    if compiled is None:
        compiled = compile_program()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(pickle.dumps(serialize(compiled)))
        os.replace(partial, path)  # whole or absent: two processes may write the same program
    _LOADED[key] = compiled
    return compiled


def _executable(function: str, device, arguments: tuple, static: dict):
    """The compiled program of one of this adapter's calls (the key holds everything it depends on)."""
    return stored_executable(
        (_identity(), function, str(device)),
        arguments,
        static,
        lambda: _compiled(function).lower(*arguments, **static).compile(),
    )


@functools.cache
def _identity() -> str:
    return _machine_identity()


class JaxLax:
    name = "jax"
    framework = "jax"
    device = "cpu"
    modes = (modes.EXPLICIT, "jax")
    capabilities = CAPABILITIES

    def _jax(self):
        return _configured_jax(self.device)

    def availability(self) -> str | None:
        try:
            self._jax()
        except ImportError as error:
            return f"jax is not importable: {error}"
        return None

    def versions(self) -> dict:
        jax = self._jax()
        import jaxlib

        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "backend": jax.default_backend()}

    def precision(self) -> dict:
        jax = self._jax()
        return {
            "precision": "lax.Precision.HIGHEST",
            "jax_enable_x64": bool(jax.config.jax_enable_x64),
            "transpose_kernel": True,
            "use_consistent_padding": "True for explicit pads; False for 'SAME'/'VALID' and the jax_legacy mode",
            "compilation_cache": str(CACHE_DIR / "executables"),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }

    def run(self, case: Case, x, w, bias) -> np.ndarray:
        require(self, case)
        call = jax_call(case)
        jax = self._jax()
        device = jax.devices(self.device)[0]
        if call["function"] == "conv_transpose":
            kernel = spatial_out_in(w)
        else:
            kernel = np.ascontiguousarray(grouped_forward_kernel(w, case.groups))
        put = functools.partial(jax.device_put, device=device)
        inputs = (put(channels_last(x)), put(kernel), None if bias is None else put(bias))
        with stage("call"):
            out = _executable(call["function"], device, inputs, _static(case, call))(*inputs)
        return channels_first(np.asarray(out))

    def run_backward(self, case: Case, x, w, bias, dy):
        """dx, dw, db of <dy, y> by jax.vjp through the forward's call (see _compiled)."""
        require(self, case)
        call = jax_call(case)
        jax = self._jax()
        device = jax.devices(self.device)[0]
        inputs = tuple(None if a is None else jax.device_put(a, device) for a in (x, w, bias, dy))
        with stage("call"):
            found = _executable(f"{call['function']}_backward", device, inputs, _static(case, call))(*inputs)
        dx, dw, db = (None if g is None else np.asarray(g) for g in found)
        return dx, dw, db

    def repro(self, case: Case) -> str:
        reason = why_not(self, case)
        if reason:
            return f"# not expressible: {reason}"
        lines = input_lines(case) + ["import jax", "jax.config.update('jax_enable_x64', True)", "from jax import lax"]
        if case.direction == "backward":
            # The canonical layouts in and out of the differentiated function: the gradients come back in them.
            body = _computation_lines(case, "jnp")
            lines += [
                "import jax.numpy as jnp",
                "",
                "",
                "def f(x, w, bias):",
                *[f"    {line}" for line in body],
                "    return jnp.moveaxis(y, -1, 1)  # back to (N, C_out, *spatial)",
                "",
                "",
                "y, pullback = jax.vjp(f, x, w, bias)",
                "dx, dw, db = pullback(dy)  # db is None without a bias",
                "print(dx.shape, dx, dw.shape, dw, db)",
            ]
            return "\n".join(lines)
        lines += _computation_lines(case, "np")
        lines += ["y = np.moveaxis(np.asarray(y), -1, 1)  # back to (N, C_out, *spatial)", "print(y.shape, y)"]
        return "\n".join(lines)


def _computation_lines(case: Case, xp: str) -> list[str]:
    """The repro's lines from the canonical x, w and bias to the channels-last y, with ``xp`` ("np", or
    "jnp" inside a differentiated function) moving the layouts."""
    call = jax_call(case)
    rank = case.rank
    lines = [f"xs = {xp}.moveaxis(x, 1, -1)  # channels last"]
    if call["function"] == "conv_transpose":
        lines += [
            f"y = lax.conv_transpose(xs, {xp}.transpose(w, {spatial_out_in_axes(rank)}), {case.stride}, "
            f"{call['padding']!r}, rhs_dilation={case.dilation},",
            f"    dimension_numbers={_SPECS[rank]}, transpose_kernel=True, precision=lax.Precision.HIGHEST,",
            f"    use_consistent_padding={call['use_consistent_padding']})",
        ]
    else:
        g, per_group = case.groups, case.out_channels // case.groups
        lines += [
            f"k = w.reshape({g}, {case.in_channels // g}, {per_group}, *{case.kernel})",
            f"k = {xp}.transpose(k, {(*range(3, 3 + rank), 1, 0, 2)}).reshape(*{case.kernel}, "
            f"{case.in_channels // g}, {case.out_channels})",
            f"k = {xp}.flip(k, axis={tuple(range(rank))})",
            f"y = lax.conv_general_dilated(xs, k, {(1,) * rank}, {call['padding']!r}, lhs_dilation={case.stride},",
            f"    rhs_dilation={case.dilation}, dimension_numbers={_SPECS[rank]}, feature_group_count={g},",
            "    precision=lax.Precision.HIGHEST)",
        ]
    if case.bias:
        lines.append("y = y + bias")
    return lines
