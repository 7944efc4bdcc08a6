"""Result files: JSON Lines, one file per adapter and device, written as the run goes.

The first line is the envelope (``Envelope``: schema version, suite commit, UTC time, platform,
device, framework versions, the selection and how many cases the run planned for the adapter); then
one ``Record`` per (case, adapter, device); and, when the run closes the file, an ``End`` line with
the counts. A killed run keeps every record written before it died, and the missing end line says it
did not finish.

These three dataclasses are the format: the runner writes them, every reader validates each line
against the JSON Schema derived from them (``schema()``, published in ``schemas/``), and the tests
make their records with them.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from functools import cache, lru_cache
from pathlib import Path

from conformance.case import ID_PATTERN, Case
from conformance.errors import UserError, schema_problem

NEWLINE = b"\n"
# 2: the envelope's planned count and the end line; 3: selection, and every field typed; 4: a case's direction
SCHEMA_VERSION = 4
PASSING = ("pass", "xpass")  # the outcomes in which the framework's output matched the reference
OUTCOMES = (
    "pass",
    "shape_mismatch",
    "value_mismatch",
    "nonfinite",
    "dtype_mismatch",
    "accepted_invalid",
    "rejected",
    "unsupported",
    "crash",
    "timeout",
    "suite_error",
    "xfail",
    "xpass",
)
# Where a refusal (``rejected``) came from, in the order a case goes through them; the record's
# ``metrics["stage"]``, set by the adapter (``adapters.stage``), or "unknown". "conversion" and "load" are a
# round trip's own.
STAGES = {
    "construction": "building the layer, model or session",
    "conversion": "the converter exporting or translating the model",
    "load": "the target runtime loading the converted model",
    "call": "running it",
}
# What a porter asks of a raw outcome (what the framework did, before the register): right, a wrong
# answer, a refusal, or a broken run. The suite's own failure is its own group; xfail and xpass are
# verdicts of the register, never raw outcomes.
OUTCOME_GROUPS = {
    "right": ("pass",),
    "wrong answer": ("shape_mismatch", "value_mismatch", "nonfinite", "dtype_mismatch", "accepted_invalid"),
    "refused": ("rejected", "unsupported"),
    "broken": ("crash", "timeout"),
    "suite error": ("suite_error",),
}
GROUP_OF = {outcome: group for group, outcomes in OUTCOME_GROUPS.items() for outcome in outcomes}


def raw_outcome(record: dict) -> str:
    """What the framework did, before the register (a record written before there was one: its outcome)."""
    return record.get("raw_outcome", record["outcome"])


# An adapter's name becomes a file name, a pytest id and a page name: letters, digits, and . _ + - inside.
SAFE_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,98}[A-Za-z0-9_+])?$"


def name_problem(name) -> str | None:
    """Why ``name`` cannot name an adapter (a file, an id, a page), or None when it can."""
    if not isinstance(name, str) or not re.match(SAFE_NAME, name) or ".." in name:
        return (
            f"adapter name {name!r} is not a safe file name: use letters, digits and . _ + - "
            "(at most 100, starting with a letter or digit, no '..')"
        )
    return None


def _rule(description: str, **constraints) -> dict:
    """A field's description and its constraints beyond its type, for the derived JSON Schema."""
    return {"description": description, "schema": constraints}


@dataclass(frozen=True)
class Shard:
    index: int = field(metadata=_rule("this shard, from 1", minimum=1))
    count: int = field(metadata=_rule("shards the run was split into", minimum=1))


@dataclass(frozen=True)
class Selection:
    """What narrowed the profile (besides the shard): a resumed run must be given the same."""

    dtypes: list[str] = field(metadata=_rule("only these dtypes (empty: every dtype)"))
    keyword: str | None = field(metadata=_rule("the -k expression, if any"))
    cases: list[str] = field(
        default_factory=list, metadata=_rule("only these case ids, given with --case (empty: the profile)")
    )


@dataclass(frozen=True)
class Conversion:
    """A round trip, declared once per adapter (its ``conversion``): the framework the case is built in, the
    converter, and the runtime that runs what the converter wrote. The envelope carries it; the report
    places the adapter beside its source framework and names the whole path."""

    source: str = field(metadata=_rule("the framework the case is built in, as adapters name it", minLength=1))
    converter: str = field(metadata=_rule("what converts it, as its users call it", minLength=1))
    target: str = field(metadata=_rule("what runs the converted model", minLength=1))

    def label(self) -> str:
        return f"{self.source} → {self.converter} → {self.target}"


