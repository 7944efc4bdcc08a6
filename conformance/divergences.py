"""The register of known divergences: data (one TOML file per adapter), validated, applied to outcomes.

An entry::

    [[divergence]]
    id = "onnx-reference-grouped-channels"
    kind = "xfail"            # xfail: a non-pass outcome is expected; unsupported: the adapter
                              # cannot express these cases; tolerance: compare with a wider bound
    reason = "why, in a sentence a user can act on"
    links = ["https://github.com/..."]    # upstream reports; if none exists, links = [] and
    upstream = "no upstream report found" # say so
    outcomes = ["rejected"]  # optional (xfail): the outcomes it explains; default any non-pass
    widen = 4.0              # tolerance only: factor on the derived tolerance
    strict = false           # optional: the divergence shows on some selected cases only, so a pass
                             # stays a pass instead of an xpass (default true)
    [divergence.select]      # every key must match; a list means any of its values
    groups = [2, 3]
    asymmetric_padding = true

Selectable keys: the case's fields and the derived facts in ``DERIVED``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from conformance import modes
from conformance.case import Case

REGISTER_DIR = Path(__file__).parent / "divergences"
KINDS = ("xfail", "unsupported", "tolerance")
NON_PASS = ("shape_mismatch", "value_mismatch", "nonfinite", "rejected", "unsupported", "crash", "timeout")

DERIVED = {
    "rank": lambda c: c.rank,
    "asymmetric_padding": lambda c: any(begin != end for begin, end in c.padding),
    "output_padding_reaches_stride": lambda c: any(op >= s for op, s in zip(c.output_padding, c.stride)),
    "out_per_group": lambda c: c.out_channels // c.groups,
    "grouped": lambda c: c.groups > 1,
    "dilated": lambda c: any(d > 1 for d in c.dilation),
    "output_elements": lambda c: math.prod(c.output_shape),
    "strided_and_dilated": lambda c: max(c.stride) > 1 and max(c.dilation) > 1,
    # Framework modes: the mode token without its sizes, and which sizes it carries.
    "mode_kind": lambda c: c.mode_spec.kind,
    "mode_output_padding": lambda c: c.mode_spec.output_padding is not None,
    "mode_output_size": lambda c: c.mode_spec.output_size is not None,
    # full - out on the tightest axis: negative when the output reaches past the full output.
    "crop_total": lambda c: min(f - o for f, o in zip(c.geometry.full_size, c.geometry.output_size)),
    "appends_zeros": lambda c: any(op > e for (_, e), op in zip(c.padding, c.output_padding)),
    # Shorter than any output tf's 'SAME' accepts ((n - 1) * stride + 1).
    "below_same_range": lambda c: any(
        o < (n - 1) * s + 1 for o, n, s in zip(c.geometry.output_size, c.input_size, c.stride)
    ),
    "last_output_size_equals_out_channels": lambda c: c.output_shape[-1] == c.out_channels,
    # Whether a framework without explicit pads has a setting that means the case's pads.
    "keras_expressible": lambda c: modes.keras_equivalent(c) is not None,
    "tf_string_expressible": lambda c: modes.tf_string_equivalent(c) is not None,
}
SELECTABLE = {f.name for f in fields(Case)} | set(DERIVED)


class RegisterError(ValueError):
    """A register file breaks a rule; the message names the file, the entry and the rule."""


@dataclass(frozen=True)
class Divergence:
    id: str
    adapter: str
    kind: str
    reason: str
    select: dict
    links: tuple = ()
    upstream: str = ""
    outcomes: tuple = ()
    widen: float = 1.0
    strict: bool = True

    def matches(self, case: Case) -> bool:
        for key, wanted in self.select.items():
            value = DERIVED[key](case) if key in DERIVED else getattr(case, key)
            if isinstance(value, tuple):
                value = list(value)
            options = wanted if isinstance(wanted, list) and not isinstance(value, list) else [wanted]
            if value not in options:
                return False
        return True

    def summary(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "reason": self.reason,
            "links": list(self.links),
            "upstream": self.upstream,
            "strict": self.strict,
        }


@dataclass
class Register:
    adapter: str
    entries: list[Divergence] = field(default_factory=list)

    def matching(self, case: Case) -> list[Divergence]:
        return [entry for entry in self.entries if entry.matches(case)]


def widening(entries: list[Divergence]) -> float:
    """The factor on the derived tolerance that the matching tolerance entries allow (1 when none)."""
    return max((entry.widen for entry in entries if entry.kind == "tolerance"), default=1.0)


def _explains(entry: Divergence, outcome: str) -> bool:
    if entry.kind == "unsupported":
        return outcome in ("unsupported", "rejected")
    if entry.kind == "xfail":
        return outcome != "pass" and (not entry.outcomes or outcome in entry.outcomes)
    return False


def settle(outcome: str, entries: list[Divergence]) -> tuple[str, Divergence | None]:
    """The recorded outcome and the entry behind it, given the comparison's outcome and the matching entries.

    A pass where a strict xfail or unsupported entry matches is an ``xpass``: the divergence no
    longer reproduces (a non-strict entry leaves a pass a pass). A non-pass outcome is explained by
    the first entry that names it (``xfail``, or kept as ``unsupported``/``rejected`` under an
    unsupported entry); otherwise it stands unexplained.
    """
    expecting = [entry for entry in entries if entry.kind != "tolerance"]
    if outcome == "pass":
        strict = [entry for entry in expecting if entry.strict]
        return ("xpass", strict[0]) if strict else ("pass", entries[0] if entries else None)
    for entry in expecting:
        if _explains(entry, outcome):
            return ("xfail" if entry.kind == "xfail" else outcome), entry
    return outcome, None


def is_explained(outcome: str, entry: Divergence | None) -> bool:
    """Whether a recorded outcome leaves the run green."""
    if outcome in ("pass", "xfail"):
        return True
    return entry is not None and entry.kind == "unsupported" and outcome in ("unsupported", "rejected")


def _entry(adapter: str, raw: dict, where: str) -> Divergence:
    def fail(rule: str):
        raise RegisterError(f"{where}: {rule}")

    known = {"id", "kind", "reason", "select", "links", "upstream", "outcomes", "widen", "strict"}
    if set(raw) - known:
        fail(f"unknown keys {sorted(set(raw) - known)}")
    if not str(raw.get("id", "")).strip():
        fail("an entry needs an id")
    if raw.get("kind") not in KINDS:
        fail(f"kind must be one of {KINDS}, got {raw.get('kind')!r}")
    if not str(raw.get("reason", "")).strip():
        fail("an entry needs a reason")
    select = raw.get("select")
    if not isinstance(select, dict) or not select:
        fail("an entry needs a non-empty [select] table")
    if set(select) - SELECTABLE:
        fail(f"unknown selector keys {sorted(set(select) - SELECTABLE)}; selectable: {sorted(SELECTABLE)}")
    links = raw.get("links")
    if not isinstance(links, list) or not all(str(link).startswith("https://") for link in links):
        fail("links must be a list of https:// addresses")
    if not links and "no upstream report found" not in str(raw.get("upstream", "")).lower():
        fail('an entry without links must say upstream = "no upstream report found"')
    outcomes = raw.get("outcomes", [])
    if set(outcomes) - set(NON_PASS):
        fail(f"outcomes must be among {NON_PASS}")
    if not isinstance(raw.get("strict", True), bool):
        fail("strict must be true or false")
    if raw["kind"] == "tolerance" and not float(raw.get("widen", 0)) > 1:
        fail("a tolerance entry needs widen > 1")
    return Divergence(
        id=raw["id"],
        adapter=adapter,
        kind=raw["kind"],
        reason=raw["reason"].strip(),
        select=dict(select),
        links=tuple(links),
        upstream=str(raw.get("upstream", "")),
        outcomes=tuple(outcomes),
        widen=float(raw.get("widen", 1.0)),
        strict=bool(raw.get("strict", True)),
    )


def load_register(adapter: str, directory: Path = REGISTER_DIR, framework: str | None = None) -> Register:
    """The adapter's register: ``<adapter>.toml``, after ``<framework>.toml`` (entries every adapter of
    that framework shares, such as Keras's on each backend) when there is one. No file, no entries."""
    names = [f"{framework}.toml"] if framework and framework != adapter else []
    entries = []
    for path in [Path(directory) / name for name in [*names, f"{adapter}.toml"]]:
        if not path.exists():
            continue
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        entries += [
            _entry(adapter, raw, f"{path.name} entry {i + 1}") for i, raw in enumerate(data.get("divergence", []))
        ]
    ids = [entry.id for entry in entries]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise RegisterError(f"register of {adapter}: duplicate entry ids {duplicated}")
    return Register(adapter, entries)
