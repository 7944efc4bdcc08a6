"""Framework padding modes and the canonical (begin, end, output_padding) each one stands for.

A case's ``mode`` names how a framework is asked for the padding: ``explicit`` (the canonical pads,
the default), or one of the frameworks' own modes below. Each mode's meaning is computed here, from
the framework's documented rule, so the reference never knows about modes; what a framework really
does is for the results to show.

Mode tokens (``_op<...>`` is the framework's output_padding argument, ``_o<...>`` an output size;
sizes per spatial axis joined by ``x``):

=====================================  ==================================================================
``keras_same``, ``keras_valid``        Keras ``Conv{1,2,3}DTranspose(padding=..., output_padding=None)``
``keras_same_op1x0``, ...              the same with ``output_padding=(1, 0)``
``tf_same_o8x8``, ``tf_valid_o9``      ``tf.nn.conv{1,2,3}d_transpose(padding='SAME'/'VALID')`` with that
                                       output_shape
``jax_same``, ``jax_valid``            ``jax.lax.conv_transpose(padding='SAME'/'VALID')``
``jax_legacy``                         the case's explicit pads, passed as ``jax.lax.conv_transpose``
                                       padding tuples under ``use_consistent_padding=False``
``onnx_same_upper``, ``onnx_same_lower``, ``onnx_valid`` (optionally ``_op1``)
                                       ONNX ConvTranspose ``auto_pad`` with ``output_padding``
``onnx_notset_o9``, ``onnx_same_upper_o9``, ``onnx_same_lower_o9``, ``onnx_valid_o9`` (optionally
``_op1``)                              ONNX ConvTranspose ``output_shape`` with that ``auto_pad``
``nnx_same``, ``nnx_valid``            ``flax.nnx.ConvTranspose(padding='SAME'/'VALID')``, as its docs define them
``torch_output_size``                  the case's explicit (symmetric) pads as ``nn.ConvTranspose{1,2,3}d``'s
                                       ``padding``, and its output length as ``forward(x, output_size=...)``
                                       instead of ``output_padding``
=====================================  ==================================================================

Every meaning below is a per-axis rule ``(n, ke, s) -> (begin, end, output_padding)`` with
``ke = dilation * (kernel - 1) + 1`` and ``full = (n - 1) * s + ke``, returned in normal form: a
crop of ``T = full - H`` positions for an output of length ``H``, or ``H - full`` zeros appended
when ``T < 0``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

EXPLICIT = "explicit"
FRAMEWORKS = ("keras", "tf", "jax", "onnx", "torch", "nnx")
# Modes whose pads are the case's own explicit fields; the mode only says how to pass them.
FREE_PADS = {EXPLICIT, "jax_legacy", "torch_output_size"}

PADDINGS = {
    "keras": ("same", "valid"),
    "tf": ("same", "valid"),
    "jax": ("same", "valid", "legacy"),
    "onnx": ("same_upper", "same_lower", "valid", "notset"),
    "torch": ("output_size",),
    "nnx": ("same", "valid"),
}
# Padding words that an API does not document for its transposed convolution, though it may know them
# elsewhere (Keras's Conv1D 'causal', lax's 'SAME_LOWER'): they appear only in must-reject cases.
UNDOCUMENTED = {
    "keras": ("causal", "full"),
    "tf": ("full",),
    "jax": ("same_lower",),
    "onnx": ("full",),
    "torch": (),
    "nnx": (),
}
_WORDS = sorted({word for table in (PADDINGS, UNDOCUMENTED) for words in table.values() for word in words}, key=len)
_TOKEN = re.compile(
    rf"^(?P<framework>{'|'.join(FRAMEWORKS)})_(?P<padding>{'|'.join(reversed(_WORDS))})"
    r"(?:_o(?P<output_size>\d+(?:x\d+)*))?"
    r"(?:_op(?P<output_padding>\d+(?:x\d+)*))?$"
)

# The document behind each rule, cited beside the code that encodes it.
SOURCES = {
    "keras": "https://keras.io/api/layers/convolution_layers/convolution2d_transpose/ and "
    "keras/src/utils/conv_utils.py deconv_output_length (the output-length formula)",
    "tf": "https://www.tensorflow.org/api_docs/python/tf/nn/conv2d_transpose (the gradient of tf.nn.conv2d; "
    "'SAME' pads as https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2)",
    "jax": "https://docs.jax.dev/en/latest/_autosummary/jax.lax.conv_transpose.html",
    "onnx": "https://onnx.ai/onnx/operators/onnx__ConvTranspose.html (auto_pad, output_shape, pads)",
    "torch": "https://docs.pytorch.org/docs/stable/generated/torch.nn.ConvTranspose2d.html (output_padding, "
    "and forward's output_size; the accepted range is torch/nn/modules/conv.py _ConvTransposeNd._output_padding)",
    "nnx": "https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/nn/linear.html#flax.nnx.ConvTranspose "
    "(padding: 'VALID' adds dilation * (kernel_size - 1) padding; 'SAME' keeps the input's shape)",
}


@dataclass(frozen=True)
class Mode:
    """A parsed mode token; see the module docstring for the tokens."""

    framework: str  # explicit, keras, tf, jax or onnx
    padding: str = ""  # same, valid, legacy, same_upper, same_lower, notset
    output_size: tuple[int, ...] | None = None
    output_padding: tuple[int, ...] | None = None

    @property
    def documented(self) -> bool:
        return self.framework == EXPLICIT or self.padding in PADDINGS[self.framework]

    @property
    def kind(self) -> str:
        """The token without its sizes: 'tf_same_o10' -> 'tf_same', 'keras_same_op1' -> 'keras_same'."""
        return EXPLICIT if self.framework == EXPLICIT else f"{self.framework}_{self.padding}"

    @property
    def token(self) -> str:
        if self.framework == EXPLICIT:
            return EXPLICIT
        token = self.kind
        if self.output_size is not None:
            token += "_o" + "x".join(map(str, self.output_size))
        if self.output_padding is not None:
            token += "_op" + "x".join(map(str, self.output_padding))
        return token


def parse(token: str, rank: int) -> Mode:
    """The Mode for a token, checked against the framework's own argument rules; ValueError otherwise.

    An undocumented padding word (``UNDOCUMENTED``) parses, for must-reject cases; ``Mode.documented``
    says which it is.
    """
    if token == EXPLICIT:
        return Mode(EXPLICIT)
    match = _TOKEN.match(token)
    if match is None:
        raise ValueError(f"mode {token!r} is not a mode token (see conformance.modes)")
    framework, padding = match["framework"], match["padding"]
    if padding not in PADDINGS[framework] + UNDOCUMENTED[framework]:
        raise ValueError(f"mode {token!r}: {framework} has no padding {padding!r}; it has {PADDINGS[framework]}")
    sizes = {
        name: tuple(int(v) for v in match[name].split("x")) if match[name] else None
        for name in ("output_size", "output_padding")
    }
    for name, values in sizes.items():
        if values is not None and len(values) != rank:
            raise ValueError(f"mode {token!r}: {name} needs {rank} values, one per spatial axis")
    mode = Mode(framework, padding, sizes["output_size"], sizes["output_padding"])
    wants_size = framework == "tf" or padding == "notset"
    takes_size = wants_size or (framework == "onnx" and padding in ("same_upper", "same_lower", "valid"))
    if wants_size and mode.output_size is None:
        raise ValueError(f"mode {token!r}: {framework} {padding} needs an output size (_o...)")
    if not takes_size and mode.output_size is not None:
        raise ValueError(f"mode {token!r}: {framework} {padding} takes no output size")
    if framework in ("tf", "jax", "torch", "nnx") and mode.output_padding is not None:
        raise ValueError(f"mode {token!r}: {framework} has no output_padding argument")
    if mode.token != token:
        raise ValueError(f"mode {token!r} is not in canonical form ({mode.token!r})")
    return mode


def check_free_pads(mode: Mode, padding, output_padding, stride) -> None:
    """ValueError where a free-pads mode cannot carry the case's pads: ``torch_output_size`` passes one
    padding per axis, and torch turns the output size into an output_padding below the stride only (the
    module accepts sizes from its smallest output up to stride - 1 more; the functional form's bound,
    below the stride or the dilation, is not reachable this way)."""
    if mode.token != "torch_output_size":
        return
    if any(begin != end for begin, end in padding):
        raise ValueError(f"mode {mode.token!r} passes one padding per axis; pads {padding} are asymmetric")
    if any(op >= s for op, s in zip(output_padding, stride)):
        raise ValueError(f"mode {mode.token!r}: output_padding {output_padding} is not below the stride {stride}")


def _crop(full: int, length: int) -> tuple[int, int, int]:
    """An output of ``length`` cut from ``full``: the crop split evenly, an odd one at the end
    (the forward-convolution 'SAME' split), or zeros appended when it is longer than ``full``."""
    total = full - length
    if total < 0:
        return (0, 0, -total)
    return (total // 2, total - total // 2, 0)


def _keras(mode: Mode, n: int, ke: int, s: int, op: int | None) -> tuple[int, int, int]:
    # Keras documents only "'same' results in padding evenly"; the length is deconv_output_length's:
    #   op None: 'valid' n*s + max(ke - s, 0), 'same' n*s
    #   op given: 'valid' (n-1)*s + ke + op, 'same' (n-1)*s + ke - 2*(ke//2) + op.
    # Reading (see the register): the crop full - length is split evenly with the odd one at the end,
    # the forward 'SAME' split Keras inherits from TensorFlow.
    full = (n - 1) * s + ke
    if mode.padding == "valid":
        length = n * s + max(ke - s, 0) if op is None else full + op
    else:
        length = n * s if op is None else full - 2 * (ke // 2) + op
    return _crop(full, length)


def _tf(mode: Mode, n: int, ke: int, s: int, length: int) -> tuple[int, int, int]:
    # conv_transpose is the gradient of conv with input length ``length``: accepted only where the
    # forward conv maps ``length`` back to n. 'SAME': ceil(length / s) == n, pads split evenly, the odd
    # one at the end; 'VALID': floor((length - ke) / s) + 1 == n, no pads (rows past the last window
    # get no gradient: zeros).
    full = (n - 1) * s + ke
    if mode.padding == "same":
        if not (n - 1) * s + 1 <= length <= n * s:
            raise ValueError(f"tf 'SAME' with n={n}, stride={s} accepts output lengths {(n - 1) * s + 1}..{n * s}")
        return _crop(full, length)
    if not full <= length <= full + s - 1:
        raise ValueError(f"tf 'VALID' with n={n}, stride={s}, ke={ke} accepts output lengths {full}..{full + s - 1}")
    return _crop(full, length)


def _jax(mode: Mode, n: int, ke: int, s: int) -> tuple[int, int, int]:
    # "'SAME' and 'VALID' strings are interpreted as the padding of the corresponding forward conv":
    # 'SAME' is the forward conv of an input of length n*s; 'VALID' is documented only by that sentence,
    # and jax gives length n*s + max(ke - s, 0) (the shortest forward input that yields n).
    full = (n - 1) * s + ke
    return _crop(full, n * s if mode.padding == "same" else n * s + max(ke - s, 0))


def _nnx(mode: Mode, n: int, ke: int, s: int) -> tuple[int, int, int]:
    # flax.nnx documents its strings apart from lax's: "VALID adds dilation * (kernel_size - 1) padding to all
    # dimensions" (the full output, as the inverse of a forward 'VALID' conv) and "SAME pads the input so that
    # the output shape is the same as the input shape" (length n). Reading: the crop of 'SAME' is split as
    # every other 'SAME' here, evenly with the odd one at the end (the docs do not say).
    full = (n - 1) * s + ke
    return _crop(full, n if mode.padding == "same" else full)


def _onnx(mode: Mode, n: int, ke: int, s: int, op: int, length: int | None) -> tuple[int, int, int]:
    # auto_pad SAME_*: output_shape[i] = input_shape[i] * strides[i]; with output_shape given it wins.
    # total_padding = stride * (n - 1) + output_padding + ke - output_shape; SAME_UPPER:
    # begin = total / 2, end = total - begin; otherwise (SAME_LOWER, NOTSET) begin = total - total / 2.
    # VALID: no pads, length (n - 1) * s + ke + output_padding. The spec does not define VALID with an
    # output_shape; by the letter of its text it takes the "otherwise" split, as NOTSET does.
    # Reading: a negative total (an output longer than full + output_padding) means zeros appended.
    full = (n - 1) * s + ke
    if mode.padding == "valid" and length is None:
        return _crop(full, full + op)
    if length is None:
        length = n * s
    elif not 1 <= length <= full + op:  # pads are >= 0: an output_shape past full + op is none they give
        raise ValueError(f"onnx output_shape {length} is outside 1..{full + op} (pads >= 0) with n={n}, ke={ke}, s={s}")
    total = full + op - length
    if total < 0:
        return _crop(full, length)
    begin = total // 2 if mode.padding == "same_upper" else total - total // 2
    return _normal(begin, total - begin, op)


def _normal(begin: int, end: int, output_padding: int) -> tuple[int, int, int]:
    """(begin, end, op) with op <= end is the same output as (begin, end - op, 0): the appended
    positions hold the values the crop removed. Normal form keeps only one of end and op."""
    shared = min(end, output_padding)
    return (begin, end - shared, output_padding - shared)


def normal_form(padding, output_padding) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """The canonical pads and output_padding in normal form, per axis."""
    triples = [_normal(b, e, op) for (b, e), op in zip(padding, output_padding)]
    return tuple((b, e) for b, e, _ in triples), tuple(op for _, _, op in triples)


def meaning(mode: Mode, input_size, kernel, stride, dilation):
    """The canonical ``(padding pairs, output_padding)`` the mode stands for, in normal form.

    ValueError where the framework's documented rule does not accept the mode for these sizes.
    """
    if mode.token in FREE_PADS:
        raise ValueError(f"mode {mode.token!r} takes the case's explicit pads; it has no meaning of its own")
    if not mode.documented:
        raise ValueError(f"mode {mode.token!r}: {mode.framework} documents no padding {mode.padding!r} here")
    triples = []
    for axis, (n, k, s, d) in enumerate(zip(input_size, kernel, stride, dilation)):
        ke = d * (k - 1) + 1
        op = None if mode.output_padding is None else mode.output_padding[axis]
        # Keras documents output_padding < stride; ONNX's bound is read as PyTorch's (see reference.geometry).
        bound = s if mode.framework == "keras" else max(s, d)
        if op is not None and op >= bound:
            raise ValueError(f"mode {mode.token!r}: output_padding {op} is not below {bound} on axis {axis}")
        length = None if mode.output_size is None else mode.output_size[axis]
        if mode.framework == "keras":
            triples.append(_keras(mode, n, ke, s, op))
        elif mode.framework == "tf":
            triples.append(_tf(mode, n, ke, s, length))
        elif mode.framework == "jax":
            triples.append(_jax(mode, n, ke, s))
        elif mode.framework == "nnx":
            triples.append(_nnx(mode, n, ke, s))
        else:
            triples.append(_onnx(mode, n, ke, s, op or 0, length))
    return tuple((b, e) for b, e, _ in triples), tuple(op for _, _, op in triples)


def expressing(candidates, case) -> Mode | None:
    """The first candidate mode whose documented meaning is the case's canonical pads, or None.

    Adapters of frameworks without explicit pads use it to translate an explicit case into one of
    their own modes, and to say plainly when none means the same. ``case`` is a ``Case`` (this
    module sits below ``conformance.case`` and reads only its fields).
    """
    wanted = normal_form(case.padding, case.output_padding)
    for mode in candidates:
        try:
            if meaning(mode, case.input_size, case.kernel, case.stride, case.dilation) == wanted:
                return mode
        except ValueError:
            continue
    return None


def keras_equivalent(case) -> Mode | None:
    """The Keras (padding, output_padding) setting that means the case's pads, or None."""
    candidates = [Mode("keras", p) for p in ("valid", "same")] + [
        Mode("keras", p, output_padding=op)
        for p in ("valid", "same")
        for op in itertools.product(*(range(s) for s in case.stride))
    ]
    return expressing(candidates, case)


def tf_string_equivalent(case) -> Mode | None:
    """The tf.nn 'VALID' or 'SAME' call (with its output_shape) that means the case's pads, or None."""
    size = case.geometry.output_size
    return expressing([Mode("tf", p, output_size=size) for p in ("valid", "same")], case)