@dataclass(frozen=True)
class Envelope:
    """The first line of a result file: what ran, where, in which versions."""

    type: str = field(metadata=_rule("the line's kind", const="envelope"))
    schema_version: int = field(metadata=_rule("the format's version", const=SCHEMA_VERSION))
    suite_commit: str = field(metadata=_rule("the suite's git commit, or unknown"))
    timestamp_utc: str = field(metadata=_rule("when the run began (ISO 8601, UTC)"))
    platform: dict[str, str] = field(metadata=_rule("system, python and machine"))
    adapter: str = field(metadata=_rule("the adapter's name", pattern=SAFE_NAME))
    framework: str = field(
        metadata=_rule("the framework the adapter runs (its pytest marker, once made an identifier)")
    )
    device: str = field(metadata=_rule("cpu, cuda, ...", minLength=1))
    device_model: str = field(metadata=_rule("the CPU or accelerator model"))
    framework_versions: dict[str, str] = field(metadata=_rule("package -> version, as the adapter reports them"))
    precision: dict = field(metadata=_rule("the framework's precision settings, as the adapter reports them"))
    profile: str = field(metadata=_rule("the case profile"))
    selection: Selection = field(metadata=_rule("what narrowed the profile"))
    shard: Shard | None = field(metadata=_rule("the shard of the profile this file holds (null: all of it)"))
    planned: int = field(metadata=_rule("cases planned for the adapter", minimum=0))
    threads: int | str | None = field(metadata=_rule("threads per operation in the framework"))
    unavailable: str | None = field(metadata=_rule("why the adapter could not run here (null: it ran)"))
    conversion: Conversion | None = field(
        default=None, metadata=_rule("a round trip's source framework, converter and target runtime (null: none)")
    )


@dataclass(frozen=True)
class Record:
    """One result: a case run on an adapter and device, judged against the reference and the register."""

    type: str = field(metadata=_rule("the line's kind", const="result"))
    case_id: str = field(metadata=_rule("the canonical case id (conformance.case.Case.id)", pattern=ID_PATTERN.pattern))
    case: Case = field(metadata=_rule("the case's fields"))
    adapter: str = field(metadata=_rule("the adapter's name, as in the envelope", pattern=SAFE_NAME))
    device: str = field(metadata=_rule("the device, as in the envelope", minLength=1))
    outcome: str = field(metadata=_rule("the outcome after the register", enum=list(OUTCOMES)))
    raw_outcome: str = field(metadata=_rule("what the comparison found, before the register", enum=list(GROUP_OF)))
    explained: bool = field(metadata=_rule("whether the outcome leaves the run green"))
    metrics: dict = field(metadata=_rule("what the comparison measured, or the framework's message"))
    tolerance: dict = field(metadata=_rule("the derived bound's rule, accumulation length and widening"))
    divergence: RegisterEntry | None = field(metadata=_rule("the register entry behind the outcome, if any"))
    warnings: list[str] = field(metadata=_rule("warnings the framework raised"))
    duration_s: float = field(metadata=_rule("seconds the framework's call took", minimum=0))
    repro: str | None = field(metadata=_rule("a few lines of plain framework code reproducing the output"))

    def to_json(self) -> dict:
        return _plain(self)


@dataclass(frozen=True)
class RegisterEntry:
    """A register entry as a record carries it."""

    id: str = field(metadata=_rule("the entry's id"))
    kind: str = field(metadata=_rule("xfail, unsupported, tolerance or promotion"))
    reason: str = field(metadata=_rule("why, in a sentence a user can act on"))
    links: list[str] = field(metadata=_rule("upstream reports", items={"pattern": "^https://"}))
    upstream: str = field(metadata=_rule("what is known upstream when there is no link"))
    strict: bool = field(metadata=_rule("whether a pass is an xpass"))
    outcomes: list[str] = field(metadata=_rule("the outcomes it explains"))
    scope: dict = field(metadata=_rule("the devices and versions it applies to"))


@dataclass(frozen=True)
class End:
    """The last line of a run that closed its file."""

    type: str = field(metadata=_rule("the line's kind", const="end"))
    planned: int = field(metadata=_rule("cases planned", minimum=0))
    records: int = field(metadata=_rule("records written", minimum=0))


LINES = {"envelope": Envelope, "result": Record, "end": End}


