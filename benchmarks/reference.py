"""Time the float64 reference against torch's float64 conv_transpose2d and onnx.reference's ConvTranspose.

    python benchmarks/reference.py [--threads N] [--repeats R] [--allocator ordinary|keep-freed|both]

One run, three cases, medians side by side with their ratios. The reference and torch are timed in
turn, repeat by repeat, so that load from other processes falls on both alike. onnx.reference is run
once on the large case (it takes over a minute there).

The targets hold in an ordinary process (``--allocator ordinary``, the default): the reference keeps
its work buffers between calls, so it no longer pays glibc's habit of handing large freed blocks back
to the kernel and faulting them in again on the next call. ``keep-freed`` re-executes the script with
glibc told to keep freed memory (the same for NumPy and torch, which share the process); ``both``
prints the ordinary table, then the keep-freed one (without onnx.reference), to show the difference.

On a machine busy with other work, multi-threaded wall times are dominated by waits for descheduled
BLAS and OpenMP worker threads (the load average is printed for that reason); ``--threads 1`` gives
steadier ratios there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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
    parser.add_argument("--skip-onnx", action="store_true", help="skip onnx.reference on every case")
    parser.add_argument(
        "--allocator",
        choices=["ordinary", "keep-freed", "both"],
        default="ordinary",
        help="glibc's default malloc, glibc told to keep freed memory, or one table for each",
    )
    return parser.parse_args()


def _median_seconds(function, repeats: int) -> float:
    return _median_seconds_in_turn([function], repeats)[0]


def _median_seconds_in_turn(functions, repeats: int) -> list[float]:
    """Median seconds of each function, timed one after the other within every repeat."""
    for function in functions:
        function()  # warm-up
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, samples in zip(functions, times):
            start = time.perf_counter()
            function()
            samples.append(time.perf_counter() - start)
    return [statistics.median(samples) for samples in times]


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


def _keep_freed_memory_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--threads={args.threads}",
        f"--repeats={args.repeats}",
        "--allocator=keep-freed",
        *(["--skip-onnx"] if args.skip_onnx or args.allocator == "both" else []),
        *(["--skip-onnx-large"] if args.skip_onnx_large else []),
    ]


def main() -> int:
    args = _parse()
    keeps_freed_memory = all(os.environ.get(k) == v for k, v in KEEP_FREED_MEMORY.items())
    if args.allocator == "keep-freed" and not keeps_freed_memory:
        os.execve(sys.executable, _keep_freed_memory_command(args), {**os.environ, **KEEP_FREED_MEMORY})
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import numpy as np
    import torch

    from reference import conv_transpose

    torch.set_num_threads(args.threads)
    allocator = "glibc keeps freed memory" if keeps_freed_memory else "ordinary process (glibc default)"
    load = os.getloadavg()[0]
    print(
        f"threads {args.threads}, numpy {np.__version__}, torch {torch.__version__}, float64, {allocator}; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
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
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        ours, theirs = _median_seconds_in_turn(
            [
                lambda x=x, w=w, params=params: conv_transpose(x, w, **params),
                lambda tx=tx, tw=tw, params=params: torch.nn.functional.conv_transpose2d(tx, tw, **params),
            ],
            args.repeats,
        )
        difference = np.abs(
            conv_transpose(x, w, **params) - torch.nn.functional.conv_transpose2d(tx, tw, **params).numpy()
        )

        onnx_text = onnx_ratio_text = "skipped"
        if not args.skip_onnx and (name != "large" or not args.skip_onnx_large):
            onnx_run = _onnx_conv_transpose(x.shape, w.shape, stride, padding, output_padding)
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
    if args.allocator == "both":
        print()
        sys.stdout.flush()
        subprocess.run(_keep_freed_memory_command(args), env={**os.environ, **KEEP_FREED_MEMORY}, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
