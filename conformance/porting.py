"""Porting a transposed convolution between frameworks: every way each framework spells a padding at one
geometry, what each spelling means, and which cases prove it.

A spelling is the padding arguments a porter writes in one framework (torch ``padding=1,
output_padding=0``; ONNX ``auto_pad="SAME_UPPER"``; tf.nn ``padding="SAME", output_shape=[N, 32, C_out]``).
Its meaning is the canonical one of the suite (``conformance.case``): per axis, the crop at the begin and
at the end of the full transposed output and the zeros appended after it, in ``conformance.modes``'s
normal form. Two spellings are the same layer when their meanings are equal at the same geometry (input
size, kernel, stride, dilation per axis).

Nothing here restates a padding rule. A spelling is a ``Case`` (a mode token of ``conformance.modes``, or
explicit pads), so its meaning is the case's own; its arguments are those the framework's built-in adapter
passes for that case (the adapters' own translation functions); which cases an adapter takes, and which it
cannot express, come from its capability table. A spelling is proved by a passing record of an adapter of
that framework, at that geometry, whose case the adapter spelled so.
"""

from __future__ import annotations

import functools
import gc
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import adapters
from adapters.capabilities import OUTPUT_PADDING, PADS, limits
from conformance import modes
from conformance.case import Case
from conformance.grid import MODE_VARIANTS_PLAIN
from conformance.records import PASSING, raw_outcome
from conformance.runner import given_to


def _torch_arguments(adapter, case: Case) -> dict:
    from adapters.pytorch import symmetric_padding

    return {"padding": symmetric_padding(case), "output_padding": case.output_padding}


def _onnx_arguments(adapter, case: Case) -> dict:
    from adapters.onnx_runtimes import node_attributes

    attributes = node_attributes(case)
    return {
        name: attributes[name] for name in ("auto_pad", "pads", "output_padding", "output_shape") if name in attributes
    }


def _tf_arguments(adapter, case: Case) -> dict:
    from adapters.tensorflow_nn import tf_arguments

    padding, size = tf_arguments(case, adapter.explicit_pads)
    return {
        "padding": padding,
        "output_shape": [Placeholder("N"), *size, Placeholder("C_out")],
    }  # tf.nn's is (batch, *spatial, channels)


def _jax_arguments(adapter, case: Case) -> dict | None:
    from adapters.jax_lax import jax_call

    call = jax_call(case)
    if call["function"] != "conv_transpose":  # grouped: lax.conv_general_dilated, not a conv_transpose spelling
        return None
    if isinstance(call["padding"], str):  # 'SAME' and 'VALID' mean the same under either flag
        return {"padding": call["padding"]}
    return {
        "padding": [tuple(pair) for pair in call["padding"]],
        "use_consistent_padding": call["use_consistent_padding"],
    }


def _keras_arguments(adapter, case: Case) -> dict:
    from adapters.keras_layers import keras_arguments

    padding, output_padding = keras_arguments(case)
    return {"padding": padding, "output_padding": output_padding}


@dataclass(frozen=True)
class Framework:
    """How one framework is asked for a transposed convolution's padding."""

    call: str  # what a porter writes; {rank} is the number of spatial axes
    adapter_frameworks: tuple[str, ...]  # the ``framework`` of the built-in adapters that run it
    # The padding arguments that one of those adapters passes for a case (None: not through this call).
    arguments: Callable[[object, Case], dict | None]
    one_int_for_every_axis: bool = False  # an int stands for every axis (shown so in 1-D)


# Every framework a porter may come from or go to, and how its spelling is read from a case.
FRAMEWORKS = {
    "torch": Framework("torch.nn.functional.conv_transpose{rank}d", ("torch",), _torch_arguments, True),
    "onnx": Framework("ONNX ConvTranspose", ("onnxruntime", "onnx_reference", "onnx_shape_inference"), _onnx_arguments),
    "tf": Framework("tf.nn.conv{rank}d_transpose", ("tensorflow",), _tf_arguments),
    "jax": Framework("jax.lax.conv_transpose", ("jax",), _jax_arguments),
    "keras": Framework("keras.layers.Conv{rank}DTranspose", ("keras",), _keras_arguments, True),
}


@functools.cache
def _adapter(name: str):
    """A built-in adapter's instance, made once (its capabilities and argument spelling are all that is read)."""
    return adapters.load(name)


def mode_family(framework: str) -> str | None:
    """The framework's family of mode tokens in conformance.modes (which names them as here); None: it has
    no padding modes (torch)."""
    return framework if framework in modes.FRAMEWORKS else None


