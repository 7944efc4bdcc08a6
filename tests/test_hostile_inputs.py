"""Hostile inputs: every command refuses bad input with one line on stderr and exit status 2.

The contract: on bad input a command prints exactly one line on stderr,
``python -m conformance <command>: error: <message>``, whose message names the file and line
(``path:LINE``) and the field for bad file contents, or the argument for a bad argument; it exits with
status 2 and never shows a traceback (``--debug``, accepted by every subcommand, shows it instead).
Files that existed before the command are byte-for-byte unchanged afterwards, and no output file is
half-written (on an error, none is written at all).

The commands that only read files (report, gate, publish, equivalence) are called in this process
(``conformance.__main__.main``), which is quicker than a subprocess each; ``run`` and a few samples of
the others run as ``python -m conformance`` subprocesses, as a user runs them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from conformance.__main__ import main
from reports import site

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "tests.plugin_adapters:Correct"
ADAPTER = "vendor-correct"
FILE = f"{ADAPTER}.jsonl"
NARROW = "1d and f64"  # 9 of the smoke profile's cases for a plug-in adapter: a run of under a second
ALL_DTYPES = ("bfloat16", "float16", "float32", "float64")


# ---------------------------------------------------------------------------------------------- helpers


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256 of its bytes)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _in_process(capsys, *args) -> tuple[int, str, str]:
    """``python -m conformance ARGS`` called in this process: (exit status, stdout, stderr). An exception
    that escapes ``main`` is what the interpreter would print: a traceback, and status 1."""
    capsys.readouterr()  # start clean
    escaped = ""
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except Exception:  # noqa: BLE001 - exactly what must never reach a user
        escaped, status = traceback.format_exc(), 1
    captured = capsys.readouterr()
    return (0 if status is None else status), captured.out, captured.err + escaped


def _cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err, f"a traceback, ending: {err.strip().splitlines()[-1]!r}"


def _error_message(command: str, status: int, err: str) -> str:
    """The one error line's message, after checking the exit status and the line's form."""
    _no_traceback(err)
    assert status == 2, f"exit status {status}, stderr:\n{err}"
    lines = err.splitlines()
    assert len(lines) == 1, f"{len(lines)} lines on stderr, not one:\n{err}"
    found = re.fullmatch(rf"python -m conformance {command}: error: (.+)", lines[0])
    assert found, f"not 'python -m conformance {command}: error: <message>': {lines[0]!r}"
    return found[1]


def _names_line(message: str, name: str, lines) -> None:
    """The message names ``name:LINE``, LINE one of ``lines`` (None: the file's name alone)."""
    if lines is None:
        assert name in message, f"the message does not name {name}: {message!r}"
        return
    lines = lines if isinstance(lines, tuple) else (lines,)
    where = rf"{re.escape(name)}:({'|'.join(map(str, lines))})(?!\d)"
    assert re.search(where, message), f"the message does not name {name}:{'/'.join(map(str, lines))}: {message!r}"


def _names_any(message: str, words) -> None:
    """The message holds one of ``words`` (a field's name, or the value that stands for it)."""
    words = words if isinstance(words, tuple) else (words,)
    assert any(word in message for word in words), f"the message names none of {words}: {message!r}"


def _unchanged(before: dict[str, str], after: dict[str, str]) -> None:
    changed = sorted(name for name, digest in before.items() if after.get(name) != digest)
    assert not changed, f"files that existed before were changed or removed: {changed}"


def _nothing_written(before: dict[str, str], after: dict[str, str]) -> None:
    _unchanged(before, after)
    assert set(after) == set(before), f"files written by a command that failed: {sorted(set(after) - set(before))}"


# ------------------------------------------------------------------------- result files read by a command


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _edited(line: int, edit):
    """A mutation of the good file: line ``line`` (1-based) parsed, edited in place by ``edit``, written back."""

    def mutate(lines: list[bytes]) -> bytes:
        item = json.loads(lines[line - 1])
        edit(item)
        lines[line - 1] = (json.dumps(item, sort_keys=True) + "\n").encode()
        return b"".join(lines)

    return mutate


def _replaced(line: int, text: bytes):
    def mutate(lines: list[bytes]) -> bytes:
        lines[line - 1] = text
        return b"".join(lines)

    return mutate


def _torn_at(line: int, keep_after: bool):
    """Line ``line`` cut in the middle of its record (and, unless ``keep_after``, nothing after it)."""

    def mutate(lines: list[bytes]) -> bytes:
        torn = lines[line - 1][: len(lines[line - 1]) // 2]
        after = b"".join(lines[line:]) if keep_after else b""
        return b"".join(lines[: line - 1]) + (torn + b"\n" if keep_after else torn) + after

    return mutate


def _non_utf8(lines: list[bytes]) -> bytes:
    """Bytes that are no UTF-8 inside a string of the second record (line 3)."""
    lines[2], found = re.subn(rb'("device":\s*"c)(pu")', lambda m: m[1] + b"\xff\xfe\xc3(" + m[2], lines[2], count=1)
    assert found == 1, lines[2]
    return b"".join(lines)


def _duplicate(lines: list[bytes]) -> bytes:
    lines[2] = lines[1]  # the first case's record again, in place of the second case's
    return b"".join(lines)


def _renamed(name: str):
    """The envelope's and every record's adapter renamed (so the name itself is the only fault)."""

    def mutate(lines: list[bytes]) -> bytes:
        out = []
        for raw in lines:
            item = json.loads(raw)
            if "adapter" in item:
                item["adapter"] = name
            out.append((json.dumps(item, sort_keys=True) + "\n").encode())
        return b"".join(out)

    return mutate


def _set(field: str, value):
    def edit(item: dict) -> None:
        item[field] = value

    return edit


def _drop(field: str):
    def edit(item: dict) -> None:
        del item[field]

    return edit


# (id, mutation of the good file's lines, the line the error names, the field it names: None for none)
BAD_RESULT_FILES = [
    ("garbage-text", lambda lines: b"this is not a result file\n{{{ at all\n", 1, None),
    ("non-utf8-bytes", _non_utf8, 3, None),
    ("empty-file", lambda lines: b"", (0, 1), None),
    ("envelope-without-adapter", _edited(1, _drop("adapter")), 1, "adapter"),
    ("record-without-outcome", _edited(3, _drop("outcome")), 3, "outcome"),
    ("unknown-outcome-passed", _edited(3, _set("outcome", "passed")), 3, "outcome"),
    ("bad-case-id", _edited(3, _set("case_id", "2d-garbage")), 3, "case_id"),
    ("future-schema-version", _edited(1, _set("schema_version", 99)), 1, "schema_version"),
    ("duplicate-record-of-a-case", _duplicate, 3, ("case_id", "{first case}")),
    ("record-of-another-adapter", _edited(3, _set("adapter", "beta")), 3, "adapter"),
    ("json-array-not-object", _replaced(3, b"[1, 2, 3]\n"), 3, None),
    ("torn-line-in-the-middle", _torn_at(3, keep_after=True), 3, None),
    ("outcome-of-wrong-type", _edited(3, _set("outcome", 5)), 3, "outcome"),
    ("explained-of-wrong-type", _edited(3, _set("explained", "yes")), 3, "explained"),
    ("duration-of-wrong-type", _edited(3, _set("duration_s", "fast")), 3, "duration_s"),
    ("adapter-name-with-path-separator", _renamed("../alpha"), 1, "adapter"),
    ("adapter-name-with-markup", _renamed("<img src=x onerror=alert(1)>"), 1, "adapter"),
    ("end-line-counting-more-records", lambda lines: _edited(len(lines), _set("records", 99))(lines), None, "end line"),
    ("a-line-after-the-end-line", lambda lines: b"".join([*lines, lines[2]]), None, "after the end line"),
    ("case-fields-not-its-id", _edited(3, _set("case", {"batch": 1})), 3, "case"),
    ("unknown-field", _edited(3, _set("colour", "red")), 3, "colour"),
    (
        "a-javascript-link",
        _edited(
            3,
            _set(
                "divergence",
                {
                    "id": "x",
                    "kind": "xfail",
                    "reason": "r",
                    "links": ["javascript:alert(1)"],
                    "upstream": "",
                    "strict": True,
                    "outcomes": ["value_mismatch"],
                    "scope": {},
                },
            ),
        ),
        3,
        "links",
    ),
]
READERS = ("report", "gate", "publish", "equivalence")


def _write_json_line(path: Path, data) -> Path:
    """JSON on one line, so that line 1 is where every field is."""
    path.write_text(json.dumps(data, sort_keys=True) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A real run of a plug-in adapter (no framework) on a few cases, in the format of the day, and the
    baseline the gate writes from it, on one line: ``results/vendor-correct.jsonl`` is the envelope (line 1),
    a record per case (lines 2 to N-1) and the end line (N), every record a pass."""
    root = tmp_path_factory.mktemp("good")
    completed = _cli(*_run_args(root), timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = _result_lines(root / "results" / FILE)
    assert [line["type"] for line in lines] == ["envelope"] + ["result"] * (len(lines) - 2) + ["end"]
    assert len(lines) >= 6 and {line["outcome"] for line in lines[1:-1]} == {"pass"}
    updated = _cli("gate", root / "results", "--baseline", root / "baseline.json", "--update-baseline")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    _write_json_line(root / "baseline.json", json.loads((root / "baseline.json").read_text(encoding="utf-8")))
    return root


@pytest.fixture(scope="module")
def baseline(good) -> dict:
    return json.loads((good / "baseline.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def case_ids(good) -> list[str]:
    """The good file's case ids, in the order of its lines (the first at line 2)."""
    return [line["case_id"] for line in _result_lines(good / "results" / FILE)[1:-1]]


@pytest.fixture
def workspace(good, tmp_path):
    """A copy of the good run and its baseline, for one test to spoil."""
    shutil.copytree(good / "results", tmp_path / "results")
    shutil.copy(good / "baseline.json", tmp_path / "baseline.json")
    return tmp_path


def _reader_args(command: str, root: Path) -> list:
    results = root / "results"
    return {
        "report": ["report", results, "-o", root / "report-out"],
        "gate": ["gate", results, "--baseline", root / "baseline.json"],
        "publish": ["publish", results, "-o", root / "site-out"],
        "equivalence": ["equivalence", results],  # writes results/equivalence.jsonl
    }[command]


@pytest.mark.parametrize("command", READERS)
def test_the_good_file_is_read_by_every_command(workspace, capsys, command):
    """The control: the unmutated file, so that each bad one below fails for its fault alone."""
    before = _snapshot(workspace)
    status, out, err = _in_process(capsys, *_reader_args(command, workspace))
    _no_traceback(err)
    assert status == 0, out + err
    _unchanged(before, _snapshot(workspace))


@pytest.mark.parametrize("command", READERS)
@pytest.mark.parametrize(("mutate", "line", "field"), [row[1:] for row in BAD_RESULT_FILES],
                         ids=[row[0] for row in BAD_RESULT_FILES])  # fmt: skip
def test_a_bad_result_file_is_one_line_naming_file_line_and_field(
    workspace, case_ids, capsys, command, mutate, line, field
):
    path = workspace / "results" / FILE
    path.write_bytes(mutate(_lines(path)))
    before = _snapshot(workspace)
    status, _, err = _in_process(capsys, *_reader_args(command, workspace))
    message = _error_message(command, status, err)
    _names_line(message, FILE, line)
    if field is not None:
        words = field if isinstance(field, tuple) else (field,)
        _names_any(message, tuple(word.replace("{first case}", case_ids[0]) for word in words))
    _nothing_written(before, _snapshot(workspace))


@pytest.mark.parametrize(("command", "status"), [("report", 0), ("publish", 0), ("equivalence", 0), ("gate", 1)])
def test_a_torn_last_line_is_a_warning_and_the_readable_records_are_used(workspace, case_ids, capsys, command, status):
    """A run killed while writing its last record: not an error. The torn line is skipped with a warning
    naming file and line; the gate still fails the run as unfinished (status 1, not 2)."""
    path = workspace / "results" / FILE
    torn = len(case_ids) + 1  # the last record's line, torn, and no end line after it
    path.write_bytes(_torn_at(torn, keep_after=False)(_lines(path)))
    before = _snapshot(workspace)
    found, out, err = _in_process(capsys, *_reader_args(command, workspace))
    _no_traceback(err)
    assert found == status, f"exit status {found}, not {status}:\n{out}\n{err}"
    warned = [line for line in err.splitlines() if re.search(rf"{re.escape(FILE)}:{torn}(?!\d)", line)]
    assert warned and "warning" in warned[0].lower(), f"no warning naming {FILE}:{torn} on stderr:\n{err}"
    if command == "report":
        assert re.search(rf"\b{len(case_ids) - 1} records\b", out), out
    if command == "gate":  # the readable records compared, the torn one's case missing
        assert case_ids[-1] in out and case_ids[0] not in out, out
    _unchanged(before, _snapshot(workspace))


def test_a_bad_result_file_in_a_real_process_exits_2_with_one_line(workspace):
    path = workspace / "results" / FILE
    path.write_bytes(b"garbage\n")
    before = _snapshot(workspace)
    completed = _cli(*_reader_args("report", workspace))
    message = _error_message("report", completed.returncode, completed.stderr)
    _names_line(message, FILE, 1)
    _nothing_written(before, _snapshot(workspace))


def test_debug_shows_the_traceback_instead(workspace):
    path = workspace / "results" / FILE
    path.write_bytes(b"garbage\n")
    before = _snapshot(workspace)
    completed = _cli("report", "--debug", *_reader_args("report", workspace)[1:])
    assert completed.returncode != 0
    assert "Traceback" in completed.stderr, completed.stderr
    _nothing_written(before, _snapshot(workspace))


@pytest.mark.parametrize("command", ["run", "report", "gate", "publish", "equivalence", "capabilities"])
def test_every_subcommand_accepts_debug(capsys, command):
    status, out, _ = _in_process(capsys, command, "--debug", "--help")
    assert status == 0 and "--debug" in out, out


# ------------------------------------------------------------------------------------------- baselines


def _outcome_passed(baseline: dict) -> dict:
    for adapter in baseline["adapters"].values():
        for case in adapter["cases"].values():
            case["outcome"] = "passed"
    return baseline


# (id, the baseline's bytes or an edit of the good one, the line the error names (None: a whole JSON document,
# named by file and field), the field it names)
BAD_BASELINES = [
    ("not-json", b"{not json\n", 1, None),
    ("json-array", b"[]\n", None, None),
    ("another-format", lambda baseline: {**baseline, "format": "some-other-tool"}, None, "format"),
    ("future-version", lambda baseline: {**baseline, "version": 99}, None, "version"),
    ("without-adapters", lambda baseline: {k: v for k, v in baseline.items() if k != "adapters"}, None, "adapters"),
    ("unknown-case-outcome", _outcome_passed, None, "outcome"),
]


@pytest.mark.parametrize(("content", "line", "field"), [row[1:] for row in BAD_BASELINES],
                         ids=[row[0] for row in BAD_BASELINES])  # fmt: skip
def test_gate_refuses_a_bad_baseline(workspace, baseline, capsys, content, line, field):
    path = workspace / "baseline.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _write_json_line(path, content(json.loads(json.dumps(baseline))))
    before = _snapshot(workspace)
    status, _, err = _in_process(capsys, *_reader_args("gate", workspace))
    message = _error_message("gate", status, err)
    _names_line(message, "baseline.json", line)
    if field is not None:
        _names_any(message, field)
    _nothing_written(before, _snapshot(workspace))


def test_gate_refuses_a_missing_baseline(workspace, capsys):
    (workspace / "baseline.json").unlink()
    before = _snapshot(workspace)
    status, _, err = _in_process(capsys, *_reader_args("gate", workspace))
    message = _error_message("gate", status, err)
    _names_any(message, "baseline.json")
    _nothing_written(before, _snapshot(workspace))


def _unfinished_without_end(path: Path) -> None:
    path.write_bytes(b"".join(_lines(path)[:-1]))


def _unfinished_short(path: Path) -> None:
    """An end line, but fewer records than planned (two more cases planned than recorded)."""
    lines = [json.loads(line) for line in _lines(path)]
    lines[0]["planned"] = lines[-1]["planned"] = lines[-1]["records"] + 2
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")


UNFINISHED = [("no-end-line", _unfinished_without_end), ("fewer-records-than-planned", _unfinished_short)]


@pytest.mark.parametrize("unfinish", [row[1] for row in UNFINISHED], ids=[row[0] for row in UNFINISHED])
def test_update_baseline_from_an_unfinished_run_is_refused_without_allow_partial(
    workspace, baseline, case_ids, capsys, unfinish
):
    unfinish(workspace / "results" / FILE)
    committed = json.loads(json.dumps(baseline))
    for adapter in committed["adapters"].values():  # the committed baseline: one case only
        adapter["cases"] = {case_ids[0]: adapter["cases"][case_ids[0]]}
    _write_json_line(workspace / "baseline.json", committed)
    before = _snapshot(workspace)
    status, _, err = _in_process(capsys, *_reader_args("gate", workspace), "--update-baseline")
    message = _error_message("gate", status, err)
    _names_any(message, "--allow-partial")
    _names_any(message, FILE)
    _nothing_written(before, _snapshot(workspace))

    status, out, err = _in_process(capsys, *_reader_args("gate", workspace), "--update-baseline", "--allow-partial")
    _no_traceback(err)
    assert status == 0, out + err
    written = json.loads((workspace / "baseline.json").read_text(encoding="utf-8"))
    assert set(written["adapters"][ADAPTER]["cases"]) == set(case_ids)


# -------------------------------------------------------------------------------------- site data files

BAD_SITE_DATA = [
    ("not-json", b'{"format": oops}\n', 1, None),
    ("another-format", {"format": "some-other-tool", "version": site.VERSION, "sets": []}, None, "format"),
    ("future-version", {"format": "transposed-convolution-conformance-site-data", "version": 99, "sets": []}, None,
     "version"),
    ("without-sets", {"format": "transposed-convolution-conformance-site-data", "version": site.VERSION}, None, "sets"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "line", "field"), [row[1:] for row in BAD_SITE_DATA],
                         ids=[row[0] for row in BAD_SITE_DATA])  # fmt: skip
def test_publish_refuses_a_bad_site_data_file(workspace, capsys, content, line, field):
    data = workspace / "site-data.json"
    if isinstance(content, bytes):
        data.write_bytes(content)
    else:
        _write_json_line(data, content)
    before = _snapshot(workspace)
    status, _, err = _in_process(capsys, "publish", data, "-o", workspace / "site-out")
    message = _error_message("publish", status, err)
    _names_line(message, "site-data.json", line)
    if field is not None:
        _names_any(message, field)
    _nothing_written(before, _snapshot(workspace))


# --------------------------------------------------------------------------------- an output that is a file


@pytest.mark.parametrize("command", ["report", "publish"])
def test_an_output_directory_that_is_an_existing_file_is_refused(workspace, capsys, command):
    taken = workspace / "taken.txt"
    taken.write_text("a file someone keeps\n", encoding="utf-8")
    args = [*_reader_args(command, workspace)[:2], "-o", taken]
    before = _snapshot(workspace)
    status, _, err = _in_process(capsys, *args)
    message = _error_message(command, status, err)
    _names_any(message, ("-o", "--output"))
    _names_any(message, "taken.txt")
    _nothing_written(before, _snapshot(workspace))


# ------------------------------------------------------------------------------------------ run arguments


def _result_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run_args(root: Path, *extra, adapter: str = PLUGIN) -> list:
    """A quick run (a plug-in adapter, a narrow -k) with ``extra``: should an argument not be refused, the
    run it starts is short."""
    args = ["run", "--results", root / "results", "-k", NARROW]
    return args + (["--adapter", adapter] if adapter else []) + list(extra)


# (id, arguments, what the message must hold: the argument, and more where the contract says)
BAD_RUN_ARGUMENTS = [
    ("case-timeout-zero", ["--case-timeout", "0"], ["--case-timeout"]),
    ("case-timeout-negative", ["--case-timeout", "-1"], ["--case-timeout"]),
    ("case-timeout-nan", ["--case-timeout", "nan"], ["--case-timeout"]),
    ("case-timeout-inf", ["--case-timeout", "inf"], ["--case-timeout"]),
    ("case-timeout-text", ["--case-timeout", "abc"], ["--case-timeout"]),
    ("unknown-dtype", ["--dtype", "float46"], ["--dtype", "float46", *ALL_DTYPES]),
    ("register-missing", ["--register", "{root}/no-such-register"], ["--register", "no-such-register"]),
    ("results-is-a-file", ["--results", "{root}/taken.txt"], ["--results"]),
    ("adapter-typo", ["--adapter", "torhc"], ["--adapter", "torhc", "torch"]),
    ("adapter-twice", ["--adapter", PLUGIN], ["--adapter"]),
    ("shard-zero", ["--shard", "0/4"], ["--shard"]),
    ("shard-beyond-count", ["--shard", "5/4"], ["--shard"]),
    ("threads-negative", ["--threads", "-1"], ["--threads"]),
    ("unknown-profile", ["--profile", "nope"], ["--profile", "nope"]),
]


@pytest.mark.parametrize(("extra", "named"), [row[1:] for row in BAD_RUN_ARGUMENTS],
                         ids=[row[0] for row in BAD_RUN_ARGUMENTS])  # fmt: skip
def test_run_refuses_a_bad_argument_before_anything_runs(tmp_path, extra, named):
    (tmp_path / "taken.txt").write_text("a file someone keeps\n", encoding="utf-8")
    extra = [arg.replace("{root}", str(tmp_path)) for arg in extra]
    adapter = None if extra[:2] == ["--adapter", "torhc"] else PLUGIN
    before = _snapshot(tmp_path)
    completed = _cli(*_run_args(tmp_path, *extra, adapter=adapter), timeout=60)
    message = _error_message("run", completed.returncode, completed.stderr)
    for word in named:
        _names_any(message, word)
    _nothing_written(before, _snapshot(tmp_path))


def test_run_refuses_a_register_with_a_toml_syntax_error_naming_file_and_line(tmp_path):
    register = tmp_path / "register"
    register.mkdir()
    (register / "vendor-correct.toml").write_text(
        '[[divergence]]\nid = "planted"\nkind = = "xfail"\nreason = "a syntax error on line 3"\n', encoding="utf-8"
    )
    before = _snapshot(tmp_path)
    completed = _cli(*_run_args(tmp_path, "--register", register), timeout=60)
    message = _error_message("run", completed.returncode, completed.stderr)
    _names_line(message, "vendor-correct.toml", 3)
    _nothing_written(before, _snapshot(tmp_path))


# ---------------------------------------------------------------------------- results already on the disk


def test_a_run_into_an_existing_result_file_is_refused_and_resume_continues_it(tmp_path):
    first = _cli(*_run_args(tmp_path), timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    path = tmp_path / "results" / "vendor-correct.jsonl"
    complete = _result_lines(path)
    planned = complete[0]["planned"]
    every_case = [line["case_id"] for line in complete if line.get("type") == "result"]
    assert planned == len(every_case) > 4
    path.write_bytes(b"".join(_lines(path)[:4]))  # killed after three records: no end line
    partial = path.read_bytes()

    before = _snapshot(tmp_path)
    refused = _cli(*_run_args(tmp_path), timeout=120)
    message = _error_message("run", refused.returncode, refused.stderr)
    _names_any(message, "--resume")
    _nothing_written(before, _snapshot(tmp_path))

    resumed = _cli(*_run_args(tmp_path), "--resume", timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert path.read_bytes().startswith(partial), "the records already there were not kept as they were"
    lines = _result_lines(path)
    ends = [i for i, line in enumerate(lines) if line.get("type") == "end"]
    assert ends == [len(lines) - 1], f"end lines at {ends} of {len(lines)} lines: one, at the end"
    recorded = [line["case_id"] for line in lines if line.get("type") == "result"]
    assert len(recorded) == len(set(recorded)), "a case recorded twice: the recorded ones were not skipped"
    assert sorted(recorded) == sorted(every_case)
    assert lines[-1]["records"] == lines[-1]["planned"] == planned


def test_a_second_run_on_the_same_result_file_is_refused_while_the_first_writes_it(tmp_path):
    results = tmp_path / "results"
    path = results / "vendor-slow.jsonl"
    args = ["run", "--results", results, "--adapter", "tests.plugin_adapters:SlowCorrect", "--profile", "smoke"]
    logs = tmp_path / "first.log"
    with logs.open("w") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "conformance", *map(str, args)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not (path.exists() and len(_lines(path)) >= 3):  # the envelope and two records
            assert first.poll() is None, logs.read_text()
            assert time.monotonic() < deadline, "the first run wrote no records in 60 s"
            time.sleep(0.05)
        second = _cli(*args, "--resume", timeout=60)  # --resume: refused for the lock, not for the file
        if second.returncode != 2:
            assert first.poll() is None, "inconclusive: the first run had finished before the second started"
        message = _error_message("run", second.returncode, second.stderr)
        _names_any(message, "vendor-slow.jsonl")
        assert first.wait(timeout=120) == 0, logs.read_text()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    lines = _result_lines(path)
    assert [line.get("type") for line in lines[:1] + lines[-1:]] == ["envelope", "end"]
    recorded = [line for line in lines if line.get("type") == "result"]
    assert len(recorded) + 2 == len(lines) and len({line["case_id"] for line in recorded}) == len(recorded)
    assert lines[-1]["records"] == lines[-1]["planned"] == len(recorded)
    assert len({line["repro"] for line in recorded}) == 1, "records from another process in the first's file"


def test_an_adapter_that_k_leaves_without_cases_gets_no_result_file(tmp_path):
    completed = _cli(
        "run", "--results", tmp_path / "results", "--adapter", PLUGIN, "--adapter", "tests.plugin_adapters:NaNs",
        "-k", f"vendor-correct and {NARROW}", timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    written = sorted(path.name for path in (tmp_path / "results").glob("*.jsonl"))
    assert written == ["vendor-correct.jsonl"], written


# ----------------------------------------------------------------- directories with nothing to read, paths


@pytest.mark.parametrize("command", READERS)
def test_a_directory_without_result_files_is_refused(tmp_path, capsys, command):
    (tmp_path / "results").mkdir()
    _write_json_line(tmp_path / "baseline.json", {"format": "x"})
    before = _snapshot(tmp_path)
    status, _, err = _in_process(capsys, *_reader_args(command, tmp_path))
    message = _error_message(command, status, err)
    _names_any(message, ("no result files", "not a conformance baseline", "field 'format'"))
    _nothing_written(before, _snapshot(tmp_path))


@pytest.mark.parametrize("command", ["report", "publish"])
def test_an_output_directory_that_cannot_be_written_is_one_line(workspace, capsys, command):
    blocked = workspace / "blocked"
    blocked.write_text("a file, where a directory would have to be made")
    target = blocked / "inside"
    status, _, err = _in_process(capsys, command, workspace / "results", "-o", target)
    message = _error_message(command, status, err)
    _names_any(message, str(blocked))


def test_a_register_file_that_names_no_adapter_of_the_run_is_a_warning(tmp_path):
    register = tmp_path / "register"
    register.mkdir()
    (register / "vendor-corect.toml").write_text("")  # a typo: vendor-correct
    completed = _cli(*_run_args(tmp_path, "--register", register))
    _no_traceback(completed.stderr)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "vendor-corect.toml: names no adapter or framework of this run" in completed.stderr
