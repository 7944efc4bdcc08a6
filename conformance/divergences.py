"""The register of known divergences: data (one TOML file per adapter), validated, applied to outcomes.

An entry::

    [[divergence]]
    id = "onnx-reference-grouped-channels"
    kind = "xfail"            # xfail: a non-pass outcome is expected; unsupported: the adapter
                              # cannot express these cases; tolerance: compare with a wider bound
    reason = "why, in a sentence a user can act on"
    links = ["https://github.com/..."]    # upstream reports; if none exists, links = [] and
    upstream = "no upstream report found" # say so
    outcomes = ["rejected"]  # xfail and unsupported: the raw outcomes it explains (required)
    message = "INVALID_ARGUMENT"  # optional: a regular expression the error message must match
    output_dtype = "float32" # promotion only: the dtype the framework documents for these cases
    widen = 4.0              # tolerance only: factor on the derived tolerance
    strict = false           # optional: the divergence shows on some selected cases only, so a pass
                             # stays a pass instead of an xpass (default true); it then needs a message
                             # pattern wherever it explains an error
    devices = ["cpu"]        # optional: the devices it applies to (default every device)
    [divergence.versions]    # the framework versions it was seen in (PEP 440 ranges over the adapter's
    onnxruntime = ">=1.30,<1.32"  # recorded versions; required wherever the adapter records versions);
                             # other versions do not get the entry
    [divergence.select]      # every key must match; a list means any of its values
    groups = [2, 3]
    asymmetric_padding = true

Selectable keys: the case's fields and the derived facts in ``DERIVED``. An entry applies to must-reject
cases only where it selects ``violates``. What an adapter cannot express is not written here: it is
derived from the adapter's capability table (``capability_entries``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from conformance import modes
from conformance.case import Case
from conformance.records import OUTCOMES

REGISTER_DIR = Path(__file__).parent / "divergences"
KINDS = ("xfail", "unsupported", "tolerance", "promotion")
# What an entry may explain: every outcome but the passing ones, its own verdicts and the suite's own failure.
NON_PASS = tuple(outcome for outcome in OUTCOMES if outcome not in ("pass", "xfail", "xpass", "suite_error"))

DERIVED = {
    "rank": lambda c: c.rank,
    "asymmetric_padding": lambda c: any(begin != end for begin, end in c.padding),
    "output_padding_reaches_stride": lambda c: any(op >= s for op, s in zip(c.output_padding, c.stride)),
    "out_per_group": lambda c: c.out_channels // c.groups,
    "in_per_group": lambda c: c.in_channels // c.groups,
    "grouped": lambda c: c.groups > 1,
    "dilated": lambda c: any(d > 1 for d in c.dilation),
    "output_elements": lambda c: math.prod(c.output_shape),
    "strided_and_dilated": lambda c: max(c.stride) > 1 and max(c.dilation) > 1,
    "unit_stride": lambda c: max(c.stride) == 1,
    # A begin crop past the dilated kernel's reach: the transposed convolution's low padding is negative.
    "begin_beyond_kernel": lambda c: any(b > d * (k - 1) for (b, _), k, d in zip(c.padding, c.kernel, c.dilation)),
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
    "equal_channels": lambda c: c.in_channels == c.out_channels,  # as many input as output channels per group
    # The mode's output_padding (0 if none) is the gap max(stride - dilated kernel, 0) between windows on every axis.
    "mode_output_padding_fills_gap": lambda c: all(
        o == max(s - k, 0)
        for o, s, k in zip(c.mode_spec.output_padding or [0] * c.rank, c.stride, c.geometry.effective_kernel)
    ),
    # The mode's output size is shorter than the full output on some axis (false without one).
    "mode_output_size_below_full": lambda c: any(
        o < f for o, f in zip(c.mode_spec.output_size or [], c.geometry.full_size)
    ),
    # The mode's output size is shorter than the input on some axis (false without one).
    "mode_output_size_below_input": lambda c: any(o < n for o, n in zip(c.mode_spec.output_size or [], c.input_size)),
    # The mode's output size lies in full + output_padding .. + stride - 1 on every axis (tf's 'VALID' range).
    "mode_output_size_in_valid_range": lambda c: (
        c.mode_spec.output_size is not None
        and all(
            f + o <= n < f + o + s
            for n, f, o, s in zip(
                c.mode_spec.output_size, c.geometry.full_size, c.mode_spec.output_padding or [0] * c.rank, c.stride
            )
        )
    ),
    # ONNX's total_padding on the tightest axis: full + the mode's output_padding - output length (crop_total + op).
    "mode_total_padding": lambda c: min(
        f + o - n
        for f, o, n in zip(c.geometry.full_size, c.mode_spec.output_padding or [0] * c.rank, c.output_shape[2:])
    ),
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
    message: str = ""
    output_dtype: str = ""
    devices: tuple = ()
    versions: dict = field(default_factory=dict)
    test: Callable | None = None  # derived entries (capabilities) test a case instead of selecting fields

    def matches(self, case: Case) -> bool:
        if self.test is not None:
            return self.test(case)
        if case.violates and "violates" not in self.select:
            return False
        for key, wanted in self.select.items():
            value = DERIVED[key](case) if key in DERIVED else getattr(case, key)
            if isinstance(value, tuple):
                value = list(value)
            options = wanted if isinstance(wanted, list) and not isinstance(value, list) else [wanted]
            if value not in options:
                return False
        return True

    def applies_to(self, device: str, versions: dict) -> bool:
        """Whether the entry's scope holds the adapter's device and framework versions."""
        if self.devices and device not in self.devices:
            return False
        return all(Version(versions[package]) in SpecifierSet(spec) for package, spec in self.versions.items())

    def summary(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "reason": self.reason,
            "links": list(self.links),
            "upstream": self.upstream,
            "strict": self.strict,
            "outcomes": list(self.outcomes),
            "scope": {"devices": list(self.devices), "versions": dict(self.versions)},
        }


@dataclass
class Register:
    adapter: str
    entries: list[Divergence] = field(default_factory=list)

    def matching(self, case: Case) -> list[Divergence]:
        return [entry for entry in self.entries if entry.matches(case)]


# Entries that only adjust the comparison (a wider bound, an accepted output dtype): never an xpass.
ADJUSTING = ("tolerance", "promotion")


def widening(entries: list[Divergence]) -> float:
    """The factor on the derived tolerance that the matching tolerance entries allow (1 when none)."""
    return max((entry.widen for entry in entries if entry.kind == "tolerance"), default=1.0)


def promotions(entries: list[Divergence]) -> tuple[str, ...]:
    """The output dtypes that the matching promotion entries accept besides the case's own."""
    return tuple(entry.output_dtype for entry in entries if entry.kind == "promotion")


