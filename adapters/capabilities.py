"""What an adapter's API can express, declared once per adapter as data (in the spirit of PyTorch's
OpInfo declarations).

Everything else derives from it: the adapter's ``Unsupported`` (``require``), the register's
"cannot express" entries (``conformance.divergences.capability_entries``), which must-reject cases an
adapter is given (``rejects``: the invalid arguments its own documentation forbids), the README's table
of limits (``python -m conformance capabilities``), and the tests.

This module imports nothing from any framework, so the suite reads a table without loading one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from conformance import modes

ALL_DTYPES = ("float64", "float32", "float16", "bfloat16")
# How an API takes the explicit (begin, end) pads of a case.
PADS = {
    "pairs": "any (begin, end) pair per axis",
    "symmetric": "one padding per axis, cropped at both ends",
    "modes": "only the pads one of its own padding modes means",
}
# The documented bound of an output_padding argument.
OUTPUT_PADDING = {
    "stride_or_dilation": "below the stride or below the dilation",
    "stride": "below the stride",
    "none": "no argument (the output shape or an end pad carries it)",
}


@dataclass(frozen=True)
class Capabilities:
    """One adapter's API, as data. ``source`` is the document the facts come from."""

    source: str = ""
    dtypes: tuple[str, ...] = ALL_DTYPES
    ranks: tuple[int, ...] = (1, 2, 3)
    groups: bool = True
    pads: str = "pairs"  # a key of PADS
    pad_ranks: tuple[int, ...] = (1, 2, 3)  # ranks where pads can be passed at all; elsewhere "modes"
    output_padding: str = "stride_or_dilation"  # a key of OUTPUT_PADDING
    strided_dilation: bool = True  # stride > 1 together with dilation > 1
    groups_with_modes: bool = True  # groups together with one of its padding modes (not explicit pads)
    data_format: str = "channels_first"
    values: bool = True  # False: the adapter gives an output shape and dtype only (shape inference)
    # Must-reject rules (conformance.invalid.RULES) the API's own documentation forbids -> where it says so.
    rejects: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.pads not in PADS:
            raise ValueError(f"pads must be one of {sorted(PADS)}, got {self.pads!r}")
        if self.output_padding not in OUTPUT_PADDING:
            raise ValueError(f"output_padding must be one of {sorted(OUTPUT_PADDING)}, got {self.output_padding!r}")
        if set(self.dtypes) - set(ALL_DTYPES):
            raise ValueError(f"dtypes must be among {ALL_DTYPES}, got {self.dtypes}")

    def to_data(self) -> dict:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict) -> Capabilities:
        known = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})

    def but(self, **changes) -> Capabilities:
        return replace(self, **changes)


def _pads_through_modes(case, family: str) -> bool:
    """Whether one of the framework's own modes means the case's explicit pads."""
    if family == "keras":
        return modes.keras_equivalent(case) is not None
    if family == "tf":
        return modes.tf_string_equivalent(case) is not None
    return False