@functools.cache
def framework_adapters() -> dict[str, str]:
    """Each built-in adapter that computes values -> the framework whose spelling it runs. Shape-only
    adapters (ONNX shape inference) are left out: a right shape does not show the right window."""
    found = {}
    for name in adapters.BUILTIN:
        adapter = _adapter(name)
        if not adapters.capabilities(adapter).values:
            continue
        for framework, table in FRAMEWORKS.items():
            if adapters.framework(adapter) in table.adapter_frameworks:
                found[name] = framework
    return found


def _adapters_of(framework: str) -> list[str]:
    return [name for name, owner in framework_adapters().items() if owner == framework]


@dataclass(frozen=True)
class Point:
    """A geometry: per spatial axis, the input size, kernel, stride and dilation."""

    input_size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]

    @classmethod
    def of(cls, case: Case) -> Point:
        return cls(case.input_size, case.kernel, case.stride, case.dilation)

    @property
    def rank(self) -> int:
        return len(self.input_size)

    def axes(self):
        return zip(self.input_size, self.kernel, self.stride, self.dilation)

    def case(self, variant: dict | None = None, **fields) -> Case:
        """The case at this point (ValueError where the suite refuses it); ``variant``: batch, channels, dtype
        (by default the mode grid's plain variant in float32, which every CPU adapter computes)."""
        return _case(self, tuple(sorted((variant or DEFAULT_VARIANT).items())), tuple(sorted(fields.items())))

    def fields(self) -> dict:
        return dict(input_size=self.input_size, kernel=self.kernel, stride=self.stride, dilation=self.dilation)

    def to_data(self) -> dict:
        return {name: list(values) for name, values in self.fields().items()}


def geometry_point(geometry) -> Point:
    """A Point from a Point or a dict of input_size, kernel, stride and dilation (ints or one per axis)."""
    if isinstance(geometry, Point):
        return geometry
    case = Case(
        input_size=tuple(geometry["input_size"])
        if not isinstance(geometry["input_size"], int)
        else (geometry["input_size"],),
        kernel=geometry["kernel"],
        stride=geometry.get("stride", 1),
        dilation=geometry.get("dilation", 1),
    )
    return Point.of(case)


DEFAULT_VARIANT = {**MODE_VARIANTS_PLAIN, "dtype": "float32"}


@functools.lru_cache(maxsize=1 << 16)
def _case(point: Point, variant: tuple, fields: tuple) -> Case:
    # Cached: each framework's candidates at a point share the explicit ones.
    return Case(**dict(variant), **point.fields(), **dict(fields))


# A meaning: the normal-form ((begin, end) per axis, appended per axis) of conformance.modes.
Meaning = tuple[tuple[tuple[int, int], ...], tuple[int, ...]]


def meaning_of(case: Case) -> Meaning:
    return modes.normal_form(case.padding, case.output_padding)


def describe(point: Point, meaning: Meaning) -> dict:
    """A meaning as data: output and full lengths, and per axis the begin and end crops and appended zeros."""
    case = point.case(padding=meaning[0], output_padding=meaning[1])
    return {
        "output_size": list(case.geometry.output_size),
        "full_size": list(case.geometry.full_size),
        "begin": [begin for begin, _ in meaning[0]],
        "end": [end for _, end in meaning[0]],
        "appended": list(meaning[1]),
    }


def meaning_text(point: Point, meaning: Meaning) -> str:
    described = describe(point, meaning)
    axes = []
    for axis, (length, full, begin, end, appended) in enumerate(
        zip(*(described[key] for key in ("output_size", "full_size", "begin", "end", "appended")))
    ):
        said = f"output length {length} of the full {full}: crop {begin} at the begin, {end} at the end"
        if appended:
            said += f", then append {appended} zero{'s' * (appended > 1)} (bias only) at the end"
        axes.append(f"axis {axis}: {said}" if point.rank > 1 else said)
    return "; ".join(axes)


class Placeholder(str):
    """A value the porter fills in (tf.nn's batch and channels in output_shape), shown bare."""


@dataclass(frozen=True)
class Spelling:
    """A framework's padding arguments as a porter writes them, in the order the call takes them."""

    framework: str
    text: str  # e.g. 'padding=1, output_padding=0'
    arguments_json: str  # the same as JSON: {name: value}

    @classmethod
    def of(cls, framework: str, arguments: dict) -> Spelling:
        one_int = FRAMEWORKS[framework].one_int_for_every_axis
        text = ", ".join(f"{name}={_shown(value, one_int)}" for name, value in arguments.items())
        return cls(framework, text, json.dumps(arguments))

    @property
    def arguments(self) -> dict:
        return json.loads(self.arguments_json)

    def to_data(self) -> dict:
        return {"framework": self.framework, "text": self.text, "arguments": self.arguments}


