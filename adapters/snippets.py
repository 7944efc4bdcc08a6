"""The shared first lines of every repro snippet: the case's inputs, drawn without this suite.

They mirror ``conformance.case.make_inputs`` (a test holds them to it), so that a snippet pasted into
a bug report reproduces the framework's output exactly.
"""

from __future__ import annotations

from conformance.case import Case


def torch_from_numpy(case: Case) -> str:
    """A snippet's expression taking a NumPy array to a torch tensor (bfloat16 by its bits: NumPy has none)."""
    if case.dtype == "bfloat16":
        return "lambda a: torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)"
    return "torch.from_numpy"


def input_lines(case: Case) -> list[str]:
    in_per_group_taps = case.in_channels // case.groups
    for k in case.kernel:
        in_per_group_taps *= k
    dtype = "ml_dtypes.bfloat16" if case.dtype == "bfloat16" else f"np.{case.dtype}"
    lines = ["import hashlib", "import numpy as np"]
    if case.dtype == "bfloat16":
        lines.append("import ml_dtypes")
    lines += [
        f"seed = int.from_bytes(hashlib.sha256(b{case.id!r}).digest()[:8], 'little')",
        "rng = np.random.default_rng(seed)",
        f"x = rng.uniform(-1.0, 1.0, {case.input_shape}).astype({dtype})",
        f"w = (rng.uniform(-1.0, 1.0, {case.weight_shape}) / np.sqrt({in_per_group_taps})).astype({dtype})",
        f"bias = rng.uniform(-0.5, 0.5, {case.out_channels}).astype({dtype})" if case.bias else "bias = None",
    ]
    if case.direction == "backward":  # the upstream gradient, drawn next from the same stream
        lines.append(f"dy = rng.uniform(-1.0, 1.0, {case.output_shape}).astype({dtype})")
    return lines