def _plain(value):
    if is_dataclass(value):
        return (
            value.fields()
            if isinstance(value, Case)
            else {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        )
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _schema_of(annotation) -> dict:
    """The JSON Schema of a Python type annotation, for the few types the format uses."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_of(argument) for argument in arguments]}
    if origin in (list, tuple):
        if origin is tuple and Ellipsis not in arguments:  # (begin, end): items of one type, a fixed count
            count = len(arguments)
            return {"type": "array", "items": _schema_of(arguments[0]), "minItems": count, "maxItems": count}
        return {"type": "array", "items": _schema_of(arguments[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(arguments[1])}
    if is_dataclass(annotation):
        return {"$ref": f"#/$defs/{annotation.__name__}"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", type(None): "null"}
    return {"type": simple[annotation]}


def _object_schema(cls) -> dict:
    hints = typing.get_type_hints(cls)
    properties = {}
    for item in fields(cls):
        if item.name.startswith("_"):
            continue
        found = _schema_of(hints[item.name])
        rule = item.metadata.get("schema", {})
        if "items" in rule and "items" in found:
            found = {**found, "items": {**found["items"], **rule["items"]}}
            rule = {key: value for key, value in rule.items() if key != "items"}
        found.update(rule)
        if "description" in item.metadata:
            found = {"description": item.metadata["description"], **found}
        properties[item.name] = found
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    if cls is Case:  # a record carries every field of its case, defaults included
        required = list(properties)
    return {
        "type": "object",
        "description": (cls.__doc__ or "").split("\n")[0],
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of one line of a result file (an envelope, a record or an end line)."""
    definitions = {
        cls.__name__: _object_schema(cls)
        for cls in (Envelope, Selection, Shard, Conversion, Record, Case, RegisterEntry, End)
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "A line of a transposed-convolution conformance result file (JSON Lines)",
        "description": (
            f"Schema version {SCHEMA_VERSION}. The first line is an Envelope, then one Record per case, then an End "
            "line when the run finished."
        ),
        "oneOf": [{"$ref": f"#/$defs/{cls.__name__}"} for cls in LINES.values()],
        "$defs": definitions,
    }


def _kind_schema(kind: str) -> dict:
    whole = schema()
    return {**{key: value for key, value in whole.items() if key != "oneOf"}, "$ref": f"#/$defs/{LINES[kind].__name__}"}


@cache
def _fast_check(kind: str):
    """The schema compiled to Python (fastjsonschema): a run's records are checked at 20 us each, where
    jsonschema takes 600 us; jsonschema then says where a failing line is wrong (``_checked``).

    A record's ``case`` is only required to be an object here: ``_check_case`` then requires it to equal
    the fields of the case its id names, which always meet the Case schema (tests/test_records.py), and
    are checked once per case id instead of once per record (a third of the time)."""
    import fastjsonschema

    relaxed = _kind_schema(kind)
    relaxed = {**relaxed, "$defs": {**relaxed["$defs"], "Case": {"type": "object"}}}
    return fastjsonschema.compile(relaxed)


@cache
def _validator(kind: str):
    import jsonschema

    return jsonschema.Draft202012Validator(_kind_schema(kind))


def suite_commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def envelope(
    adapter: str,
    device: str,
    versions: dict,
    precision: dict,
    profile: str,
    device_model: str,
    planned: int,
    shard=None,
    threads=None,
    unavailable: str | None = None,
    dtypes=(),
    keyword: str | None = None,
    framework: str | None = None,
    cases=(),
    conversion: dict | None = None,
) -> Envelope:
    """The first line of a result file; ``shard`` (with ``index`` and ``count``) only for one shard of a run."""
    return Envelope(
        type="envelope",
        schema_version=SCHEMA_VERSION,
        suite_commit=suite_commit(),
        timestamp_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        platform={"system": platform.platform(), "python": platform.python_version(), "machine": platform.machine()},
        adapter=adapter,
        framework=framework or adapter,
        device=device,
        device_model=device_model,
        framework_versions={str(k): str(v) for k, v in versions.items()},
        precision=precision,
        profile=profile,
        selection=Selection(dtypes=list(dtypes), keyword=keyword, cases=list(cases)),
        shard=None if shard is None else Shard(shard.index, shard.count),
        planned=planned,
        threads=threads,  # per operation in the framework (see adapters.limit_threads)
        unavailable=unavailable,
        conversion=Conversion(**conversion) if conversion else None,
    )


def result_file_name(adapter: str, shard: dict | None = None) -> str:
    """``<adapter>.jsonl``, or ``<adapter>.shard-K-of-N.jsonl`` for one shard, so shards never overwrite each other."""
    if shard is None:
        return f"{adapter}.jsonl"
    return f"{adapter}.shard-{shard['index']}-of-{shard['count']}.jsonl"


# What a resumed run must share with the file it continues: otherwise its records would mix two runs.
RESUMED_ALIKE = (
    "adapter",
    "framework",
    "device",
    "framework_versions",
    "precision",
    "profile",
    "selection",
    "shard",
    "suite_commit",
    "planned",
)
EXISTING = ("refuse", "resume", "overwrite")


class ResultFile:
    """Appends records to ``DIR/<adapter>.jsonl``, flushing each so that a crash loses nothing.

    The file is locked while the run writes it: a second run writing the same file is refused. A file
    that already holds results is refused (``existing="refuse"``), replaced (``"overwrite"``), or
    continued (``"resume"``): its records kept, its cases in ``recorded``, its end line or torn last
    line dropped, the new records appended.
    """

    def __init__(self, directory: Path, header: Envelope, existing: str = "refuse"):
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise UserError(f"--results {directory}: not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        shard = header.shard and {"index": header.shard.index, "count": header.shard.count}
        self.path = directory / result_file_name(header.adapter, shard)
        self.planned = header.planned
        self.written = 0
        self.recorded: set[str] = set()
        self._created, self._pending = False, None
        self._handle = self.path.open("a+", encoding="utf-8")  # never truncates: what is there stays until decided
        try:
            _lock(self._handle, self.path)
            self._handle.seek(0, os.SEEK_END)
            found = self._handle.tell()
            self._created = not found
            if found and existing == "refuse":
                raise UserError(
                    f"{self.path} already holds results of {header.adapter}: --resume continues that run, --overwrite "
                    "replaces it, or give another --results directory"
                )
            # Nothing changes in the file until the run writes its first line (``_write``): a run stopped
            # before then leaves it as it was.
            self._pending = (0, _checked(self.path, 1, _plain(header), expected="envelope"))
            if found and existing == "resume":
                self._pending = (self._continue(header), None)
        except BaseException:
            self.release()
            raise

    def _continue(self, header: Envelope) -> int:
        """Take up the file's run: its records count, and the length of the file to keep."""
        contents = read_result_file(self.path)
        found = {key: contents.envelope.get(key) for key in RESUMED_ALIKE}
        wanted = _plain(header)
        differing = [key for key in RESUMED_ALIKE if found[key] != wanted[key]]
        if differing:
            details = "; ".join(f"{key}: {found[key]!r} in the file, {wanted[key]!r} now" for key in differing)
            raise UserError(f"{self.path}: cannot resume a run of another kind ({details})")
        data = self.path.read_bytes()
        kept = data[: data.rfind(NEWLINE) + 1]  # a torn last line goes
        if contents.end is not None:  # so does the end line: one end line, written when this run closes
            kept = kept[: kept.rstrip(NEWLINE).rfind(NEWLINE) + 1]
        self.recorded = {record["case_id"] for record in contents.records}
        self.written = len(contents.records)
        return len(kept)

    def _write(self, item: dict) -> None:
        if self._pending is not None:
            keep, header = self._pending
            self._pending = None
            self._handle.truncate(keep)
            if header is not None:
                self._write(header)
        self._handle.write(json.dumps(item, sort_keys=True) + "\n")
        self._handle.flush()

    def release(self) -> None:
        """Let the file go without an end line, as it was if nothing was written (a file this run created, gone)."""
        if self._handle.closed:
            return
        if self._created and self._pending is not None:
            self.path.unlink(missing_ok=True)
        self._handle.close()

    def append(self, record: Record) -> None:
        if record.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {record.outcome!r}")
        self._write(record.to_json())
        self.written += 1

    def close(self) -> None:
        """The end line: a run that wrote it, with as many records as it planned, finished."""
        if not self._handle.closed:
            self._write({"type": "end", "planned": self.planned, "records": self.written})
            self._handle.close()


def _lock(handle, path: Path) -> None:
    """Hold the file for this run alone (released when the handle closes, or the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; a second run there is not detected
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise UserError(
            f"{path}: another run is writing this file now; wait for it, or give another --results"
        ) from None
    held = os.fstat(handle.fileno())
    try:
        named = os.stat(path)
    except FileNotFoundError:
        named = None
    if named is None or (named.st_dev, named.st_ino) != (held.st_dev, held.st_ino):
        # A run that created the file gave it up (removed it) before writing: this handle holds no file.
        raise UserError(f"{path}: another run was starting on this file; run again")


class Contents(typing.NamedTuple):
    envelope: dict
    records: list[dict]
    end: dict | None
    warnings: list[str]  # a torn last line, skipped


def file_kind(path: Path) -> str:
    """What a JSON Lines file of this suite holds, from its first line: "results" or "equivalence"."""
    try:
        with Path(path).open(encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "results"  # the result file reader says what is wrong with it, and where
    return first.get("kind", "results") if isinstance(first, dict) else "results"


def read_result_file(path: Path) -> Contents:
    """The envelope, the records and the end line (None if the run never closed the file), each line
    validated against the schema. A torn last line (a killed run, a full disk) is skipped with a
    warning; anything else wrong is a ``UserError`` naming the file, the line and the field."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(NEWLINE) + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise UserError(f"{path}:1: empty; a result file starts with its envelope line")
    lines = text.split("\n")
    torn_at = len(lines) if lines[-1] else None  # the last line has no newline: the writer never finished it
    warnings, items = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            if number == torn_at:
                warnings.append(f"{path}:{number}: torn last line skipped (the run was killed, or the disk was full)")
                continue
            raise UserError(f"{path}:{number}: not a JSON line ({error.msg} at column {error.colno})") from None
        items.append((number, item))
    if not items:
        raise UserError(f"{path}:1: torn envelope line; the run was killed before it wrote anything")
    envelope = _checked(path, *items[0], expected="envelope")
    records, end, seen = [], None, {}
    for number, item in items[1:]:
        if end is not None:
            raise UserError(f"{path}:{number}: a line after the end line")
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "end":
            end, end_at = _checked(path, number, item, expected="end"), number
            continue
        record = _checked(path, number, item, expected="result")
        for key in ("adapter", "device"):
            if record[key] != envelope[key]:
                raise UserError(
                    f"{path}:{number}: field {key!r}: {record[key]!r}, but the envelope says {envelope[key]!r}"
                )
        first = seen.setdefault(record["case_id"], number)
        if first != number:
            raise UserError(f"{path}:{number}: case {record['case_id']} recorded twice (first on line {first})")
        _check_case(path, number, record)
        records.append(record)
    if end is not None and (end["records"], end["planned"]) != (len(records), envelope["planned"]):
        raise UserError(
            f"{path}:{end_at}: the end line says {end['records']} records of {end['planned']} planned; the "
            f"file holds {len(records)} records of {envelope['planned']} planned"
        )
    return Contents(envelope, records, end, warnings)


def _checked(path: Path, number: int, item, expected: str) -> dict:
    """The line, if it is a valid line of the expected kind; else a UserError naming file, line and field."""
    if not isinstance(item, dict):
        raise UserError(f"{path}:{number}: a line must be a JSON object, got {type(item).__name__}")
    if item.get("type") != expected:
        raise UserError(f"{path}:{number}: field 'type': {item.get('type')!r}, expected {expected!r} here")
    if expected == "envelope" and item.get("schema_version") != SCHEMA_VERSION:
        raise UserError(
            f"{path}:{number}: field 'schema_version': {item.get('schema_version')!r}; this suite reads version "
            f"{SCHEMA_VERSION} (write the file again with this suite, or read it with the suite that wrote it)"
        )
    import fastjsonschema

    try:
        _fast_check(expected)(item)
    except fastjsonschema.JsonSchemaValueException:
        problem = schema_problem(_validator(expected), item) or "does not match the schema"
        raise UserError(f"{path}:{number}: {problem}") from None
    return item


@lru_cache(maxsize=1 << 16)
def _case_fields(case_id: str) -> str | dict:
    try:
        return Case.from_id(case_id).fields()
    except ValueError as error:
        return str(error)


def _check_case(path: Path, number: int, record: dict) -> None:
    """The case id names a case the suite can build, and the record's case fields are that case's."""
    found = _case_fields(record["case_id"])
    if isinstance(found, str):
        raise UserError(f"{path}:{number}: field 'case_id': {found}")
    if found != record["case"]:
        differing = sorted(key for key in found if found[key] != record["case"].get(key))
        raise UserError(f"{path}:{number}: field 'case': {differing} differ from those of case_id {record['case_id']}")


def read_results(path: Path) -> tuple[dict, list[dict]]:
    """The envelope and the records of one result file."""
    contents = read_result_file(path)
    return contents.envelope, contents.records