def _shown(value, one_int_for_every_axis: bool) -> str:
    """A value as Python source: tuples as tuples, lists as lists, strings quoted."""
    if isinstance(value, Placeholder):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple) and len(value) == 1 and one_int_for_every_axis:
        return str(value[0])  # the API takes one int for every axis: the 1-D form a porter writes
    if isinstance(value, tuple):
        return "(" + ", ".join(_shown(item, False) for item in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item, False) for item in value) + "]"
    return str(value)


def spell(adapter_name: str, case: Case) -> Spelling | None:
    """How that built-in adapter spells the case in its framework; None where it is not given the case or
    its API cannot express it (its capability table), or the call is not the framework's transposed one."""
    if adapter_name not in framework_adapters():
        return None
    return _spelled(_alike()[adapter_name], case)


@functools.cache
def _alike() -> dict[str, str]:
    """Each adapter -> the first built-in adapter that spells every forward case as it does: same
    framework, modes and capability table (its data format, must-reject rules and source aside: a layout
    is no padding). Keras on each backend and layout, say, are spelled once for all."""
    first, found = {}, {}
    for name, framework in framework_adapters().items():
        adapter = _adapter(name)
        table = adapters.capabilities(adapter).to_data()
        facts = tuple(sorted((k, repr(v)) for k, v in table.items() if k not in ("data_format", "rejects", "source")))
        found[name] = first.setdefault((framework, adapters.modes(adapter), facts), name)
    return found


@functools.lru_cache(maxsize=1 << 19)
def _limits(adapter_name: str, case: Case) -> list[tuple[str, str]]:
    """The adapter's capability limits for the case (empty: its API can express it)."""
    adapter = _adapter(adapter_name)
    return limits(adapters.capabilities(adapter), adapters.modes(adapter), case)


@functools.lru_cache(maxsize=1 << 19)
def _spelled(adapter_name: str, case: Case) -> Spelling | None:
    adapter = _adapter(adapter_name)
    if not given_to(case, adapters.capabilities(adapter), adapters.modes(adapter)) or _limits(adapter_name, case):
        return None
    framework = framework_adapters()[adapter_name]
    arguments = FRAMEWORKS[framework].arguments(adapter, case)
    if arguments is None:
        return None
    return Spelling.of(framework, arguments)


@functools.lru_cache(maxsize=1 << 16)
def _axis_meaning(family: str, padding: str, n: int, k: int, s: int, d: int, length, output_padding):
    """One axis's (begin, end, appended) under a mode (conformance.modes's rules are per axis); None where
    the mode's documented rule refuses it."""
    mode = modes.Mode(
        family,
        padding,
        None if length is None else (length,),
        None if output_padding is None else (output_padding,),
    )
    try:
        (pair,), (appended,) = modes.meaning(mode, (n,), (k,), (s,), (d,))
    except ValueError:
        return None
    return (*pair, appended)


def _mode_tokens(family: str, point: Point, meaning: Meaning) -> list[str]:
    """Every mode token of the family that means ``meaning`` at the point, simplest first: without output
    size or output_padding, then with output_padding, then with the output size."""
    length = tuple(describe(point, meaning)["output_size"])
    wanted = [(*pair, appended) for pair, appended in zip(*meaning)]
    tokens = []
    for sized, padded in ((False, False), (False, True), (True, False), (True, True)):
        # modes.PADDINGS holds each framework's documented padding words; the free-pads modes
        # (jax_legacy) are explicit pads, asked as such.
        for padding in modes.PADDINGS[family]:
            form = modes.Mode(family, padding, length if sized else None, (0,) * point.rank if padded else None)
            if form.kind in modes.FREE_PADS:
                continue
            if not _takes_form(form.token, point.rank):
                continue
            choices = [
                [
                    op
                    # The widest output_padding any framework takes is below max(stride, dilation)
                    # (reference.geometry); a framework's narrower bound is its mode's rule.
                    for op in (range(max(s, d)) if padded else (None,))
                    if _axis_meaning(family, padding, n, k, s, d, size if sized else None, op) == want
                ]
                for (n, k, s, d), size, want in zip(point.axes(), length, wanted)
            ]
            for ops in itertools.product(*choices):
                tokens.append(modes.Mode(family, padding, length if sized else None, ops if padded else None).token)
    return tokens


@functools.lru_cache
def _takes_form(token: str, rank: int) -> bool:
    """Whether the framework takes this form of arguments (an output size, an output_padding) at all."""
    try:
        modes.parse(token, rank)
    except ValueError:
        return False
    return True


