"""Profiles of cases: curated cases that separate conventions, plus a deterministic sample of the axes.

The same profile gives the same ids in the same order on every machine: the sample is drawn from a
generator seeded by the profile's name, and invalid draws (an output cropped to nothing) are skipped.
"""

from __future__ import annotations

import hashlib
from functools import cache

import numpy as np

from conformance.case import Case

PROFILES = {"smoke": 70, "default": 1200, "full": 20000}  # sampled cases, on top of the curated ones

DTYPES = ("float64", "float32", "float16", "bfloat16")
DTYPE_WEIGHTS = (0.4, 0.3, 0.15, 0.15)
# (C_in, C_out, groups): plain, C_in != C_out both ways, grouped, depthwise, depthwise multiplier 2.
CHANNELS = ((1, 1, 1), (2, 3, 1), (3, 2, 1), (4, 4, 2), (4, 6, 2), (3, 3, 3), (4, 4, 4), (2, 4, 2))
SIZES = {1: (1, 2, 3, 5, 7, 9), 2: (1, 2, 3, 4, 5, 7), 3: (1, 2, 3, 4)}
PADDING_KINDS = ("zero", "symmetric", "asymmetric", "large")


def curated() -> list[Case]:
    """Cases chosen by hand to separate conventions; each exists for a reason given beside it."""
    textbook = dict(input_size=(2, 2), kernel=(2, 2))
    cases = [
        Case(**textbook),  # DESIGN.md 3: [[0,0,1],[0,4,6],[4,12,9]] (values with the textbook's inputs)
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


@cache
def profile(name: str) -> tuple[Case, ...]:
    """The cases of a profile, curated first, in a stable order without duplicates."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {sorted(PROFILES)}")
    seed = int.from_bytes(hashlib.sha256(f"profile:{name}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    cases = {case.id: case for case in curated()}
    wanted = len(cases) + PROFILES[name]
    while len(cases) < wanted:
        case = _draw(rng)
        if case is not None:
            cases.setdefault(case.id, case)
    return tuple(cases.values())
