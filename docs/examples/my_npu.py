"""An example plug-in adapter, for the README's walkthrough of a new adapter's first run.

"my-npu" stands for your own kernel. Here it is a small NumPy transposed convolution with two
realistic gaps: it has no grouped convolution (it says so, and the suite records the case as
unsupported), and it forgets output_padding (it returns the output without those positions), the
bug the walkthrough's first run finds.
"""

from __future__ import annotations

import itertools

import numpy as np

from adapters import Unsupported


class MyNPU:
    name = "my-npu"

    def versions(self):
        return {"my-npu-sdk": "0.1.0", "numpy": np.__version__}

    def run(self, case, x, w, bias):
        _validate(case, x, w)
        if case.groups > 1:
            raise Unsupported("my-npu has no grouped transposed convolution")
        rank = case.rank
        extents = [d * (k - 1) + 1 for d, k in zip(case.dilation, case.kernel)]
        full = [(n - 1) * s + e for n, s, e in zip(x.shape[2:], case.stride, extents)]
        out = np.zeros((x.shape[0], w.shape[1], *full), dtype=np.float64)
        for tap in itertools.product(*(range(k) for k in case.kernel)):
            # Every input position adds its contribution at position * stride + tap * dilation.
            start = [t * d for t, d in zip(tap, case.dilation)]
            window = tuple(slice(b, b + (n - 1) * s + 1, s) for b, n, s in zip(start, x.shape[2:], case.stride))
            contribution = np.einsum("ni...,io->no...", x.astype(np.float64), w[(..., *tap)].astype(np.float64))
            out[(slice(None), slice(None), *window)] += contribution
        # The bug: the end crop is applied, but the output_padding positions are never added.
        crop = tuple(slice(begin, f - end) for (begin, end), f in zip(case.padding, full))
        out = out[(slice(None), slice(None), *crop)]
        if bias is not None:
            out += bias.astype(np.float64).reshape(1, -1, *([1] * rank))
        return out.astype(x.dtype)


def _validate(case, x, w):
    """Refuse what the canonical convention forbids, as a real kernel's argument checks would."""
    if min(x.shape) == 0:
        raise ValueError("my-npu: empty input")
    if case.in_channels % case.groups or case.out_channels % case.groups:
        raise ValueError(f"my-npu: {case.groups} groups do not divide the channels")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"my-npu: the weight has {w.shape[0]} input channels, the input {x.shape[1]}")
    if any(p < 0 for pair in case.padding for p in pair):
        raise ValueError("my-npu: negative padding")
    if any(op >= max(s, d) for op, s, d in zip(case.output_padding, case.stride, case.dilation)):
        raise ValueError("my-npu: output_padding must be smaller than the stride or the dilation")
    extents = [d * (k - 1) + 1 for d, k in zip(case.dilation, case.kernel)]
    lengths = [(n - 1) * s + e - b - en + op for n, s, e, (b, en), op in
               zip(x.shape[2:], case.stride, extents, case.padding, case.output_padding)]  # fmt: skip
    if min(lengths) < 1:
        raise ValueError(f"my-npu: the output would be empty ({lengths})")
