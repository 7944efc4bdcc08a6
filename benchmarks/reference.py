"""Time the float64 reference against torch's float64 conv_transpose2d and onnx.reference's ConvTranspose.

    python benchmarks/reference.py [--threads N] [--repeats R]

One run, three cases, medians side by side with their ratios. onnx.reference is run once on the
large case (it takes over a minute there).

glibc hands large freed blocks back to the kernel, so every call of either contender pays fresh
page faults for its arrays; on sandboxed machines that costs more than the arithmetic of the medium
case. Unless --system-malloc is given, the script re-executes itself with glibc told to keep freed
memory (the same for NumPy and torch, which share the process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

CASES = {
    # name: (N, C_in, C_out, size, kernel, stride, padding, output_padding)
    "tiny": (1, 2, 3, 5, 3, 2, 0, 0),
    "medium": (2, 16, 16, 32, 3, 2, 1, 1),
    "large": (8, 64, 32, 64, 4, 2, 1, 0),
}
TARGETS = {"medium": 3.0, "large": 1.5}  # reference / torch at most
ONNX_REFERENCE_TARGET = 500.0  # onnx.reference / reference at least, on large


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for NumPy's BLAS and torch")
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per case (medians are printed)")
    parser.add_argument("--skip-onnx-large", action="store_true", help="skip onnx.reference on the large case")
    parser.add_argument("--system-malloc", action="store_true", help="leave glibc's default (returns memory early)")
    return parser.parse_args()


def _median_seconds(function, repeats: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _onnx_conv_transpose(x_shape, w_shape, stride: int, padding: int, output_padding: int):
    import onnx
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node(
        "ConvTranspose",
        ["x", "w"],
        ["y"],
        strides=[stride, stride],
        pads=[padding] * 4,
        output_padding=[output_padding] * 2,
    )
    graph = helper.make_graph(
        [node],
        "conv_transpose",
        [
            helper.make_tensor_value_info("x", TensorProto.DOUBLE, x_shape),
            helper.make_tensor_value_info("w", TensorProto.DOUBLE, w_shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [None] * len(x_shape))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    evaluator = ReferenceEvaluator(model)
    return lambda x, w: evaluator.run(None, {"x": x, "w": w})[0]


KEEP_FREED_MEMORY = {
    "MALLOC_MMAP_THRESHOLD_": str(2**31),
    "MALLOC_TRIM_THRESHOLD_": str(2**31),
    "MALLOC_TOP_PAD_": str(2**28),
}


def main() -> int:
    args = _parse()
    if not args.system_malloc and any(os.environ.get(k) != v for k, v in KEEP_FREED_MEMORY.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **KEEP_FREED_MEMORY})
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import numpy as np
    import torch

    from reference import conv_transpose

    torch.set_num_threads(args.threads)
    allocator = "glibc default" if args.system_malloc else "glibc keeps freed memory"
    print(f"threads {args.threads}, numpy {np.__version__}, torch {torch.__version__}, float64, {allocator}")
    header = (
        f"{'case':<8}{'reference ms':>14}{'torch ms':>11}{'ref/torch':>11}{'target':>8}"
        f"{'onnx.ref ms':>13}{'onnx.ref/ref':>14}{'max |diff|':>12}"
    )
    print(header)
    print("-" * len(header))
    missed = []
    rng = np.random.default_rng(0)
    for name, (batch, c_in, c_out, size, kernel, stride, padding, output_padding) in CASES.items():
        x = rng.uniform(-1, 1, (batch, c_in, size, size))
        w = rng.uniform(-1, 1, (c_in, c_out, kernel, kernel))
        params = dict(stride=stride, padding=padding, output_padding=output_padding)
        ours = _median_seconds(lambda x=x, w=w, params=params: conv_transpose(x, w, **params), args.repeats)
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        theirs = _median_seconds(
            lambda tx=tx, tw=tw, params=params: torch.nn.functional.conv_transpose2d(tx, tw, **params), args.repeats
        )
        difference = np.abs(
            conv_transpose(x, w, **params) - torch.nn.functional.conv_transpose2d(tx, tw, **params).numpy()
        )

        onnx_run = _onnx_conv_transpose(x.shape, w.shape, stride, padding, output_padding)
        onnx_text = onnx_ratio_text = "skipped"
        if name != "large" or not args.skip_onnx_large:
            repeats = 1 if name == "large" else args.repeats
            start = time.perf_counter()
            onnx_out = onnx_run(x, w)
            onnx_seconds = time.perf_counter() - start
            if repeats > 1:
                onnx_seconds = _median_seconds(lambda x=x, w=w, f=onnx_run: f(x, w), repeats)
            difference = np.maximum(difference.max(), np.abs(onnx_out - conv_transpose(x, w, **params)).max())
            onnx_text = f"{onnx_seconds * 1e3:.1f}"
            onnx_ratio_text = f"{onnx_seconds / ours:.0f}x"
            if name == "large" and onnx_seconds / ours < ONNX_REFERENCE_TARGET:
                missed.append(f"large: onnx.reference only {onnx_seconds / ours:.0f}x slower (target >= 500x)")

        ratio = ours / theirs
        target = TARGETS.get(name)
        if target is not None and ratio > target:
            missed.append(f"{name}: reference/torch {ratio:.2f} (target <= {target})")
        print(
            f"{name:<8}{ours * 1e3:>14.3f}{theirs * 1e3:>11.3f}{ratio:>11.2f}"
            f"{('<= ' + str(target)) if target else '':>8}{onnx_text:>13}{onnx_ratio_text:>14}"
            f"{float(difference.max()):>12.1e}"
        )
    print()
    print("targets met" if not missed else "targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