def _symmetric_pads(point: Point, meaning: Meaning) -> tuple | None:
    """The one padding per axis and output_padding (below max(stride, dilation), the widest bound) whose
    normal form is the meaning, as (padding pairs, output_padding); None where no such pair exists."""
    found = []
    for (_, _, s, d), pair, appended in zip(point.axes(), *meaning):
        begin = pair[0]  # the normal form never moves the begin crop: the one padding must be it
        options = [
            op for op in range(max(s, d)) if modes.normal_form(((begin, begin),), (op,)) == ((pair,), (appended,))
        ]
        if not options:
            return None
        found.append((begin, options[0]))
    return tuple((p, p) for p, _ in found), tuple(op for _, op in found)


def _candidates(framework: str, point: Point, meaning: Meaning, variant: dict | None) -> list[Case]:
    """Cases at the point meaning ``meaning`` that the framework's adapters may take: its own mode tokens,
    and the explicit pads (the normal form, and one padding per axis) as explicit and free-pads modes."""
    family = mode_family(framework)
    tokens = _mode_tokens(family, point, meaning) if family else []
    pads = [meaning]
    symmetric = _symmetric_pads(point, meaning)
    if symmetric is not None and symmetric != meaning:
        pads.append(symmetric)
    free = [token for token in sorted(modes.FREE_PADS) if token == modes.EXPLICIT or token.startswith(f"{family}_")]
    plain = [token for token in tokens if modes.parse(token, point.rank).token == modes.parse(token, point.rank).kind]
    cases = [point.case(variant, mode=token) for token in plain]
    for padding, output_padding in pads:
        for token in free:
            try:
                cases.append(point.case(variant, padding=padding, output_padding=output_padding, mode=token))
            except ValueError:  # an output_padding the suite refuses: no explicit spelling
                continue
    cases += [point.case(variant, mode=token) for token in tokens if token not in plain]
    return cases


def spellings(framework: str, point: Point, meaning: Meaning, variant: dict | None = None) -> dict[Spelling, dict]:
    """Every spelling of the framework meaning ``meaning`` at the point, simplest first, each with the
    cases (built with ``variant``'s batch, channels and dtype) that ask it and the adapters given them:
    ``{spelling: {case_id: [adapter, ...]}}``."""
    found: dict[Spelling, dict] = {}
    for case in _candidates(framework, point, meaning, variant):
        if meaning_of(case) != meaning:
            continue
        for name in _adapters_of(framework):
            spelled = spell(name, case)
            if spelled is not None:
                found.setdefault(spelled, {}).setdefault(case.id, []).append(name)
    return {spelling: cases for spelling, cases in found.items() if not _default_written(spelling, found)}


def _default_written(spelling: Spelling, found) -> bool:
    """An output_padding of zeros written where the same call without it is found too (ONNX's default is 0:
    writing it changes nothing)."""
    arguments = spelling.arguments
    written = arguments.pop("output_padding", None)
    if written is None or any(written):
        return False
    return Spelling.of(spelling.framework, arguments) in found


NO_LIMIT = "none of its spellings means this"  # no capability limit names a reason


def cannot(framework: str, point: Point, meaning: Meaning, variant: dict | None = None) -> str:
    """Why the framework has no spelling for the meaning at the point, from its adapters' capability tables."""
    try:
        case = point.case(variant, padding=meaning[0], output_padding=meaning[1])
    except ValueError as error:
        return f"{framework}: {error}"
    reasons = []
    alike = sorted({_alike()[name] for name in _adapters_of(framework)}, key=list(_alike()).index)
    for name in alike:
        capabilities = adapters.capabilities(_adapter(name))
        found = [reason for _, reason in _limits(name, case)]
        if capabilities.pads == "symmetric" and case.rank in capabilities.pad_ranks and found:
            found = [
                f"it takes {PADS['symmetric']}, and an output_padding {OUTPUT_PADDING[capabilities.output_padding]}"
                f" appended at the end: no such pair crops {_crops(meaning)} (it can crop less at the end, "
                "never more, and only by the output_padding)"
            ]
        if found:
            reasons.append(f"{name}: " + ", ".join(found) if len(alike) > 1 else ", ".join(found))
    said = "; ".join(reasons) or NO_LIMIT
    return f"{framework} cannot express {_crops(meaning)}: {said}"


def _crops(meaning: Meaning) -> str:
    parts = [
        f"begin {begin}, end {end}" + (f", {appended} appended" if appended else "")
        for (begin, end), appended in zip(*meaning)
    ]
    return "; ".join(parts) if len(parts) == 1 else "; ".join(f"axis {i}: {part}" for i, part in enumerate(parts))


# ---- reading a spelling given by hand (the translate command) ----

SOURCE_PARAMETERS = ("padding", "output_padding", "output_size", "use_consistent_padding")