def _explains(entry: Divergence, outcome: str, message: str) -> bool:
    if outcome not in entry.outcomes:
        return False
    return not entry.message or re.search(entry.message, message or "") is not None


def settle(outcome: str, entries: list[Divergence], message: str = "") -> tuple[str, Divergence | None]:
    """The recorded outcome and the entry behind it, given the comparison's outcome, the matching
    entries and the framework's message.

    A pass where a strict xfail or unsupported entry matches is an ``xpass``: the divergence no
    longer reproduces (a non-strict entry leaves a pass a pass). A non-pass outcome is explained by
    the first entry that names it among its ``outcomes`` and whose ``message`` pattern (if any) the
    message matches: ``xfail`` under an xfail entry, kept as ``unsupported``/``rejected`` under an
    unsupported entry. Otherwise it stands unexplained.
    """
    expecting = [entry for entry in entries if entry.kind not in ADJUSTING]
    if outcome == "pass":
        strict = [entry for entry in expecting if entry.strict]
        return ("xpass", strict[0]) if strict else ("pass", entries[0] if entries else None)
    for entry in expecting:
        if _explains(entry, outcome, message):
            return ("xfail" if entry.kind == "xfail" else outcome), entry
    return outcome, None


def is_explained(outcome: str, entry: Divergence | None) -> bool:
    """Whether a recorded outcome leaves the run green."""
    if outcome in ("pass", "xfail"):
        return True
    return entry is not None and entry.kind == "unsupported" and outcome in entry.outcomes


def capability_entries(adapter: str, capabilities, framework_modes) -> list[Divergence]:
    """The register's "cannot express" entries, one per limited facet of the adapter's capability table
    (the same ``limits`` that the adapter's ``Unsupported`` comes from)."""
    from adapters.capabilities import facets, limits

    documented = capabilities.source.startswith("https://")
    return [
        Divergence(
            id=f"{adapter}-cannot-express-{facet.replace('_', '-')}",
            adapter=adapter,
            kind="unsupported",
            reason=f"Derived from {adapter}'s capability table: the API cannot express these cases ({facet}).",
            select={},
            links=(capabilities.source,) if documented else (),
            upstream="" if documented else f"no upstream report found (documented: {capabilities.source})",
            outcomes=("unsupported",),
            test=lambda case, facet=facet: any(
                found == facet for found, _ in limits(capabilities, framework_modes, case)
            ),
        )
        for facet in facets(capabilities)
    ]


