"""Profiles of cases: curated cases that separate conventions, a deterministic sample of the axes,
and the mode grid: every framework's padding modes over the same geometry points.

The same profile gives the same ids in the same order on every machine: the sample is drawn from a
generator seeded by the profile's name, and invalid draws (an output cropped to nothing) are skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache

import numpy as np

from conformance import invalid, models
from conformance.case import Case

# Sampled cases, on top of the curated ones. default: at least 1,000 explicit cases.
PROFILES = {"smoke": 70, "default": 980, "full": 20000}
# The model layers alone, every one of them: for a path too slow to compile a whole profile (torch.compile).
MODELS_ONLY = "models"
# The profiles whose explicit cases are asked backward too (dx, dw, db): a backward twin of each.
BACKWARD_PROFILES = ("smoke", "default")
# The profiles whose mode cases are asked with explicit pads too (the porting table's proofs); the full
# profile's mode grid is a sweep of its own, and a quarter more cases would cost its report the time.
EXPLICIT_TWIN_PROFILES = ("smoke", "default")

DTYPES = ("float64", "float32", "float16", "bfloat16")
DTYPE_WEIGHTS = (0.4, 0.3, 0.15, 0.15)
# (C_in, C_out, groups): plain, C_in != C_out both ways, grouped, depthwise, depthwise multiplier 2.
CHANNELS = ((1, 1, 1), (2, 3, 1), (3, 2, 1), (4, 4, 2), (4, 6, 2), (3, 3, 3), (4, 4, 4), (2, 4, 2))
SIZES = {1: (1, 2, 3, 5, 7, 9), 2: (1, 2, 3, 4, 5, 7), 3: (1, 2, 3, 4)}
PADDING_KINDS = ("zero", "symmetric", "asymmetric", "large")

# The mode grid's geometry points per profile: input size (1 included), kernel (odd and even), stride
# (beyond the kernel and beyond the dilated kernel), dilation; 1-D, plus a few anisotropic 2-D points.
MODE_AXES = {
    "smoke": {"sizes": (1, 5), "kernels": (1, 2, 3), "strides": (1, 3), "dilations": (1,)},
    "default": {"sizes": (1, 5), "kernels": (1, 2, 3, 4), "strides": (1, 2, 5), "dilations": (1, 2)},
    "full": {"sizes": (1, 2, 3, 5, 7), "kernels": (1, 2, 3, 4, 5), "strides": (1, 2, 3, 4, 5), "dilations": (1, 2, 3)},
}
MODE_POINTS_2D = (
    ((5, 3), (3, 2), (2, 1), (1, 1)),
    ((4, 1), (2, 3), (3, 2), (1, 1)),
    ((2, 5), (4, 1), (1, 1), (2, 1)),
)
MODE_POINTS_3D = (
    ((3, 2, 2), (2, 3, 1), (2, 1, 3), (1, 1, 1)),
    ((2, 2, 1), (3, 2, 2), (1, 2, 2), (1, 2, 1)),
)
# What varies besides the geometry, one variant per point in turn: (batch, (C_in, C_out, groups), bias,
# dtype). Grouped variants (C_in/g > C_out/g = 1 among them) go to explicit pads and ONNX's and JAX's modes;
# every mode gets an ungrouped variant at that point as well.
MODE_VARIANTS_PLAIN = dict(batch=1, in_channels=2, out_channels=3, groups=1, bias=True)
MODE_VARIANTS = (
    (1, (2, 3, 1), True, "float32"),
    (2, (3, 2, 1), False, "float32"),
    (1, (4, 4, 2), True, "float16"),
    (1, (4, 2, 2), True, "float32"),
    (3, (1, 1, 1), True, "bfloat16"),
    (1, (6, 3, 3), False, "float32"),
    (2, (2, 2, 1), True, "float64"),
)


def curated() -> list[Case]:
    """Cases chosen by hand to separate conventions; each exists for a reason given beside it."""
    textbook = dict(input_size=(2, 2), kernel=(2, 2))
    cases = [
        Case(**textbook),  # docs/conventions.md: [[0,0,1],[0,4,6],[4,12,9]] (values with the textbook's inputs)
        Case(**textbook, padding=1),  # -> [[4]]
        Case(**textbook, stride=2),  # -> 4x4
        Case(input_size=(5, 5), kernel=3, stride=2),  # 11x11
        Case(input_size=(4, 4), kernel=3, stride=2, output_padding=1),  # 10x10
        Case(input_size=(3, 3), kernel=3, stride=2, padding=1),  # 5x5
        Case(input_size=(6, 6), kernel=5, stride=3, padding=2, output_padding=1),  # back to 16x16's sibling
        # Non-square kernels and anisotropic stride, padding, dilation: catch transposed H/W axes.
        Case(input_size=(4, 5), kernel=(3, 1), in_channels=2, out_channels=3, stride=(2, 1)),
        Case(input_size=(3, 4), kernel=(2, 4), stride=(1, 3), padding=((1, 1), (0, 0)), dilation=(2, 1)),
        Case(input_size=(5, 3), kernel=(3, 2), stride=(3, 2), padding=((1, 1), (1, 1)), output_padding=(2, 1)),
        Case(input_size=(2, 3, 4), kernel=(1, 2, 3), stride=(1, 2, 3), dilation=(3, 2, 1), output_padding=(0, 1, 2)),
        # Groups with bias: each group must get its own slice of the bias.
        Case(input_size=(4, 4), kernel=3, in_channels=4, out_channels=6, groups=2, bias=True),
        Case(input_size=(4, 4), kernel=3, in_channels=3, out_channels=3, groups=3, bias=True, stride=2),
        Case(input_size=(5,), kernel=3, in_channels=2, out_channels=4, groups=2, bias=True, stride=2, batch=2),
        # output_padding below the dilation but not below the stride: PyTorch accepts, others need not.
        Case(input_size=(4, 4), kernel=3, dilation=2, output_padding=1),
        Case(input_size=(6,), kernel=2, stride=1, dilation=3, output_padding=2, bias=True),
        # Asymmetric padding, and padding larger than half the kernel.
        Case(input_size=(5, 5), kernel=3, stride=2, padding=((2, 0), (0, 1))),
        Case(input_size=(4,), kernel=2, stride=3, padding=((3, 2),)),
        # Stride larger than the kernel leaves gaps of zeros (plus bias) between kernel footprints.
        Case(input_size=(3, 3), kernel=2, stride=4, bias=True),
        Case(input_size=(1, 1), kernel=3, stride=2, output_padding=1),
        # A strided innermost axis of length 1: the input gradient is a convolution with a strided innermost
        # output of 1, which oneDNN's AMX kernel gets wrong in bfloat16 (pytorch/pytorch#169688).
        Case(input_size=(2, 4, 1), kernel=2, stride=(1, 1, 2), dtype="bfloat16"),
    ]
    for dtype in DTYPES[1:]:
        cases.append(Case(input_size=(4, 4), kernel=3, in_channels=2, out_channels=3, stride=2, bias=True, dtype=dtype))
    return cases


def _padding(rng: np.random.Generator, kind: str, full: int) -> tuple[int, int]:
    limit = full - 1  # leave at least one output position
    if kind == "zero" or limit == 0:
        return (0, 0)
    if kind == "symmetric":
        p = int(rng.integers(1, limit // 2 + 1)) if limit >= 2 else 0
        return (p, p)
    if kind == "asymmetric":
        begin = int(rng.integers(0, limit + 1))
        end = int(rng.integers(0, limit - begin + 1))
        return (begin, end) if begin != end else (begin, 0) if begin else (0, min(1, limit))
    return (int(rng.integers(limit // 2, limit + 1)), 0)  # large: more than half the kernel's reach


def _draw(rng: np.random.Generator) -> Case | None:
    rank = int(rng.choice((1, 2, 3), p=(0.3, 0.5, 0.2)))
    in_channels, out_channels, groups = CHANNELS[int(rng.integers(len(CHANNELS)))]
    size = tuple(int(rng.choice(SIZES[rank])) for _ in range(rank))
    square = rng.random() < 0.6
    kernel = (int(rng.integers(1, 6)),) * rank if square else tuple(int(rng.integers(1, 6)) for _ in range(rank))
    stride = (int(rng.integers(1, 5)),) * rank if square else tuple(int(rng.integers(1, 5)) for _ in range(rank))
    dilation = tuple(int(rng.choice((1, 1, 2, 3))) for _ in range(rank))
    output_padding = tuple(
        int(rng.integers(0, max(s, d))) if rng.random() < 0.4 else 0 for s, d in zip(stride, dilation)
    )
    kind = PADDING_KINDS[int(rng.integers(len(PADDING_KINDS)))]
    padding = tuple(
        _padding(rng, kind, (n - 1) * s + d * (k - 1) + 1) for n, s, d, k in zip(size, stride, dilation, kernel)
    )
    try:
        return Case(
            input_size=size,
            kernel=kernel,
            batch=int(rng.choice((1, 2, 3), p=(0.6, 0.3, 0.1))),
            in_channels=in_channels,
            out_channels=out_channels,
            groups=groups,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            dilation=dilation,
            bias=bool(rng.random() < 0.5),
            dtype=str(rng.choice(DTYPES, p=DTYPE_WEIGHTS)),
        )
    except ValueError:
        return None


def _joined(values) -> str:
    return "x".join(str(v) for v in values)


def point_modes(input_size, kernel, stride, dilation, exhaustive: bool = False) -> list[str]:
    """Every framework's mode tokens worth asking at one geometry point.

    output_padding: none, 0 (not the same as none in Keras) and stride - 1 (all values if
    ``exhaustive``); TF output shapes: the ends of each accepted range (all if ``exhaustive``); ONNX
    output_shape: one and two positions short of full + output_padding (odd and even splits).
    """
    full = [(n - 1) * s + d * (k - 1) + 1 for n, k, s, d in zip(input_size, kernel, stride, dilation)]
    if exhaustive:
        op_values = sorted({tuple(v for _ in stride) for v in range(max(stride))} | {tuple(s - 1 for s in stride)})
    else:
        op_values = sorted({tuple(0 for _ in stride), tuple(s - 1 for s in stride)})
    op_values = [op for op in op_values if all(v < s for v, s in zip(op, stride))]
    tokens = ["keras_same", "keras_valid", "jax_same", "jax_valid", "onnx_same_upper", "onnx_same_lower", "onnx_valid"]
    tokens += ["nnx_same", "nnx_valid"]
    for op in op_values:
        tokens += [f"keras_same_op{_joined(op)}", f"keras_valid_op{_joined(op)}"]
        if any(op):
            tokens += [f"onnx_{p}_op{_joined(op)}" for p in ("same_upper", "same_lower", "valid")]
    same_range = [((n - 1) * s + 1, n * s) for n, s in zip(input_size, stride)]
    valid_range = [(f, f + s - 1) for f, s in zip(full, stride)]
    for padding, ranges in (("same", same_range), ("valid", valid_range)):
        lengths = {tuple(low for low, _ in ranges), tuple(high for _, high in ranges)}
        if exhaustive:
            lengths |= {tuple(low + i for low, high in ranges) for i in range(max(h - lo for lo, h in ranges) + 1)}
        tokens += [f"tf_{padding}_o{_joined(length)}" for length in sorted(lengths)]
    for op in op_values:
        suffix = f"_op{_joined(op)}" if any(op) else ""
        for short in (1, 2):
            length = [f + v - short for f, v in zip(full, op)]
            if min(length) >= 1:
                paddings = ("notset", "same_upper", "same_lower", "valid")
                tokens += [f"onnx_{p}_o{_joined(length)}{suffix}" for p in paddings]
    return tokens


def _legacy_pads(kernel, dilation) -> list[tuple]:
    """Explicit pads for the jax_legacy mode: none, the full kernel reach, and beyond it (a negative
    transposed-convolution pad)."""
    reach = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [tuple((0, 0) for _ in reach), tuple((r, r) for r in reach), tuple((r + 1, 0) for r in reach)]


def _module_pads(kernel, dilation) -> list[tuple]:
    """One padding per axis for the torch_output_size mode: none, and half the dilated kernel's reach."""
    half = [d * (k - 1) // 2 for k, d in zip(kernel, dilation)]
    return sorted({tuple((0, 0) for _ in half), tuple((h, h) for h in half)})


def _takes_groups(token: str) -> bool:
    # ONNX takes groups with every auto_pad; JAX's grouped form takes explicit pads only, so its strings
    # with groups show that limit.
    return token.startswith(("onnx_", "jax_", "torch_"))


def mode_cases(name: str) -> list[Case]:
    """The mode grid of a profile: every mode at each geometry point, under one variant per point."""
    axes = MODE_AXES[name]
    points = [
        ((n,), (k,), (s,), (d,))
        for n in axes["sizes"]
        for k in axes["kernels"]
        for s in axes["strides"]
        for d in axes["dilations"]
    ]
    if name != "smoke":
        points += list(MODE_POINTS_2D) + list(MODE_POINTS_3D)
    cases = []
    for index, (size, kernel, stride, dilation) in enumerate(points):
        batch, (c_in, c_out, groups), bias, dtype = MODE_VARIANTS[index % len(MODE_VARIANTS)]
        variant = dict(batch=batch, in_channels=c_in, out_channels=c_out, groups=groups, bias=bias, dtype=dtype)
        plain = dict(MODE_VARIANTS_PLAIN, dtype=dtype) if groups > 1 else variant
        geometry = dict(input_size=size, kernel=kernel, stride=stride, dilation=dilation)
        tokens = ["explicit", *point_modes(size, kernel, stride, dilation, exhaustive=name == "full")]
        legacy = [
            (p, op) for p in _legacy_pads(kernel, dilation) for op in {(0,) * len(stride), tuple(s - 1 for s in stride)}
        ]
        asks = [(token, {}) for token in tokens] + [
            ("jax_legacy", dict(padding=p, output_padding=op)) for p, op in legacy
        ]
        # torch's module asked for an output size: no padding and half the kernel's reach, each output length
        # its output_padding allows.
        asks += [
            ("torch_output_size", dict(padding=p, output_padding=op))
            for p in _module_pads(kernel, dilation)
            for op in sorted({(0,) * len(stride), tuple(s - 1 for s in stride)})
        ]
        for token, pads in asks:
            variants = [plain, variant] if groups > 1 and _takes_groups(token) else [plain]
            for fields in variants:
                try:
                    cases.append(Case(**geometry, **fields, **pads, mode=token))
                except ValueError:  # the documented rule yields no output here (e.g. an empty 'same' output)
                    continue
    return cases


def must_reject_cases() -> list[Case]:
    """Every must-reject case (``conformance.invalid``): the explicit ones, then the mode ones."""
    cases = [Case(**fields, violates=rule) for rule, fields in invalid.CASES]
    for size, kernel, stride in invalid.MODE_POINTS:
        at = dict(input_size=size, kernel=kernel, stride=stride, in_channels=2, out_channels=3, bias=True)
        tokens = invalid.mode_tokens(size, kernel, stride)
        cases += [Case(**at, dtype="float32", mode=token, violates=rule) for rule, token in tokens]
    return cases


@cache
def profile(name: str) -> tuple[Case, ...]:
    """The cases of a profile, curated first, then the sample, the mode grid, the must-reject cases,
    (``BACKWARD_PROFILES``) the backward twins of the curated and sampled cases,
    (``EXPLICIT_TWIN_PROFILES``) the explicit-pad twins of the mode grid, and the model layers
    (``models.cases``); stable order, no duplicates."""
    if name == MODELS_ONLY:
        return tuple(models.cases("default"))
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {sorted(PROFILES)} or {MODELS_ONLY!r}")
    seed = int.from_bytes(hashlib.sha256(f"profile:{name}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    cases = {case.id: case for case in curated()}
    wanted = len(cases) + PROFILES[name]
    while len(cases) < wanted:
        case = _draw(rng)
        if case is not None:
            cases.setdefault(case.id, case)
    explicit = list(cases.values())
    for case in [*mode_cases(name), *must_reject_cases()]:
        cases.setdefault(case.id, case)
    if name in BACKWARD_PROFILES:
        for case in explicit:
            twin = replace(case, direction="backward")
            cases.setdefault(twin.id, twin)
    # Each mode case's layer spelled with explicit pads at the same point: what torch, ONNX's pads and JAX's
    # pairs are asked for the same output, so that a porter's translation is backed by results.
    if name in EXPLICIT_TWIN_PROFILES:
        for case in mode_cases(name):
            twin = replace(case, mode="explicit")
            cases.setdefault(twin.id, twin)
    # Last, the transposed convolutions of well-known architectures (conformance/models.py), named by layer.
    for case in models.cases(name):
        cases.setdefault(case.id, case)
    return tuple(cases.values())


def composition(name: str) -> dict[str, int]:
    """How many cases of each kind a profile holds: explicit-padding forward cases, framework padding-mode
    cases, must-reject cases, backward cases and model layers (the README states these counts). A model
    layer's case is counted as a model case only, not as an explicit one too."""
    cases = profile(name)
    model = {case.id for case in models.cases(name)}
    return {
        "explicit": sum(
            c.direction == "forward" and c.mode == "explicit" and not c.violates and c.id not in model for c in cases
        ),
        "modes": sum(c.mode != "explicit" and not c.violates for c in cases),
        "must_reject": sum(bool(c.violates) for c in cases),
        "backward": sum(c.direction == "backward" for c in cases),
        "models": sum(c.id in model for c in cases),
    }