def per_axis(name: str, value, rank: int, pairs: bool = False) -> tuple | None:
    """Per-axis values from an int, a sequence, or text as in case ids: ``4`` or ``4x4`` (``pairs``: also
    ``begin.end`` per axis, ``1.2`` or ``1.2x0.0``); None stays None."""
    if value is None:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else str(value).split("x")
    items = items * rank if len(items) == 1 else items
    if len(items) != rank:
        raise ValueError(f"{name} {value!r}: give one value or {rank} joined by x, one per spatial axis")
    try:
        return tuple(
            tuple(int(v) for v in str(item).split(".", 1)) if pairs and "." in str(item) else int(item)
            for item in items
        )
    except ValueError:
        said = "an int or begin.end" if pairs else "an int"
        raise ValueError(f"{name} {value!r}: each value must be {said}") from None


def source_case(framework: str, parameters: dict, point: Point, variant: dict | None = None) -> Case:
    """The case a spelling given by hand asks for; ValueError (a sentence for the user) where the framework
    does not take it. ``parameters``: padding (a padding word, or per axis an int or begin.end pair),
    output_padding, output_size and, for jax's pairs, use_consistent_padding."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}: choose one of {', '.join(FRAMEWORKS)}")
    unknown = sorted(set(parameters) - set(SOURCE_PARAMETERS))
    if unknown:
        raise ValueError(f"unknown parameters {unknown}: give {', '.join(SOURCE_PARAMETERS)}")
    output_padding = per_axis("output_padding", parameters.get("output_padding"), point.rank)
    output_size = per_axis("output_size", parameters.get("output_size"), point.rank)
    if output_size is not None and min(output_size) < 1:
        raise ValueError(f"output size {list(output_size)}: each must be at least 1")
    if output_padding is not None and min(output_padding) < 0:
        raise ValueError(f"output_padding {list(output_padding)}: each must be at least 0")
    consistent = parameters.get("use_consistent_padding")
    if consistent is not None and framework != "jax":
        raise ValueError("use_consistent_padding is an argument of jax.lax.conv_transpose only")
    padding = parameters.get("padding")
    if isinstance(padding, str) and padding.replace("_", "").isalpha():
        return _mode_source(framework, padding, output_size, output_padding, point, variant)
    pads = per_axis("padding", 0 if padding is None else padding, point.rank, pairs=True)
    pairs = tuple(pad if isinstance(pad, tuple) else (pad, pad) for pad in pads)
    if framework == "jax":
        if output_padding is not None or output_size is not None:
            raise ValueError("jax.lax.conv_transpose has no output_padding or output size: its pads carry them")
        if consistent is None:
            raise ValueError("jax's pairs mean other pads under use_consistent_padding=True than False: say which")
        return _jax_pairs_source(point, pairs, consistent, variant)
    if framework == "keras":
        raise ValueError("keras takes padding 'same' or 'valid' only")
    if framework == "torch" and any(isinstance(pad, tuple) for pad in pads):
        raise ValueError(f"torch takes {PADS['symmetric']} (an int per axis), not begin.end pairs")
    if min(min(pair) for pair in pairs) < 0:
        raise ValueError(f"padding {padding!r}: {framework} takes no negative pads")
    if framework == "tf":  # no output_padding argument: the output_shape carries it
        if output_padding is not None:
            raise ValueError("tf.nn has no output_padding argument: give the output size (its output_shape)")
        if output_size is not None:
            cropped = point.case(padding=pairs).geometry.output_size
            output_padding = tuple(size - length for size, length in zip(output_size, cropped))
    elif output_size is not None:
        words = "'notset' or an auto_pad word" if framework == "onnx" else "none"
        raise ValueError(f"{framework} with explicit pads takes output_padding, not an output size (padding {words})")
    return point.case(variant, padding=pairs, output_padding=output_padding or 0)


def _mode_source(framework, word, output_size, output_padding, point, variant) -> Case:
    family = mode_family(framework)
    # modes.PADDINGS: each framework's documented words; free-pads words take explicit pads.
    words = [w for w in modes.PADDINGS[family] if f"{family}_{w}" not in modes.FREE_PADS] if family else []
    if not words:  # torch's only mode (an output size) takes the explicit pads
        raise ValueError(f"{framework} has no padding words ({word!r}): give one padding per axis (an int)")
    if word.lower() not in words:
        raise ValueError(f"{framework} has no padding {word!r}; it has {', '.join(repr(w) for w in words)}")
    token = modes.Mode(family, word.lower(), output_size, output_padding).token
    sized = modes.Mode(family, word.lower(), (1,) * point.rank, output_padding).token
    if output_size is None and not _takes_form(token, point.rank) and _takes_form(sized, point.rank):
        raise ValueError(f"{framework} padding {word!r} needs the output size (its output_shape)")
    modes.parse(token, point.rank)  # the framework's own argument rules, in modes.py's words
    return point.case(variant, mode=token)


def _jax_pairs_source(point: Point, pairs, consistent: bool, variant) -> Case:
    """jax's pairs, read as the jax adapter passes them: on each axis, the crops whose pair it is."""
    mode = modes.EXPLICIT if consistent else "jax_legacy"
    found = []
    for axis, ((n, k, s, d), pair) in enumerate(zip(point.axes(), pairs)):
        one = Point((n,), (k,), (s,), (d,))
        full = one.case().geometry.full_size[0]
        crops = [(b, e, 0) for b in range(full) for e in range(full - b)]
        crops += [(b, 0, a) for b in range(full) for a in range(1, max(s, d))]  # below the widest bound
        for begin, end, appended in crops:
            spelled = spell("jax", one.case(padding=((begin, end),), output_padding=(appended,), mode=mode))
            if spelled is not None and spelled.arguments["padding"] == [list(pair)]:
                found.append((begin, end, appended))
                break
        else:
            raise ValueError(f"jax padding {pair} on axis {axis} leaves no output at this geometry")
    pads = tuple((begin, end) for begin, end, _ in found)
    return point.case(variant, padding=pads, output_padding=tuple(a for _, _, a in found), mode=mode)