def _entry(adapter: str, raw: dict, where: str) -> Divergence:
    def fail(rule: str):
        raise RegisterError(f"{where}: {rule}")

    known = {f.name for f in fields(Divergence)} - {"adapter", "test"}
    if set(raw) - known:
        fail(f"unknown keys {sorted(set(raw) - known)}")
    if not str(raw.get("id", "")).strip():
        fail("an entry needs an id")
    kind = raw.get("kind")
    if kind not in KINDS:
        fail(f"kind must be one of {KINDS}, got {kind!r}")
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
    upstream = str(raw.get("upstream", ""))
    if not links and "no upstream report found" not in upstream.lower():
        fail('an entry without links must say upstream = "no upstream report found"')
    outcomes = raw.get("outcomes", [])
    if not isinstance(outcomes, list) or set(outcomes) - set(NON_PASS):
        fail(f"outcomes must be a list among {NON_PASS}")
    if kind in ("xfail", "unsupported") and not outcomes:
        fail(f"a {kind} entry must name the outcomes it explains (outcomes = [...])")
    if kind == "unsupported" and set(outcomes) - {"unsupported", "rejected"}:
        fail('an unsupported entry explains only "unsupported" or "rejected"')
    strict = raw.get("strict", True)
    if not isinstance(strict, bool):
        fail("strict must be true or false")
    message = str(raw.get("message", ""))
    try:
        re.compile(message)
    except re.error as error:
        fail(f"message is not a regular expression: {error}")
    if not strict and not message and {"rejected", "unsupported"} & set(outcomes):
        fail("a non-strict entry that explains an error needs a message pattern (what it covers, and no more)")
    if kind == "tolerance" and not float(raw.get("widen", 0)) > 1:
        fail("a tolerance entry needs widen > 1")
    if kind == "promotion" and not raw.get("output_dtype"):
        fail("a promotion entry needs output_dtype")
    devices = raw.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        fail("devices must be a list of device names")
    versions = raw.get("versions", {})
    if not isinstance(versions, dict):
        fail("versions must be a table of package = version range")
    for package, spec in versions.items():
        try:
            SpecifierSet(str(spec))
        except InvalidSpecifier:
            fail(f"versions.{package} = {spec!r} is not a version range (e.g. '>=1.30,<1.32')")
    return Divergence(
        id=raw["id"],
        adapter=adapter,
        kind=kind,
        reason=raw["reason"].strip(),
        select=dict(select),
        links=tuple(links),
        upstream=upstream,
        outcomes=tuple(outcomes),
        widen=float(raw.get("widen", 1.0)),
        strict=strict,
        message=message,
        output_dtype=str(raw.get("output_dtype", "")),
        devices=tuple(devices),
        versions={str(k): str(v) for k, v in versions.items()},
    )


def load_register(
    adapter: str,
    directory: Path = REGISTER_DIR,
    framework: str | None = None,
    device: str | None = None,
    versions: dict | None = None,
) -> Register:
    """The adapter's register: ``<adapter>.toml``, after ``<framework>.toml`` (entries every adapter of
    that framework shares, such as Keras's on each backend) when there is one. No file, no entries.

    Given the adapter's device and recorded versions, only the entries whose scope holds them are kept;
    an entry scoped on a package the adapter does not report is an error.
    """
    names = [f"{framework}.toml"] if framework and framework != adapter else []
    entries = []
    for path in [Path(directory) / name for name in [*names, f"{adapter}.toml"]]:
        if not path.exists():
            continue
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise RegisterError(f"{path}: not valid TOML: {error}") from None
        entries += [
            _entry(adapter, raw, f"{path.name} entry {i + 1}") for i, raw in enumerate(data.get("divergence", []))
        ]
    ids = [entry.id for entry in entries]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise RegisterError(f"register of {adapter}: duplicate entry ids {duplicated}")
    if versions is not None:
        for entry in entries:
            if versions and not entry.versions:
                raise RegisterError(
                    f"register of {adapter}: entry {entry.id!r} needs a [divergence.versions] table: the ranges of "
                    f"{sorted(versions)} it was seen in (an entry for one release must not apply to another)"
                )
            missing = sorted(set(entry.versions) - set(versions))
            if missing:
                raise RegisterError(
                    f"register of {adapter}: entry {entry.id!r} is scoped on {missing}, which {adapter} does not "
                    f"report (it reports {sorted(versions)})"
                )
            try:
                entry.applies_to(device or "cpu", versions)
            except InvalidVersion as error:
                raise RegisterError(f"register of {adapter}: entry {entry.id!r}: {error}") from None
        entries = [entry for entry in entries if entry.applies_to(device or "cpu", versions)]
    return Register(adapter, entries)
