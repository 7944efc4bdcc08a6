"""Must-reject cases: configurations a framework's own documentation forbids.

A must-reject case is a ``Case`` whose ``violates`` names one rule below; its id ends in ``-x<rule>``.
Its expected behaviour is an error: a refusal is its pass, and an output is ``accepted_invalid``. The
rules are stated here once, on the case's literal fields; which frameworks document each rule, and
where, is each adapter's capability table (``Capabilities.rejects``), and an adapter is given only the
must-reject cases of the rules its framework documents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance import modes


def _mode_refuses(case) -> bool:
    """Whether the mode's documented rule (``conformance.modes``) refuses it at these sizes."""
    try:
        modes.meaning(case.mode_spec, case.input_size, case.kernel, case.stride, case.dilation)
    except ValueError:
        return True
    return False


def _output_padding_at_bound(case) -> bool:
    mode = case.mode_spec
    if mode.output_padding is not None:  # Keras: below the stride; ONNX: as the reference, below either
        return _mode_refuses(case)
    return any(op >= max(s, d) for op, s, d in zip(case.output_padding, case.stride, case.dilation))


def _tf_output_shape_range(case) -> bool:
    return case.mode_spec.framework == "tf" and _mode_refuses(case)


def _onnx_output_shape(case) -> bool:
    # Pads are >= 0 in the spec, so an output_shape past full + output_padding (a negative total
    # padding), or below 1, is one no valid padding gives (modes._onnx refuses it).
    mode = case.mode_spec
    return mode.framework == "onnx" and mode.output_size is not None and _mode_refuses(case)


@dataclass(frozen=True)
class Rule:
    token: str
    meaning: str
    broken: Callable  # case -> whether its literal fields break the rule


RULES = {
    rule.token: rule
    for rule in (
        Rule("negative_pad", "a negative padding", lambda c: any(p < 0 for pair in c.padding for p in pair)),
        Rule("output_padding_at_bound", "output_padding at or beyond the documented bound", _output_padding_at_bound),
        Rule("output_below_one", "an output length below 1", lambda c: any(n < 1 for n in c.geometry.output_size)),
        Rule(
            "undocumented_padding",
            "a padding mode the API does not document for its transposed convolution",
            lambda c: c.mode_spec.framework != modes.EXPLICIT and not c.mode_spec.documented,
        ),
        Rule("groups_not_dividing", "groups that do not divide the input channels", lambda c: c.in_channels % c.groups),
        Rule("weight_channels", "a weight whose input channels do not match the input's", lambda c: True),
        Rule("zero_size", "a zero-size input dimension", lambda c: c.batch == 0 or 0 in c.input_size),
        Rule("tf_output_shape_range", "a tf output_shape outside the range TF documents", _tf_output_shape_range),
        Rule("onnx_output_shape", "an ONNX output_shape no non-negative pads can give", _onnx_output_shape),
    )
}


def check(case) -> None:
    """ValueError unless the case breaks the rule it says it violates."""
    rule = RULES.get(case.violates)
    if rule is None:
        raise ValueError(f"violates must be one of {sorted(RULES)}, got {case.violates!r}")
    if not rule.broken(case):
        raise ValueError(f"case does not break the rule it names ({case.violates}: {rule.meaning})")


def _explicit(**fields) -> dict:
    return {"dtype": "float32", "in_channels": 2, "out_channels": 2, **fields}


# (rule, case fields): each separates one documented constraint; every profile holds all of them.
CASES = (
    ("negative_pad", _explicit(input_size=(5,), kernel=3, stride=2, padding=-1)),
    ("negative_pad", _explicit(input_size=(4, 4), kernel=3, padding=((-1, -1), (0, 0)), bias=True)),
    ("negative_pad", _explicit(input_size=(4, 4), kernel=3, stride=2, padding=((0, -1), (1, 1)))),
    ("output_padding_at_bound", _explicit(input_size=(5,), kernel=3, stride=2, output_padding=2)),
    ("output_padding_at_bound", _explicit(input_size=(4, 4), kernel=3, output_padding=(1, 0), bias=True)),
    ("output_padding_at_bound", _explicit(input_size=(4,), kernel=2, dilation=2, output_padding=2)),
    ("output_below_one", _explicit(input_size=(1,), kernel=1, padding=((1, 0),))),
    ("output_below_one", _explicit(input_size=(1, 3), kernel=1, padding=((1, 1), (0, 0)))),
    ("groups_not_dividing", _explicit(input_size=(5,), kernel=3, in_channels=3, out_channels=4, groups=2)),
    ("weight_channels", _explicit(input_size=(5,), kernel=3, out_channels=3)),
    ("weight_channels", _explicit(input_size=(4, 4), kernel=2, stride=2, out_channels=3)),
    ("zero_size", _explicit(input_size=(0,), kernel=3, stride=2)),
    ("zero_size", _explicit(input_size=(0, 4), kernel=3)),
)

# The rules of the explicit cases are the reference's own (reference.geometry refuses each): what an
# adapter that declares nothing is taken to document.
CANONICAL_RULES = tuple(dict.fromkeys(rule for rule, _ in CASES))

# Mode-based must-reject cases, asked at two 1-D points and one 2-D point (n, kernel, stride).
MODE_POINTS = (((5,), (3,), (2,)), ((1,), (2,), (3,)), ((4, 3), (3, 2), (2, 1)))


def _joined(values) -> str:
    return "x".join(str(v) for v in values)


def mode_tokens(input_size, kernel, stride) -> list[tuple[str, str]]:
    """(rule, mode token) pairs for one geometry point (dilation 1)."""
    full = [(n - 1) * s + k for n, k, s in zip(input_size, kernel, stride)]
    same = [n * s for n, s in zip(input_size, stride)]
    tokens = [("undocumented_padding", f"keras_{p}") for p in modes.UNDOCUMENTED["keras"]]
    tokens += [("undocumented_padding", f"tf_{p}_o{_joined(same)}") for p in modes.UNDOCUMENTED["tf"]]
    tokens += [("undocumented_padding", f"jax_{p}") for p in modes.UNDOCUMENTED["jax"]]
    tokens += [("undocumented_padding", f"onnx_{p}") for p in modes.UNDOCUMENTED["onnx"]]
    tokens += [("output_padding_at_bound", f"keras_same_op{_joined(stride)}")]
    tokens += [("output_padding_at_bound", f"onnx_same_upper_op{_joined(stride)}")]
    tokens += [("tf_output_shape_range", f"tf_same_o{_joined(s + 1 for s in same)}")]
    tokens += [("tf_output_shape_range", f"tf_valid_o{_joined(f - 1 for f in full)}")]
    tokens += [("tf_output_shape_range", f"tf_valid_o{_joined(f + s for f, s in zip(full, stride))}")]
    for padding in ("notset", "same_upper", "same_lower"):
        tokens += [("onnx_output_shape", f"onnx_{padding}_o{_joined(f + 1 for f in full)}")]
    tokens += [("onnx_output_shape", f"onnx_notset_o{_joined(0 for _ in full)}")]
    return list(dict.fromkeys(tokens))