def source_spelling(framework: str, case: Case) -> Spelling:
    """The case as the framework's adapters spell it; explicit pads only by an adapter that takes them
    (tf.nn's string path would turn them into 'SAME' or 'VALID', which the porter did not write)."""
    for name in _adapters_of(framework):
        capabilities = adapters.capabilities(_adapter(name))
        takes_pads = capabilities.pads != "modes" and case.rank in capabilities.pad_ranks
        spelled = spell(name, case)
        if spelled is not None and (case.mode != modes.EXPLICIT or takes_pads):
            return spelled
    if case.mode == modes.EXPLICIT:
        raise ValueError(f"{framework} takes no explicit pads in {case.rank}-D: give one of its padding words")
    raise ValueError(cannot(framework, Point.of(case), meaning_of(case)))


def translate(source_framework: str, source_params: dict, geometry, target_framework: str) -> dict:
    """The target framework's spellings with the same meaning as the source's, or why it has none.

    ``geometry``: a Point or a dict of input_size, kernel, stride, dilation. Returns plain data: the source
    (framework, spelling, meaning), the target and its spellings (each with the cases that would prove
    it: ``{case_id: [adapter, ...]}``), and ``cannot``: None, or the reason there are none.
    """
    if target_framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {target_framework!r}: choose one of {', '.join(FRAMEWORKS)}")
    point = geometry_point(geometry)
    case = source_case(source_framework, source_params, point)
    meaning = meaning_of(case)
    found = spellings(target_framework, point, meaning)
    return {
        "geometry": point.to_data(),
        "source": {
            "framework": source_framework,
            "spelling": source_spelling(source_framework, case).to_data(),
            "case_id": case.id,
            "meaning": describe(point, meaning),
        },
        "target": target_framework,
        "spellings": [{**spelling.to_data(), "cases": cases} for spelling, cases in found.items()],
        "cannot": None if found else cannot(target_framework, point, meaning),
    }


# ---- what records prove ----


def passed(record: dict) -> bool:
    """Whether the framework's output matched the reference (before the register, or after it)."""
    return raw_outcome(record) == "pass" or record["outcome"] in PASSING


@dataclass
class _Seen:
    """A spelling recorded at a point: its meaning, the passing records and the others."""

    meaning: Meaning
    passing: list
    other: list


def recorded_spellings(records) -> dict[Point, dict[Spelling, _Seen]]:
    """Per geometry point, the spellings the records' adapters used there (forward cases, no must-reject
    ones), with the records behind each."""
    found: dict[Point, dict[Spelling, _Seen]] = defaultdict(dict)
    # Every adapter's file names the same cases, and alike adapters spell them alike: each case id is
    # parsed, and spelled per kind of adapter, once.
    spelled_as: dict[tuple[str, str], tuple] = {}
    for record in records:
        # An adapter that could not express the case spelled nothing; a shape-only one proves no window.
        if raw_outcome(record) == "unsupported" or record["adapter"] not in framework_adapters():
            continue
        key = (_alike()[record["adapter"]], record["case_id"])
        if key not in spelled_as:
            case = Case.from_id(record["case_id"])
            forward = not case.violates and case.direction == "forward"
            spelled_as[key] = (case, spell(record["adapter"], case) if forward else None)
        case, spelled = spelled_as[key]
        if spelled is None:
            continue
        seen = found[Point.of(case)].setdefault(spelled, _Seen(meaning_of(case), [], []))
        if passed(record):
            seen.passing.append({"adapter": record["adapter"], "case_id": case.id})
        else:
            seen.other.append({"adapter": record["adapter"], "case_id": case.id, "outcome": record["outcome"]})
    return found


