"""Third-party adapters, as a vendor would write them: only ``name`` and ``run`` (plus planted faults).

Each computes with the reference (standing in for a vendor's kernel) and then breaks one thing, so
the suite's tests can prove that every kind of fault is caught and recorded as what it is.
"""

from __future__ import annotations

import os
import time

import numpy as np

from adapters import Conversion
from adapters.converters import RoundTrip
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


# --- Hostile adapters (tests/test_hostile_adapters.py) -----------------------------------------------------
# Each misbehaves on the cases with a bias only and computes the others correctly, so that a run shows both
# what the suite makes of the hostile behaviour and that the healthy cases around it are still recorded.


class SegfaultsWithBias:
    """Its process dies of a segmentation fault on cases with a bias."""

    name = "vendor-segfault"

    def run(self, case, x, w, bias):
        if case.bias:
            import signal

            os.kill(os.getpid(), signal.SIGSEGV)
        return _compute(case, x, w, bias)


class HangsWithBias:
    """Never answers on cases with a bias."""

    name = "vendor-hang-bias"

    def run(self, case, x, w, bias):
        while case.bias:
            time.sleep(3600)
        return _compute(case, x, w, bias)


class HugeOutputWithBias:
    """Returns a 1 GiB float64 array (2**27 elements) for a tiny case with a bias."""

    name = "vendor-huge"
    HUGE_SHAPE = (1, 1, 2**27)

    def run(self, case, x, w, bias):
        if case.bias:
            return np.zeros(self.HUGE_SHAPE)
        return _compute(case, x, w, bias)


class ComplexWithBias:
    """Returns a complex output of the right shape on cases with a bias."""

    name = "vendor-complex-bias"

    def run(self, case, x, w, bias):
        out = _compute(case, x, w, bias)
        return out + 1j if case.bias else out


class UpcastsWithBias:
    """Returns the right values in float64 (whatever the case's dtype) on cases with a bias."""

    name = "vendor-upcast"

    def run(self, case, x, w, bias):
        if case.bias:
            return conv_transpose(x, w, bias, **case.conv_params())
        return _compute(case, x, w, bias)


# Markup an adapter could put in each of the texts the suite records and shows; each sets its own value of
# window.pwned, so a page that runs one says which.
MARKUP_FRAMEWORK = '<script>window.pwned="framework"</script><img src=x onerror="window.pwned=\'framework\'">'
MARKUP_VERSION_KEY = '<script>window.pwned="version-key"</script>npu-sdk'
MARKUP_VERSION_VALUE = '1.0</script><script>window.pwned="version"</script><img src=x onerror="window.pwned=3">'
MARKUP_ERROR = '<script>window.pwned=1</script><img src=x onerror="window.pwned=1"> refused'
MARKUP_WARNING = '</script><script>window.pwned="warning"</script><b onmouseover="window.pwned=4">slow</b>'
MARKUP_REPRO = '</script><script>window.pwned="repro"</script><img src=x onerror="window.pwned=5">'


class MarkupEverywhere:
    """HTML and JavaScript in its framework name, its versions, its error messages, its warnings and its
    repro: it warns on every case, refuses the cases with a bias and computes the others."""

    name = "vendor-markup"
    framework = MARKUP_FRAMEWORK

    def versions(self):
        return {MARKUP_VERSION_KEY: MARKUP_VERSION_VALUE}

    def run(self, case, x, w, bias):
        import warnings

        warnings.warn(MARKUP_WARNING, stacklevel=1)
        if case.bias:
            raise ValueError(MARKUP_ERROR)
        return _compute(case, x, w, bias)

    def repro(self, case):
        return f"{MARKUP_REPRO}\n# {case.id}"


# Names that must be refused: each would be a path (or markup) wherever the name is used.
class NameWithSlash(Correct):
    name = "vendor/npu"


class NameEscapes(Correct):
    name = "../escape"


class NameDotDot(Correct):
    name = ".."


class NameWithBackslash(Correct):
    name = "vendor\\npu"


class NameWithSpace(Correct):
    name = "vendor npu"


class NameWithMarkup(Correct):
    name = "<img src=x onerror=alert(1)>"


class NameEmpty(Correct):
    name = ""


# Adapters whose optional members misbehave; each message carries a token the tests look for.
class ConstructorRaises(Correct):
    name = "vendor-constructor-raises"

    def __init__(self):
        raise RuntimeError("hostile constructor exploded")


class AvailabilityRaises(Correct):
    name = "vendor-availability-raises"

    def availability(self):
        raise RuntimeError("hostile availability exploded")


class AvailabilityNotString(Correct):
    name = "vendor-availability-not-string"

    def availability(self):
        return 42


class VersionsRaise(Correct):
    name = "vendor-versions-raise"

    def versions(self):
        raise RuntimeError("hostile versions exploded")


class VersionsNotDict(Correct):
    name = "vendor-versions-not-dict"

    def versions(self):
        return "1.2.3"


