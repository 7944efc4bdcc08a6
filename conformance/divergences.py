"""The register of known divergences: data (one TOML file per adapter), validated, applied to outcomes.

An entry::

    [[divergence]]
    id = "onnx-reference-grouped-channels"  # letters, digits, '.', '_', '-'; unique over every directory read
    kind = "xfail"            # xfail: a non-pass outcome is expected; unsupported: the adapter
                              # cannot express these cases; tolerance: compare with a wider bound
    reason = "why, in a sentence a user can act on"
    links = ["https://github.com/..."]    # upstream reports; if none exists, leave links out (or []) and
    upstream = "no upstream report found" # say so
    outcomes = ["rejected"]  # xfail and unsupported: the raw outcomes it explains (required)
    message = "INVALID_ARGUMENT"  # optional: a regular expression the error message must match
    output_dtype = "float32" # promotion only: the dtype the framework documents for these cases
    widen = 4.0              # tolerance only: factor on the derived tolerance (a finite number > 1)
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

Selectable keys: the case's fields and the derived facts in ``DERIVED``, each with the type of its value
(true/false, an integer, a string; a per-axis field is a list, one item per axis). Keys that one kind
alone reads (``KIND_ONLY_KEYS``) are an error on any other kind, as is anything a file holds beside its
``[[divergence]]`` entries: nothing written in a register is silently ignored. An entry applies to must-reject
cases only where it selects ``violates``. What an adapter cannot express is not written here: it is
derived from the adapter's capability table (``capability_entries``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from conformance import modes
from conformance.case import DTYPE_CODES, Case
from conformance.compare import UNIT_ROUNDOFF, accumulation_length
from conformance.errors import UserError
from conformance.invalid import RULES
from conformance.records import OUTCOMES

REGISTER_DIR = Path(__file__).parent / "divergences"
KINDS = ("xfail", "unsupported", "tolerance", "promotion")
# What an entry may explain: every outcome but the passing ones, its own verdicts and the suite's own failure.
NON_PASS = tuple(outcome for outcome in OUTCOMES if outcome not in ("pass", "xfail", "xpass", "suite_error"))

DERIVED = {
    "rank": lambda c: c.rank,
    "asymmetric_padding": lambda c: any(begin != end for begin, end in c.padding),
    "output_padded": lambda c: any(c.output_padding),
    "output_padding_reaches_stride": lambda c: any(op >= s for op, s in zip(c.output_padding, c.stride)),
    "out_per_group": lambda c: c.out_channels // c.groups,
    "in_per_group": lambda c: c.in_channels // c.groups,
    "grouped": lambda c: c.groups > 1,
    "dilated": lambda c: any(d > 1 for d in c.dilation),
    "output_elements": lambda c: math.prod(c.output_shape),
    "strided_and_dilated": lambda c: max(c.stride) > 1 and max(c.dilation) > 1,
    # An axis that is both strided and dilated, whose output is shorter than its dilation (a deep crop).
    "strided_dilated_axis_shorter_than_dilation": lambda c: any(
        s > 1 and d > 1 and o < d for s, d, o in zip(c.stride, c.dilation, c.geometry.output_size)
    ),
    # The innermost input axis has length 1 and a stride: the input gradient's convolution then has an
    # innermost output of 1 with a stride (the class of pytorch PR 188426).
    "innermost_input_one_strided": lambda c: c.input_size[-1] == 1 and c.stride[-1] > 1,
    "unit_stride": lambda c: max(c.stride) == 1,
    # The dtype's forward-error bound is void (L * u >= 1, conformance.compare.bound): values are not judged,
    # only shapes and finiteness, so an entry about wrong values cannot show there.
    "value_bound_void": lambda c: accumulation_length(c) * UNIT_ROUNDOFF[c.dtype] >= 1,
    # Some axis's stride is longer than its dilated kernel: the outputs of neighbouring inputs leave a gap.
    "stride_beyond_kernel": lambda c: any(s > d * (k - 1) + 1 for k, s, d in zip(c.kernel, c.stride, c.dilation)),
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
    # The output is shorter than the input on some axis (a crop longer than stride and kernel add).
    "output_below_input": lambda c: any(o < n for o, n in zip(c.geometry.output_size, c.input_size)),
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
    # The mode's output size differs from full + the mode's output_padding on some axis: what a converter that
    # ignores output_shape gets wrong (false without one).
    "mode_output_size_not_full": lambda c: any(
        n != f + o
        for n, f, o in zip(
            c.mode_spec.output_size or [], c.geometry.full_size, c.mode_spec.output_padding or [0] * c.rank
        )
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


def _plain(value):
    """Tuples, nested or not, as lists: the form a TOML selector writes them in."""
    return [_plain(item) for item in value] if isinstance(value, tuple) else value


def selected_value(case: Case, key: str):
    """The value a selector key reads off a case (a field or a derived fact), tuples as lists."""
    return _plain(DERIVED[key](case) if key in DERIVED else getattr(case, key))


# What each selector's values look like, read off one real case: a selector written with another type
# (a string for a number, 1 for true) would silently match nothing.
SELECTOR_EXAMPLES = {key: selected_value(Case(input_size=(3,), kernel=(2,)), key) for key in sorted(SELECTABLE)}
# Selectors whose values come from a closed set.
SELECTOR_CHOICES = {"dtype": tuple(DTYPE_CODES), "violates": tuple(RULES)}
# Ids end up in report pages and their addresses.
SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")
# Keys that mean something to some kinds only: on any other kind they would be silently ignored.
KIND_ONLY_KEYS = {
    "widen": ("tolerance",),
    "output_dtype": ("promotion",),
    "outcomes": ("xfail", "unsupported"),
    "message": ("xfail", "unsupported"),
    "strict": ("xfail", "unsupported"),
}


class RegisterError(UserError, ValueError):
    """A register file breaks a rule; the message names the file, the entry and the field, and the rule."""


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
    # A round trip's entry from its source's or its target runtime's file (``load_register``): a known bug of
    # the framework it was built in or of the runtime that runs it, which the converted model may or may not reach.
    inherited_from: str = ""

    def matches(self, case: Case) -> bool:
        if self.test is not None:
            return self.test(case)
        if case.violates and "violates" not in self.select:
            return False
        for key, wanted in self.select.items():
            value = selected_value(case, key)
            options = wanted if isinstance(wanted, list) and not isinstance(value, list) else [wanted]
            if value not in options:
                return False
        return True

    def reaches(self, framework_modes, backward: bool = True) -> bool:
        """Whether an adapter speaking these mode families (and answering backward cases or not) can be given a
        case the entry selects: an entry of a shared ``<framework>.toml`` about one path's modes (flax.nnx's
        strings) or gradients cannot reach a path without them (torch.compile is forward only)."""
        if not backward and self.select.get("direction") == "backward":
            return False
        kinds = self.select.get("mode_kind")
        if kinds is None:
            return True
        families = {modes.EXPLICIT if kind == modes.EXPLICIT else kind.split("_", 1)[0] for kind in _listed(kinds)}
        return bool(families & set(framework_modes))

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


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


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


# How a message names one value, and several values, of each selector type.
TYPE_NAMES = {bool: ("true or false", "booleans"), int: ("an integer", "integers"), str: ("a string", "strings")}


def _plural(example) -> str:
    return f"lists of {_plural(example[0])}" if isinstance(example, list) else TYPE_NAMES[type(example)][1]


def _has_type_of(value, example) -> bool:
    """Whether a TOML value has the type of a case's value: bool and int apart, lists non-empty and alike."""
    if isinstance(example, list):
        return isinstance(value, list) and len(value) > 0 and all(_has_type_of(item, example[0]) for item in value)
    return type(value) is type(example)