def recorded_refusals(records) -> dict[tuple, str]:
    """(point, meaning, framework) -> why an adapter of that framework could not express a case meaning that
    there (the first such record's message): the evidence a report can afford, where working out every
    spelling (``cannot``) is too slow."""
    found: dict[tuple, str] = {}
    for record in records:
        if raw_outcome(record) != "unsupported" or record["adapter"] not in framework_adapters():
            continue
        case = Case.from_id(record["case_id"])
        key = (Point.of(case), meaning_of(case), framework_adapters()[record["adapter"]])
        message = (record.get("metrics") or {}).get("message") or "unsupported"
        found.setdefault(key, f"{record['adapter']}: {message}")
    return found


def _variant(cases_at_point: list[Case]) -> dict:
    """The batch, channels and dtype for the cases that would prove a spelling at a point: those of the
    point's first ungrouped case (the mode grid asks every mode with it), else ungrouped channels."""
    ordered = sorted(cases_at_point, key=lambda case: (case.groups > 1, case.id))
    case = ordered[0]
    channels = (case.in_channels, case.out_channels) if case.groups == 1 else (1, 1)
    return dict(batch=case.batch, in_channels=channels[0], out_channels=channels[1], bias=case.bias, dtype=case.dtype)


def _sort_key(point: Point):
    return (point.rank, point.input_size, point.kernel, point.stride, point.dilation)


def porting_table(records, every_spelling: bool = True) -> list[dict]:
    """For each geometry point of the records (forward cases, no must-reject ones), each meaning some
    spelling recorded there has, and every framework's spellings of it: each with the passing records that
    back it (``status`` "backed"), the records that ran it and did not pass ("not passing"), or none
    ("not run here", with the cases that would prove it); a framework with no spelling says why (``cannot``).
    Plain data, sorted deterministically.

    ``every_spelling=False`` lists the recorded spellings only (no "not run here" ones), and gives as the
    reason a framework cannot express a meaning its adapters' own refusals there (none: not asked here):
    what a report of hundreds of thousands of records can afford (working out every spelling takes about
    a millisecond per point, meaning and framework)."""
    # Tens of thousands of small objects live on through this: each automatic collection would walk them
    # all again (as reports.results.load, which reads the records, says).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _porting_table(list(records), every_spelling)
    finally:
        if collecting:
            gc.enable()


def _porting_table(records: list[dict], every_spelling: bool) -> list[dict]:
    recorded = recorded_spellings(records)
    refused = {} if every_spelling else recorded_refusals(records)
    cases_at: dict[Point, list[Case]] = defaultdict(list)
    for point, seen in recorded.items():
        for entry in seen.values():
            for item in entry.passing + entry.other:
                cases_at[point].append(Case.from_id(item["case_id"]))
    table = []
    for point in sorted(recorded, key=_sort_key):
        seen = recorded[point]
        variant = _variant(cases_at[point])
        rows = []
        for meaning in sorted({entry.meaning for entry in seen.values()}):
            frameworks = {}
            for framework in FRAMEWORKS:
                found = spellings(framework, point, meaning, variant) if every_spelling else {}
                extra = [s for s in seen if s.framework == framework and seen[s].meaning == meaning and s not in found]
                entries = []
                for spelling in [*found, *sorted(extra, key=lambda s: s.text)]:
                    entries.append(_entry(spelling, seen.get(spelling), found.get(spelling, {})))
                if entries:
                    reason = None
                elif every_spelling:
                    reason = cannot(framework, point, meaning, variant)
                else:  # the adapters' own refusals say it; without one, it was not asked here
                    said = refused.get((point, meaning, framework))
                    reason = said and f"{framework} cannot express {_crops(meaning)}: {said}"
                frameworks[framework] = {"spellings": entries, "cannot": reason}
            rows.append({"meaning": describe(point, meaning), "frameworks": frameworks})
        table.append({"geometry": point.to_data(), "meanings": rows})
    return table


def _entry(spelling: Spelling, seen: _Seen | None, cases: dict) -> dict:
    backed = sorted(seen.passing, key=lambda r: (r["adapter"], r["case_id"])) if seen else []
    ran = sorted(seen.other, key=lambda r: (r["adapter"], r["case_id"])) if seen else []
    status = "backed" if backed else "not passing" if ran else "not run here"
    return {
        **spelling.to_data(),
        "recorded": seen is not None,
        "status": status,
        "backed_by": backed,
        "not_passing": ran,
        "would_prove": []
        if backed
        else [{"case_id": case_id, "adapters": names} for case_id, names in sorted(cases.items())],
    }