class ReproRaisesWithBias(Correct):
    name = "vendor-repro-raises"

    def repro(self, case):
        if case.bias:
            raise RuntimeError("hostile repro exploded")
        return f"# reproduces {case.id}"


class ReproUnpicklableWithBias(Correct):
    name = "vendor-repro-unpicklable"

    def repro(self, case):
        if case.bias:
            return lambda: "not a string"
        return f"# reproduces {case.id}"


class ExitsWithBias:
    """Raises SystemExit (as a library calling sys.exit would) on cases with a bias."""

    name = "vendor-exits"

    def run(self, case, x, w, bias):
        if case.bias:
            raise SystemExit(3)
        return _compute(case, x, w, bias)


class InterruptsWithBias:
    """Raises KeyboardInterrupt on cases with a bias."""

    name = "vendor-interrupts"

    def run(self, case, x, w, bias):
        if case.bias:
            raise KeyboardInterrupt
        return _compute(case, x, w, bias)


class NotAnArrayWithBias:
    """Returns None on cases with a bias: no output at all, where an array was due."""

    name = "vendor-none"

    def run(self, case, x, w, bias):
        return None if case.bias else _compute(case, x, w, bias)


class UnknownModes(Correct):
    """Declares a mode family the suite does not have: it would be given no case at all."""

    name = "vendor-unknown-modes"
    modes = ("explicit", "caffe")


# --- Backward passes (tests/test_backward.py) ----------------------------------------------------------------


def _gradients(case, x, w, bias, dy):
    from reference import conv_transpose_vjp

    found = conv_transpose_vjp(x, w, bias, dy, **case.conv_params())
    return tuple(None if g is None else g.astype(x.dtype) for g in found)


class CorrectBackward(Correct):
    """The reference's gradients, rounded to the case's dtype: never caught."""

    name = "vendor-backward"

    def run_backward(self, case, x, w, bias, dy):
        return _gradients(case, x, w, bias, dy)


class UnflippedWeightGradient(CorrectBackward):
    """dw with the kernel's taps reversed along every spatial axis: the classic bug of a hand-written dw."""

    name = "vendor-unflipped-dw"

    def run_backward(self, case, x, w, bias, dy):
        dx, dw, db = _gradients(case, x, w, bias, dy)
        return dx, np.ascontiguousarray(np.flip(dw, axis=tuple(range(2, dw.ndim)))), db


class GroupBlindInputGradient(CorrectBackward):
    """dx as if the weight's groups were one: each input channel gets the gradient of its group's first."""

    name = "vendor-wrong-dx"

    def run_backward(self, case, x, w, bias, dy):
        dx, dw, db = _gradients(case, x, w, bias, dy)
        wrong = dx.copy()
        wrong[:, 1:] = dx[:, :1] if dx.shape[1] > 1 else dx[:, 1:]
        wrong[..., :1] = -wrong[..., :1]  # and the first position of every channel negated, so 1-channel cases fail too
        return wrong, dw, db


class _VendorRoundTrip(RoundTrip):
    """A round trip as a vendor's converter would be one: the source model is the case's arguments, the
    "converter" writes them down as a dict, and the "runtime" computes that dict with the reference."""

    conversion = Conversion("vendor-framework", "vendor-converter", "vendor-runtime")
    inherits = ("vendor-runtime",)

    def build(self, case, x, w, bias):
        return {"params": case.conv_params(), "w": w, "bias": bias}

    def convert(self, case, source, x, workdir):
        print("converting...")  # converters talk; the run must stay quiet
        return source

    def converted_node(self, converted) -> dict:
        return {"ops": ["ConvTranspose"], "output_padding": list(converted["params"]["output_padding"])}

    def load(self, case, converted):
        return converted

    def call(self, case, runnable, x):
        return conv_transpose(x, runnable["w"], runnable["bias"], **runnable["params"]).astype(x.dtype)


class RoundTripCorrect(_VendorRoundTrip):
    name = "vendor-round-trip"


class RoundTripDropsOutputPadding(_VendorRoundTrip):
    """The converter silently writes output_padding as 0: the runtime's output is short by it."""

    name = "vendor-round-trip-drops-op"

    def convert(self, case, source, x, workdir):
        params = dict(source["params"], output_padding=(0,) * case.rank)
        return dict(source, params=params)


class RoundTripUnloadable(_VendorRoundTrip):
    """The converter writes a model its runtime cannot load, for grouped cases."""

    name = "vendor-round-trip-unloadable"

    def load(self, case, converted):
        if case.groups > 1:
            raise RuntimeError("INVALID_GRAPH: the runtime has no grouped kernel")
        return converted


class RoundTripRefused(_VendorRoundTrip):
    """The converter refuses dilated cases."""

    name = "vendor-round-trip-refused"

    def convert(self, case, source, x, workdir):
        if max(case.dilation) > 1:
            raise ValueError("the converter does not translate dilation")
        return source