def limits(capabilities: Capabilities, framework_modes, case) -> list[tuple[str, str]]:
    """The (facet, reason) pairs that keep the API from expressing the case; empty when it can.

    ``framework_modes`` are the mode families the adapter speaks (its own modes translate explicit pads
    where the API takes none). Must-reject cases are judged on what the API can be told, not on validity.
    """
    found = []
    if case.dtype not in capabilities.dtypes:
        found.append(("dtype", f"the API takes no {case.dtype} (only {', '.join(capabilities.dtypes)})"))
    if case.rank not in capabilities.ranks:
        found.append(("rank", f"the API has no {case.rank}-D form (only {capabilities.ranks})"))
    if case.groups > 1 and not capabilities.groups:
        found.append(("groups", f"the API has no groups argument (groups={case.groups})"))
    if case.groups > 1 and not capabilities.groups_with_modes and case.mode not in modes.FREE_PADS:
        found.append(("groups_with_modes", "the API's grouped form takes explicit pads only, not its padding modes"))
    if not capabilities.strided_dilation and max(case.stride) > 1 and max(case.dilation) > 1:
        found.append(("strided_dilation", "the API refuses stride > 1 together with dilation > 1, as documented"))
    if case.mode != modes.EXPLICIT:
        return found
    pads = capabilities.pads if case.rank in capabilities.pad_ranks else "modes"
    if pads == "symmetric" and any(begin != end for begin, end in case.padding):
        found.append(("asymmetric_pads", f"the API takes {PADS['symmetric']}; pads {case.padding} are asymmetric"))
    if pads == "modes" and not case.violates:  # a must-reject case is given only where its pads can be told
        families = [family for family in framework_modes if family != modes.EXPLICIT]
        if not any(_pads_through_modes(case, family) for family in families):
            where = "" if capabilities.pads == "modes" else f" in {case.rank}-D"
            found.append(
                (
                    "pads",
                    f"the API takes no explicit pads{where}, and none of its padding modes "
                    f"({', '.join(families) or 'none'}) means pads {case.padding} with output_padding "
                    f"{case.output_padding}",
                )
            )
    return found


def facets(capabilities: Capabilities) -> list[str]:
    """The facets ``limits`` can name for this table: wherever it is narrower than an unlimited API."""
    found = ["dtype"] * (capabilities.dtypes != ALL_DTYPES) + ["rank"] * (capabilities.ranks != (1, 2, 3))
    if not capabilities.groups:
        found.append("groups")
    elif not capabilities.groups_with_modes:
        found.append("groups_with_modes")
    if not capabilities.strided_dilation:
        found.append("strided_dilation")
    if capabilities.pads == "symmetric":
        found.append("asymmetric_pads")
    if capabilities.pads == "modes" or set(capabilities.pad_ranks) < set(capabilities.ranks):
        found.append("pads")
    return found


def why_not(adapter, case) -> str | None:
    """Why the adapter's API cannot express the case, from its declared table; None when it can."""
    import adapters

    found = limits(adapters.capabilities(adapter), adapters.modes(adapter), case)
    return f"{adapter.name}: " + "; ".join(reason for _, reason in found) if found else None


def require(adapter, case) -> None:
    """Raise Unsupported with the declared reason when the adapter's API cannot express the case."""
    import adapters

    reason = why_not(adapter, case)
    if reason:
        raise adapters.Unsupported(reason)


def markdown_table(adapters_by_name: dict) -> str:
    """The README's table of limits, one row per built-in adapter, derived from the declarations."""
    header = (
        "| adapter | layout | ranks | groups | explicit pads | output_padding | stride with dilation | modes "
        "| compared | must-reject rules |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for name, (capabilities, framework_modes) in adapters_by_name.items():
        pads = PADS[capabilities.pads]
        if set(capabilities.pad_ranks) < set(capabilities.ranks) and capabilities.pads != "modes":
            pads += f" ({', '.join(f'{r}-D' for r in capabilities.pad_ranks)} only; elsewhere through its modes)"
        groups = "no" if not capabilities.groups else "yes" if capabilities.groups_with_modes else "explicit pads only"
        dtypes = "" if capabilities.dtypes == ALL_DTYPES else f"; {', '.join(capabilities.dtypes)} only"
        rows.append(
            f"| `{name}` | {capabilities.data_format}{dtypes} | {', '.join(map(str, capabilities.ranks))} | {groups} "
            f"| {pads} | {OUTPUT_PADDING[capabilities.output_padding]} "
            f"| {'yes' if capabilities.strided_dilation else 'no'} "
            f"| {', '.join(m for m in framework_modes if m != modes.EXPLICIT) or '-'} "
            f"| {'values' if capabilities.values else 'shape and dtype'} "
            f"| {', '.join(sorted(capabilities.rejects)) or '-'} |"
        )
    return "\n".join([header, *rows])