def table_counts(table: list[dict]) -> dict[str, int]:
    """How many spellings of the porting table are backed, not passing and not run here, and how many
    (meaning, framework) cells have no spelling at all."""
    counts = {"backed": 0, "not passing": 0, "not run here": 0, "cannot": 0}
    for point in table:
        for row in point["meanings"]:
            for cell in row["frameworks"].values():
                counts["cannot"] += cell["cannot"] is not None
                for entry in cell["spellings"]:
                    counts[entry["status"]] += 1
    return counts


# ---- the translate command's text ----

# The profiles searched for a case that proves a spelling: the full profile takes seconds to enumerate.
PROFILES_SEARCHED = ("smoke", "default")


@functools.cache
def _profile_points(name: str) -> dict[Point, list[Case]]:
    from conformance.grid import profile

    found = defaultdict(list)
    for case in profile(name):
        if not case.violates and case.direction == "forward":
            found[Point.of(case)].append(case)
    return found


def profile_cases(point: Point, spelling: Spelling) -> list[tuple[str, str, list[str]]]:
    """(profile, case id, adapters) of the first searched profile's cases that ask the spelling at the point."""
    for profile in PROFILES_SEARCHED:
        found = []
        for case in _profile_points(profile).get(point, []):
            names = [name for name in _adapters_of(spelling.framework) if spell(name, case) == spelling]
            if names:
                found.append((profile, case.id, names))
        if found:
            return found
    return []


def run_command(case_id: str, names: list[str]) -> str:
    """The run command for one case on those adapters (those that run on a CPU, where there are some)."""
    on_cpu = [name for name in names if name in adapters.CPU_ADAPTERS] or names
    chosen = " ".join(f"--adapter {name}" for name in on_cpu)
    return f"python -m conformance run {chosen} --case {case_id}"


def _call(framework: str, rank: int) -> str:
    return FRAMEWORKS[framework].call.format(rank=rank)


def _proof_lines(point: Point, spelling: Spelling, cases: dict, recorded: dict | None, indent: str) -> list[str]:
    """Under a spelling: the passing records behind it, or how to run the cases that would prove it."""
    seen = (recorded or {}).get(point, {}).get(spelling)
    if seen is not None and seen.passing:
        return [
            f"{indent}proved by {r['adapter']}: {r['case_id']}"
            for r in sorted(seen.passing, key=lambda r: r["adapter"])
        ]
    lines = []
    if seen is not None:
        lines += [f"{indent}ran, not passing: {r['adapter']}: {r['case_id']} ({r['outcome']})" for r in seen.other]
    elif recorded is not None:
        lines.append(f"{indent}not run in the given results")
    # One case is enough to prove it: a profile's where one asks it here (a run of that profile has it),
    # else the spelling's own case at this point.
    found = profile_cases(point, spelling)
    _, case_id, names = found[0] if found else (None, *next(iter(cases.items()), (None, [])))
    if case_id is not None:
        where = "" if found else " (no case of the smoke or default profile asks it here)"
        lines.append(f"{indent}to prove it{where}: {run_command(case_id, names or _adapters_of(spelling.framework))}")
    return lines


def translation_text(
    source_framework: str, source_params: dict, geometry, targets=(), records: list[dict] | None = None
) -> str:
    """The translate command's output: the source's meaning, then each target's spellings with their
    proofs (the passing records among ``records``, else the command that would run a proving case)."""
    point = geometry_point(geometry)
    case = source_case(source_framework, source_params, point)
    source = source_spelling(source_framework, case)
    meaning = meaning_of(case)
    recorded = None if records is None else recorded_spellings(records)
    given = ", ".join(f"{name} {'x'.join(map(str, values))}" for name, values in point.fields().items())
    lines = [
        f"{source_framework}: {_call(source_framework, point.rank)}({source.text})",
        f"  at {given.replace('_', ' ')}",
        f"  means: {meaning_text(point, meaning)}",
        *_proof_lines(point, source, {case.id: []}, recorded, "  "),
    ]
    for target in targets or [name for name in FRAMEWORKS if name != source_framework]:
        if target not in FRAMEWORKS:
            raise ValueError(f"unknown framework {target!r}: choose one of {', '.join(FRAMEWORKS)}")
        lines += ["", f"{target}: {_call(target, point.rank)}"]
        found = spellings(target, point, meaning)
        if not found:
            lines.append(f"  {cannot(target, point, meaning)}")
        for spelling, cases in found.items():
            lines.append(f"  {spelling.text}")
            lines += _proof_lines(point, spelling, cases, recorded, "    ")
    return "\n".join(lines)