def _selector_problem(key: str, wanted) -> str | None:
    """What is wrong with ``select.<key> = wanted``, or None."""
    example = SELECTOR_EXAMPLES[key]
    if isinstance(example, list):  # a per-axis field: the list is the value itself, one item per axis
        if not _has_type_of(wanted, example):
            return f"select.{key} must be a non-empty list of {_plural(example[0])} (one per axis), got {wanted!r}"
        return None
    if not (_has_type_of(wanted, example) or _has_type_of(wanted, [example])):
        return (
            f"select.{key} must be {TYPE_NAMES[type(example)][0]} or a non-empty list of {_plural(example)} "
            f"(any of which matches), got {wanted!r}"
        )
    choices = SELECTOR_CHOICES.get(key)
    values = wanted if isinstance(wanted, list) else [wanted]
    unknown = choices and [value for value in values if value not in choices]
    if unknown:
        return f"select.{key} values {unknown} are not among {list(choices)}"
    return None


def _widen_factor(value) -> float | None:
    """A tolerance factor as a float: a finite number > 1 (true is not a number here), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        factor = float(value)
    except OverflowError:  # an integer beyond float's range
        return None
    return factor if math.isfinite(factor) and factor > 1 else None


def _entry(adapter: str, raw: dict, where: str) -> Divergence:
    def fail(rule: str):
        raise RegisterError(f"{where}: {rule}")

    known = {f.name for f in fields(Divergence)} - {"adapter", "test"}
    if set(raw) - known:
        fail(f"unknown keys {sorted(set(raw) - known)}; an entry's keys are {sorted(known)}")
    entry_id = raw.get("id", "")
    if not isinstance(entry_id, str) or not entry_id.strip():
        fail("an entry needs an id (a non-empty string)")
    if not SAFE_ID.fullmatch(entry_id):
        fail(f"id {entry_id!r} may hold only letters, digits, '.', '_' and '-'")
    kind = raw.get("kind")
    if kind not in KINDS:
        fail(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "tolerance" and "widen" not in raw:
        fail("a tolerance entry needs widen > 1")
    if kind == "promotion" and "output_dtype" not in raw:
        fail("a promotion entry needs output_dtype")
    for key, kinds in KIND_ONLY_KEYS.items():
        if key in raw and kind not in kinds:
            fail(f"{key} applies to {' and '.join(kinds)} entries only, not to this {kind} entry")
    reason = raw.get("reason", "")
    if not isinstance(reason, str) or not reason.strip():
        fail("an entry needs a reason (a non-empty string)")
    select = raw.get("select")
    if not isinstance(select, dict) or not select:
        fail("an entry needs a non-empty [select] table")
    if set(select) - SELECTABLE:
        fail(f"unknown selector keys {sorted(set(select) - SELECTABLE)}; selectable: {sorted(SELECTABLE)}")
    for key, wanted in select.items():
        problem = _selector_problem(key, wanted)
        if problem:
            fail(problem)
    links = raw.get("links", [])
    if not isinstance(links, list) or not all(isinstance(link, str) and link.startswith("https://") for link in links):
        fail(f"links must be a list of https:// addresses, got {links!r}")
    upstream = raw.get("upstream", "")
    if not isinstance(upstream, str):
        fail(f"upstream must be a string, got {upstream!r}")
    if not links and "no upstream report found" not in upstream.lower():
        fail('an entry without links must say upstream = "no upstream report found"')
    outcomes = raw.get("outcomes", [])
    if not isinstance(outcomes, list) or not all(outcome in NON_PASS for outcome in outcomes):
        fail(f"outcomes must be a list among {NON_PASS}, got {outcomes!r}")
    if kind in ("xfail", "unsupported") and not outcomes:
        fail(f"a {kind} entry must name the outcomes it explains (outcomes = [...])")
    if kind == "unsupported" and set(outcomes) - {"unsupported", "rejected"}:
        fail('an unsupported entry explains only "unsupported" or "rejected"')
    strict = raw.get("strict", True)
    if not isinstance(strict, bool):
        fail(f"strict must be true or false, got {strict!r}")
    message = raw.get("message", "")
    if not isinstance(message, str):
        fail(f"message must be a string (a regular expression), got {message!r}")
    try:
        re.compile(message)
    except (re.error, OverflowError) as error:
        fail(f"message is not a regular expression: {error}")
    if not strict and not message and {"rejected", "unsupported"} & set(outcomes):
        fail("a non-strict entry that explains an error needs a message pattern (what it covers, and no more)")
    widen = 1.0  # only tolerance entries have one, and they must
    if "widen" in raw:
        widen = _widen_factor(raw["widen"])
        if widen is None:
            fail(f"widen must be a finite number > 1, got {raw['widen']!r}")
    output_dtype = raw.get("output_dtype", "")
    if "output_dtype" in raw and output_dtype not in DTYPE_CODES:
        fail(f"output_dtype must be one of the case dtypes {list(DTYPE_CODES)}, got {output_dtype!r}")
    devices = raw.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) and d.strip() for d in devices):
        fail(f"devices must be a list of device names, got {devices!r}")
    versions = raw.get("versions", {})
    if not isinstance(versions, dict):
        fail(f"versions must be a table of package = version range, got {versions!r}")
    for package, spec in versions.items():
        if not isinstance(spec, str) or not spec.strip():
            fail(f"versions.{package} must be a version range in a string (e.g. '>=1.30,<1.32'), got {spec!r}")
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            fail(f"versions.{package} = {spec!r} is not a version range (e.g. '>=1.30,<1.32')")
    return Divergence(
        id=entry_id,
        adapter=adapter,
        kind=kind,
        reason=reason.strip(),
        select=dict(select),
        links=tuple(links),
        upstream=upstream,
        outcomes=tuple(outcomes),
        widen=widen,
        strict=strict,
        message=message,
        output_dtype=output_dtype,
        devices=tuple(devices),
        versions=dict(versions),
    )


ENTRY_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*divergence[ \t]*\]\]", re.MULTILINE)
TOML_POSITION = re.compile(r"(?P<reason>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)", re.DOTALL)


def _read_entries(path: Path) -> list[tuple[str, dict]]:
    """The raw entries of a register file, each with where it is (``path:line: entry N (id 'x')``).

    A register file holds ``[[divergence]]`` entries and nothing else: any other top-level key (a typo such
    as ``[[divergnce]]``) would otherwise be ignored, and its entries with it.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RegisterError(f"{path}: cannot read the register file: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RegisterError(
            f"{path}:{line}: not UTF-8 text (byte {data[error.start]:#04x}); a register file is UTF-8"
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        position = TOML_POSITION.fullmatch(str(error))
        if position is None:
            raise RegisterError(f"{path}: not valid TOML: {error}") from None
        raise RegisterError(
            f"{path}:{position['line']}:{position['column']}: not valid TOML: {position['reason']}"
        ) from None
    unknown = sorted(set(document) - {"divergence"})
    if unknown:
        raise RegisterError(f"{path}: unknown top-level keys {unknown}: a register file holds [[divergence]] entries")
    raw_entries = document.get("divergence", [])
    if not isinstance(raw_entries, list) or not all(isinstance(raw, dict) for raw in raw_entries):
        raise RegisterError(f"{path}: divergence must be an array of tables: write each entry under [[divergence]]")
    lines = [text.count("\n", 0, header.start()) + 1 for header in ENTRY_HEADER.finditer(text)]
    if len(lines) != len(raw_entries):  # entries not written as [[divergence]] headers: no line to give
        lines = [None] * len(raw_entries)
    located = []
    for number, (raw, line) in enumerate(zip(raw_entries, lines), start=1):
        entry_id = raw.get("id")
        named = f" (id {entry_id!r})" if isinstance(entry_id, str) and entry_id else ""
        located.append((f"{path}{f':{line}' if line else ''}: entry {number}{named}", raw))
    return located


def _register_directories(directories: Path | Sequence[Path]) -> list[Path]:
    """The directories to read, in order, each once: the built-in directory may come again as a user's."""
    if isinstance(directories, (str, Path)):
        directories = [directories]
    unique = {}
    for directory in map(Path, directories):
        if not directory.exists():
            raise RegisterError(f"{directory}: register directory does not exist")
        if not directory.is_dir():
            raise RegisterError(f"{directory}: is not a directory (a register is a directory of <adapter>.toml files)")
        unique.setdefault(directory.resolve(), directory)
    return list(unique.values())


def load_register(
    adapter: str,
    directories: Path | Sequence[Path] = REGISTER_DIR,
    framework: str | None = None,
    device: str | None = None,
    versions: dict | None = None,
    inherits: Sequence[str] = (),
) -> Register:
    """The adapter's register: in each directory (one, or a list: the built-in ``REGISTER_DIR`` first, then
    a user's, whose entries add to it), ``<adapter>.toml``, after ``<framework>.toml`` (entries every
    adapter of that framework shares, such as Keras's on each backend) when there is one. No file, no
    entries. An id defined twice, in any of the files, is an error.

    Given the adapter's device and recorded versions, only the entries whose scope holds them are kept;
    an entry scoped on a package the adapter does not report is an error.

    A round trip also gets, first, the entries of the files it ``inherits`` (``<name>.toml``: its source
    adapter's and its target runtime's, as ``adapters.converters.RoundTrip.inherits`` names them): their known
    bugs, recorded once there. They are not strict (a converted model may not reach the bug, so a pass stays a
    pass), and a run need not meet them.
    """
    names = [f"{framework}.toml"] if framework and framework != adapter else []
    inherited = {f"{name}.toml": name for name in inherits if name not in (adapter, framework)}
    entries = []
    origin = {}  # entry id -> where it is defined
    for directory in _register_directories(directories):
        for path in [directory / name for name in [*inherited, *names, f"{adapter}.toml"]]:
            if not path.exists():
                continue
            for where, raw in _read_entries(path):
                entry = _entry(adapter, raw, where)
                if path.name in inherited:
                    entry = replace(entry, strict=False, inherited_from=inherited[path.name])
                if entry.id in origin:
                    raise RegisterError(
                        f"{where}: duplicate entry id {entry.id!r}, first defined at {origin[entry.id]}"
                    )
                origin[entry.id] = where
                entries.append(entry)
    if versions is not None:
        for entry in entries:
            if versions and not entry.versions:
                raise RegisterError(
                    f"{origin[entry.id]}: needs a [divergence.versions] table: the ranges of "
                    f"{sorted(versions)} it was seen in (an entry for one release must not apply to another)"
                )
            missing = sorted(set(entry.versions) - set(versions))
            if missing:
                raise RegisterError(
                    f"{origin[entry.id]}: versions is scoped on {missing}, which {adapter} does not "
                    f"report (it reports {sorted(versions)})"
                )
            try:
                entry.applies_to(device or "cpu", versions)
            except InvalidVersion as error:
                raise RegisterError(f"{origin[entry.id]}: {error}") from None
        entries = [entry for entry in entries if entry.applies_to(device or "cpu", versions)]
    return Register(adapter, entries)
