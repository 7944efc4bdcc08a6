"""The site's feature support table: the features a porter asks about, declared once as data, and the rule
that turns an adapter's raw outcomes on a feature's cases into one cell.

A feature selects cases exactly as a register entry does (``conformance.divergences``): every key of its
``select`` must match, a list means any of its values, the keys are the case's fields and the derived facts
of ``DERIVED``, and a must-reject case belongs only to a feature that selects ``violates``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from conformance import modes
from conformance.case import DTYPE_CODES, Case
from conformance.divergences import Divergence
from conformance.invalid import RULES
from conformance.records import GROUP_OF


@dataclass(frozen=True)
class Feature:
    id: str  # the anchor on the adapter pages
    name: str
    description: str
    select: dict

    def matches(self, case: Case) -> bool:
        """The register's own matching rule, applied to this feature's selector."""
        return Divergence(id=self.id, adapter="", kind="xfail", reason=self.description, select=self.select).matches(
            case
        )


def _mode_family(framework: str) -> Feature:
    kinds = [f"{framework}_{padding}" for padding in modes.PADDINGS[framework]]
    return Feature(
        f"mode-{framework}",
        f"{framework} padding modes",
        f"the pads given the {framework} way: {', '.join(kinds)} (with their output sizes or output_padding)",
        {"mode_kind": kinds},
    )


FEATURES = (
    Feature("explicit-pads", "explicit pads", "pads given as numbers, begin and end per axis", {"mode": "explicit"}),
    Feature(
        "asymmetric-pads",
        "asymmetric pads",
        "a different crop at the begin and the end of some axis",
        {"asymmetric_padding": True},
    ),
    Feature("groups", "groups", "grouped convolution (groups > 1)", {"grouped": True}),
    Feature(
        "depthwise",
        "depthwise",
        "one input channel per group (groups = input channels)",
        {"grouped": True, "in_per_group": 1},
    ),
    Feature("dilation", "dilation", "a dilated kernel on some axis", {"dilated": True}),
    Feature(
        "dilation-with-stride",
        "dilation with stride",
        "strided and dilated at once",
        {"strided_and_dilated": True},
    ),
    Feature(
        "output-padding-beyond-stride",
        "output_padding beyond the stride",
        "output_padding at or past the stride on some axis (zeros appended past the last window)",
        {"output_padding_reaches_stride": True},
    ),
    *(
        Feature(f"dtype-{dtype}", dtype, f"inputs, weights and output in {dtype}", {"dtype": dtype})
        for dtype in DTYPE_CODES
    ),
    Feature("1d", "1-D", "conv_transpose1d: one spatial axis", {"rank": 1}),
    Feature("3d", "3-D", "conv_transpose3d: three spatial axes", {"rank": 3}),
    *(_mode_family(framework) for framework in modes.FRAMEWORKS),
    Feature("backward", "gradients", "the input, weight and bias gradients (backward)", {"direction": "backward"}),
    Feature(
        "must-reject",
        "must-reject validation",
        "invalid arguments the framework must refuse (negative pads, output_padding at its bound, ...)",
        {"violates": list(RULES)},
    ),
)
# A feature of the forward pass is asked of the forward cases alone: the backward cases' outcomes are the
# gradients' (a wrong dx is not a wrong explicit pad), and they have their own row.
FEATURES = tuple(
    feature if "direction" in feature.select else replace(feature, select={**feature.select, "direction": "forward"})
    for feature in FEATURES
)
BY_ID = {feature.id: feature for feature in FEATURES}


@lru_cache(maxsize=1 << 16)
def features_of(case_id: str) -> tuple[str, ...]:
    """The ids of the features a case belongs to (none for an id that names no canonical case)."""
    try:
        case = Case.from_id(case_id)
    except ValueError:
        return ()
    return tuple(feature.id for feature in FEATURES if feature.matches(case))


CELLS = ("works", "partial", "wrong answers", "refused", "cannot be expressed", "not tested")


def _counted(count: int, label: str, explained: int) -> str:
    if explained == count:
        registered = "all registered" if count > 1 else "registered"
    elif explained == 0:
        registered = "none registered" if count > 1 else "not registered"
    else:
        registered = f"{explained} registered, {count - explained} not"
    return f"{count} {label} ({registered})"


def verdict(raw_outcomes: Sequence[str], explained: Sequence[bool]) -> tuple[str, str]:
    """One cell of the feature table: the verdict on a feature's cases in one adapter run, and its note.

    ``raw_outcomes`` are what the framework did on each case (before the register), ``explained`` whether
    the register explains each. Cases are grouped by ``conformance.records.GROUP_OF``; the suite's own
    errors are set aside (not the framework's doing); then, in this order:

    - not tested: no case is left;
    - wrong answers: some case gave a wrong answer or broke (crash, timeout), whatever else the others did:
      a porter cannot trust a feature that is silently wrong anywhere;
    - works: every case right;
    - cannot be expressed: no case right, and the adapter could express none (every one ``unsupported``);
    - refused: no case right, and every one refused (``rejected`` or ``unsupported``, some ``rejected``);
    - partial: some right, the others refused.

    The register never changes the cell (a registered wrong answer is still wrong, an explained refusal
    still a case the porter cannot port); the note counts each kind of case and how many of them the
    register explains.
    """
    groups = Counter(GROUP_OF[outcome] for outcome in raw_outcomes)
    known = Counter(GROUP_OF[outcome] for outcome, flag in zip(raw_outcomes, explained) if flag)
    unsupported = sum(outcome == "unsupported" for outcome in raw_outcomes)
    unsupported_known = sum(outcome == "unsupported" and flag for outcome, flag in zip(raw_outcomes, explained))
    total = len(raw_outcomes) - groups["suite error"]
    right = groups["right"]
    rejected, rejected_known = groups["refused"] - unsupported, known["refused"] - unsupported_known
    notes = [f"{right} of {total} right"] if total else []
    for count, label, explained_count in (
        (groups["wrong answer"], "wrong answers", known["wrong answer"]),
        (groups["broken"], "crashed or timed out", known["broken"]),
        (rejected, "refused", rejected_known),
        (unsupported, "cannot be expressed", unsupported_known),
    ):
        if count:
            notes.append(_counted(count, label, explained_count))
    if groups["suite error"]:
        notes.append(f"{groups['suite error']} suite errors set aside")
    note = "; ".join(notes)
    if not total:
        cell = "not tested"
    elif groups["wrong answer"] or groups["broken"]:
        cell = "wrong answers"
    elif right == total:
        cell = "works"
    elif right == 0:
        cell = "cannot be expressed" if unsupported == total else "refused"
    else:
        cell = "partial"
    return cell, note
