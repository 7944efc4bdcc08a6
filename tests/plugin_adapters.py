"""Third-party adapters, as a vendor would write them: only ``name`` and ``run`` (plus planted faults).

Each computes with the reference (standing in for a vendor's kernel) and then breaks one thing, so
the suite's tests can prove that every kind of fault is caught and recorded as what it is.
"""

from __future__ import annotations

import os
import time

import numpy as np

from reference import conv_transpose


def _compute(case, x, w, bias):
    return conv_transpose(x, w, bias, **case.conv_params()).astype(x.dtype)


class Correct:
    name = "vendor-correct"

    def run(self, case, x, w, bias):
        return _compute(case, x, w, bias)


class FlippedKernel:
    """Forgets that transposed convolution scatters: uses the spatially flipped kernel."""

    name = "vendor-flipped"

    def run(self, case, x, w, bias):
        flipped = w[(slice(None), slice(None), *(slice(None, None, -1),) * case.rank)]
        return _compute(case, x, np.ascontiguousarray(flipped), bias)


class DropsLastRow:
    name = "vendor-short"

    def run(self, case, x, w, bias):
        return _compute(case, x, w, bias)[..., :-1]


class NaNs:
    name = "vendor-nan"

    def run(self, case, x, w, bias):
        out = _compute(case, x, w, bias)
        out.reshape(-1)[0] = np.nan
        return out


class Crashes:
    """Dies on 2-D cases, works on the others."""

    name = "vendor-crash"

    def run(self, case, x, w, bias):
        if case.rank == 2:
            os._exit(3)
        return _compute(case, x, w, bias)


class Hangs:
    name = "vendor-hang"

    def run(self, case, x, w, bias):
        time.sleep(30)


class HangsOn2D:
    """Hangs on 2-D cases, works on the others."""

    name = "vendor-hang-2d"

    def run(self, case, x, w, bias):
        if case.rank == 2:
            time.sleep(30)
        return _compute(case, x, w, bias)


class SlowCorrect:
    """Correct, 30 ms a case; its repro names the process that computed it."""

    name = "vendor-slow"

    def run(self, case, x, w, bias):
        time.sleep(0.03)
        return _compute(case, x, w, bias)

    def repro(self, case):
        return f"# computed by process {os.getpid()}"


instance = Correct()  # an adapter may also be given as a ready instance


class ClampsNegativePadding:
    """Accepts a negative padding silently, reading it as 0 (the reference stands in for its kernel)."""

    name = "vendor-clamps"

    def run(self, case, x, w, bias):
        if case.violates == "negative_pad":
            clamped = [(max(b, 0), max(e, 0)) for b, e in case.padding]
            return conv_transpose(x, w, bias, **{**case.conv_params(), "padding": clamped}).astype(x.dtype)
        return _compute(case, x, w, bias)


class ReturnsFloat64:
    """Right values, returned in float64 whatever the case's dtype."""

    name = "vendor-float64"

    def run(self, case, x, w, bias):
        return conv_transpose(x, w, bias, **case.conv_params())


class ReturnsComplex:
    """Right real part, with an imaginary part a cast to float would drop."""

    name = "vendor-complex"

    def run(self, case, x, w, bias):
        return _compute(case, x, w, bias) + 1j


class ShapeInference:
    """Infers the output shape instead of computing it (as ONNX shape inference does)."""

    name = "vendor-shapes"

    def run(self, case, x, w, bias):
        from adapters import ShapeOnly

        return ShapeOnly(case.output_shape, case.dtype)


class ShapeInferenceOffByOne(ShapeInference):
    """Infers one position too few on the last axis when the stride is 2 or more."""

    name = "vendor-shapes-off"

    def run(self, case, x, w, bias):
        from adapters import ShapeOnly

        shape = list(case.output_shape)
        shape[-1] -= max(case.stride) > 1
        return ShapeOnly(shape, case.dtype)


class UnreadableOutput:
    """Returns an object the suite cannot turn into an array, with a repro that cannot be pickled."""

    name = "vendor-unreadable"

    def run(self, case, x, w, bias):
        class Opaque:
            def __array__(self, *args, **kwargs):
                raise RuntimeError("no array here")

        return Opaque()

    def repro(self, case):
        return lambda: "not a string"
