"""Hostile plug-in adapters through ``python -m conformance run``: a process that segfaults or hangs, an
output far too large, complex or upcast, markup in everything an adapter says about itself, unsafe names,
and adapters whose optional members misbehave. Each costs its own cases (or its own adapter) and nothing
else: the healthy cases and the healthy neighbour are recorded in full, and no Python traceback reaches
the user.

The hostile adapters live in ``tests/plugin_adapters.py``; each misbehaves on the cases with a bias only.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.case import Case
from conformance.engine import keyword_filter, keyword_names, marker_name
from conformance.grid import profile
from conformance.records import read_result_file as _read_result_file
from reports import browser
from tests import plugin_adapters

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = "tests.plugin_adapters"
HEALTHY = f"{PLUGINS}:Correct"  # the healthy neighbour: the reference's values, nothing else
HEALTHY_NAME = "vendor-correct"
# Five small 1-D float32 cases of the smoke profile, two of them with a bias (where the hostile adapters
# misbehave); no must-reject case.
SELECT = "1d and n1 and f32 and not -x and not co3"
# Three of them, one with a bias: for the adapter that hangs (each hang costs the case timeout).
SELECT_FEW = "1d and n1 and f32 and not -x and (g2 or op1)"
CASE_TIMEOUT = 2


def selected(expression: str, adapter: str = "vendor", framework: str | None = None) -> list[Case]:
    """The explicit smoke cases an adapter of that name and framework is given under ``-k expression``."""
    matches = keyword_filter(expression)
    marker = marker_name(framework or adapter)
    return [
        case
        for case in profile("smoke")
        if case.mode == "explicit"
        and not case.violates
        and case.direction == "forward"  # these adapters have no backward pass
        and matches(keyword_names(adapter, marker, case))
    ]


@dataclass
class Ran:
    status: int
    stdout: str
    stderr: str
    results: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def files(self) -> list[str]:
        return sorted(path.name for path in self.results.glob("*.jsonl")) if self.results.is_dir() else []


def run(results: Path, *adapters: str, keyword: str = SELECT, extra: tuple = (), timeout: float = 300) -> Ran:
    command = [sys.executable, "-m", "conformance", "run", "--results", str(results), "--profile", "smoke",
               "--case-timeout", str(CASE_TIMEOUT), "--no-progress", "-k", keyword, *extra]  # fmt: skip
    for adapter in adapters:
        command += ["--adapter", adapter]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return Ran(completed.returncode, completed.stdout, completed.stderr, results)


def complete(ran: Ran, adapter: str, cases: list[Case]) -> dict[str, dict]:
    """The adapter's records by case id, after checking that its file holds every planned case and its end line."""
    path = ran.results / f"{adapter}.jsonl"
    assert path.is_file(), f"no result file for {adapter}: {ran.files()}\n{ran.output[-3000:]}"
    envelope, records, end = read_result_file(path)
    assert envelope["planned"] == len(cases), ran.output[-3000:]
    assert end == {"type": "end", "planned": len(cases), "records": len(cases)}, ran.output[-3000:]
    assert sorted(record["case_id"] for record in records) == sorted(case.id for case in cases)
    return {record["case_id"]: record for record in records}


def read_result_file(path: Path) -> tuple[dict, list[dict], dict | None]:
    """The envelope, the records and the end line of a result file (whatever else the reader returns)."""
    contents = _read_result_file(path)
    return contents[0], contents[1], contents[2]


def both_kinds(cases: list[Case]) -> list[Case]:
    """The selection holds hostile (bias) and healthy cases, or the test would prove nothing."""
    assert {case.bias for case in cases} == {True, False}, [case.id for case in cases]
    return cases


def files_under(path: Path) -> list[str]:
    return sorted(str(item.relative_to(path)) for item in path.rglob("*") if item.is_file())


# --- 1, 2: a process that dies or never answers --------------------------------------------------------------


def test_a_segfault_is_a_crash_of_its_own_cases_and_the_run_goes_on(tmp_path):
    ran = run(tmp_path / "results", f"{PLUGINS}:SegfaultsWithBias")
    cases = both_kinds(selected(SELECT, "vendor-segfault"))
    records = complete(ran, "vendor-segfault", cases)
    assert ran.status == 1, ran.output[-3000:]
    for case in cases:
        record = records[case.id]
        if case.bias:
            assert record["outcome"] == "crash", record
            assert re.search(r"-11\b|SIGSEGV|signal 11", record["metrics"]["message"]), record["metrics"]
        else:
            assert record["outcome"] == "pass", record
    assert "Traceback" not in ran.stderr


def test_a_hang_is_a_timeout_of_its_own_cases_and_the_run_goes_on(tmp_path):
    ran = run(tmp_path / "results", f"{PLUGINS}:HangsWithBias", keyword=SELECT_FEW)
    cases = both_kinds(selected(SELECT_FEW, "vendor-hang-bias"))
    records = complete(ran, "vendor-hang-bias", cases)
    assert ran.status == 1, ran.output[-3000:]
    for case in cases:
        record = records[case.id]
        assert record["outcome"] == ("timeout" if case.bias else "pass"), record
        if case.bias:
            assert f"{CASE_TIMEOUT} s" in record["metrics"]["message"], record["metrics"]
    assert "Traceback" not in ran.stderr


# --- 3, 4, 5: outputs of the wrong size or kind --------------------------------------------------------------


def test_a_1_gib_output_for_a_tiny_case_is_a_shape_mismatch_and_the_run_completes(tmp_path):
    ran = run(tmp_path / "results", f"{PLUGINS}:HugeOutputWithBias")
    cases = both_kinds(selected(SELECT, "vendor-huge"))
    records = complete(ran, "vendor-huge", cases)
    assert ran.status == 1, ran.output[-3000:]
    for case in cases:
        record = records[case.id]
        if case.bias:
            assert record["outcome"] == "shape_mismatch", record["outcome"]
            assert record["metrics"]["actual_shape"] == list(plugin_adapters.HugeOutputWithBias.HUGE_SHAPE)
            assert record["metrics"]["expected_shape"] == list(case.output_shape)
        else:
            assert record["outcome"] == "pass", record
    assert "Traceback" not in ran.stderr


def test_a_complex_output_is_a_dtype_mismatch_never_cast_to_real(tmp_path):
    ran = run(tmp_path / "results", f"{PLUGINS}:ComplexWithBias")
    cases = both_kinds(selected(SELECT, "vendor-complex-bias"))
    records = complete(ran, "vendor-complex-bias", cases)
    assert ran.status == 1, ran.output[-3000:]
    for case in cases:
        record = records[case.id]
        if case.bias:
            assert record["outcome"] == record["raw_outcome"] == "dtype_mismatch", record
            assert record["metrics"]["output_dtype"] in ("complex64", "complex128"), record["metrics"]
            assert record["metrics"]["expected_dtype"] == "float32"
            assert record["metrics"].get("values") != "pass", record["metrics"]  # the imaginary part is not dropped
        else:
            assert record["outcome"] == "pass", record
    assert "Traceback" not in ran.stderr


def test_float64_values_for_a_float32_case_are_a_dtype_mismatch_with_values_passing(tmp_path):
    ran = run(tmp_path / "results", f"{PLUGINS}:UpcastsWithBias")
    cases = both_kinds(selected(SELECT, "vendor-upcast"))
    records = complete(ran, "vendor-upcast", cases)
    assert ran.status == 1, ran.output[-3000:]
    for case in cases:
        record = records[case.id]
        if case.bias:
            assert record["outcome"] == "dtype_mismatch", record
            metrics = record["metrics"]
            assert metrics["output_dtype"] == "float64" and metrics["expected_dtype"] == "float32"
            assert metrics["values"] == "pass", metrics
        else:
            assert record["outcome"] == "pass", record
    assert "Traceback" not in ran.stderr


# --- 6: markup in everything an adapter says ----------------------------------------------------------------

MARKUP_NAME = "vendor-markup"


@pytest.fixture(scope="module")
def markup(tmp_path_factory):
    """One run of the markup adapter, its report and its site."""
    base = tmp_path_factory.mktemp("markup")
    ran = run(base / "results", f"{PLUGINS}:MarkupEverywhere")
    report = subprocess.run(
        [sys.executable, "-m", "conformance", "report", str(base / "results"), "-o", str(base / "report")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [sys.executable, "-m", "conformance", "publish", str(base / "results"), "-o", str(base / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return ran, report, site, base


def _strings(item):
    """Every string in a JSON value, keys included."""
    if isinstance(item, str):
        yield item
    elif isinstance(item, dict):
        for key, value in item.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(item, list):
        for value in item:
            yield from _strings(value)


def test_markup_in_messages_warnings_repro_and_versions_is_recorded_verbatim(markup):
    ran, _, _, _ = markup
    cases = both_kinds(selected(SELECT, MARKUP_NAME, plugin_adapters.MARKUP_FRAMEWORK))
    records = complete(ran, MARKUP_NAME, cases)
    assert ran.status == 1, ran.output[-3000:]  # the refusals are unexplained
    assert "Traceback" not in ran.stderr
    envelope, _, _ = read_result_file(ran.results / f"{MARKUP_NAME}.jsonl")
    assert envelope["framework_versions"] == {plugin_adapters.MARKUP_VERSION_KEY: plugin_adapters.MARKUP_VERSION_VALUE}
    for case in cases:
        record = records[case.id]
        assert record["outcome"] == ("rejected" if case.bias else "pass"), record
        if case.bias:
            assert record["metrics"]["message"] == f"ValueError: {plugin_adapters.MARKUP_ERROR}"
        assert f"UserWarning: {plugin_adapters.MARKUP_WARNING}" in record["warnings"], record["warnings"]
        assert record["repro"] == f"{plugin_adapters.MARKUP_REPRO}\n# {case.id}"


def test_markup_in_the_framework_name_is_recorded_verbatim(markup):
    ran, _, _, _ = markup
    assert ran.status == 1, ran.output[-3000:]
    assert "Traceback" not in ran.stderr
    envelope, records, _ = read_result_file(ran.results / f"{MARKUP_NAME}.jsonl")
    assert plugin_adapters.MARKUP_FRAMEWORK in set(_strings([envelope, *records])), (
        f"the framework name is not in {MARKUP_NAME}.jsonl (envelope keys: {sorted(envelope)})"
    )


def test_the_report_and_the_site_of_markup_records_are_built(markup):
    ran, report, site, base = markup
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr[-3000:]
    assert site.returncode == 0 and "Traceback" not in site.stderr, site.stderr[-3000:]
    assert (base / "report" / "index.html").is_file() and (base / "site" / "index.html").is_file()
    assert not re.search(r"<img src=x onerror", (base / "site" / "index.html").read_text(encoding="utf-8"))


def _pwned(driver):
    """What the page's markup did: window.pwned, event-handler elements, inline scripts that name pwned."""
    time.sleep(0.3)  # a failed image load runs its onerror handler asynchronously
    return driver.execute_script(
        "return [window.pwned === undefined ? null : String(window.pwned),"
        " document.querySelectorAll('[onerror], [onload], [onmouseover]').length,"
        " [...document.scripts].filter(s => !s.src && !/json/.test(s.type) && s.textContent.includes('pwned')).length]"
    )


@pytest.mark.skipif(browser.missing() is not None, reason=f"no headless browser: {browser.missing()}")
def test_markup_stays_text_in_the_report_and_the_site_in_chromium(markup):
    from selenium.webdriver.common.by import By

    ran, report, site, base = markup
    assert report.returncode == 0 and site.returncode == 0, (report.stderr + site.stderr)[-3000:]
    assert ran.status == 1 and "Traceback" not in ran.stderr
    versions = f"{plugin_adapters.MARKUP_VERSION_KEY} {plugin_adapters.MARKUP_VERSION_VALUE}"
    refused = next(case for case in selected(SELECT, MARKUP_NAME, plugin_adapters.MARKUP_FRAMEWORK) if case.bias)
    pages = files_under(base / "site")
    assert "index.html" in pages and any(page.startswith("adapters/") for page in pages)
    with browser.chromium() as driver:
        browser.open_report(driver, base / "report" / "index.html")
        assert _pwned(driver) == [None, 0, 0]
        assert versions in driver.find_element(By.TAG_NAME, "body").text  # the summary's versions, as text
        driver.find_element(By.ID, "search").send_keys(refused.id)
        text = browser.open_detail(driver, driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.clickable"))
        assert _pwned(driver) == [None, 0, 0]
        for shown in (plugin_adapters.MARKUP_ERROR, plugin_adapters.MARKUP_WARNING, plugin_adapters.MARKUP_REPRO):
            assert shown in text, text
        for page in (page for page in pages if page.endswith(".html")):
            driver.get((base / "site" / page).resolve().as_uri())
            assert _pwned(driver) == [None, 0, 0], page
            body = driver.find_element(By.TAG_NAME, "body").text
            if page == "index.html" or page.startswith("adapters/"):
                assert versions in body, (page, body)


# --- 7, 9: names the suite must refuse before anything runs ------------------------------------------------

UNSAFE_NAMES = {
    "NameWithSlash": "vendor/npu",
    "NameEscapes": "../escape",
    "NameDotDot": "..",
    "NameWithBackslash": "vendor\\npu",
    "NameWithSpace": "vendor npu",
    "NameWithMarkup": "<img src=x onerror=alert(1)>",
    "NameEmpty": "",
}


def _refused_in_one_line(ran: Ran, spec: str, name: str, tmp_path: Path) -> str:
    assert ran.status == 2, ran.output[-3000:]
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr[-3000:]
    (line,) = lines
    assert spec in line or (name and (name in line or repr(name) in line)), line
    assert files_under(tmp_path) == [], "a refused run wrote files"
    return line


@pytest.mark.parametrize("attribute", sorted(UNSAFE_NAMES))
def test_an_unsafe_adapter_name_is_refused_before_any_case_runs(tmp_path, attribute):
    name = UNSAFE_NAMES[attribute]
    assert getattr(plugin_adapters, attribute).name == name
    spec = f"{PLUGINS}:{attribute}"
    ran = run(tmp_path / "results", HEALTHY, spec)
    line = _refused_in_one_line(ran, spec, name, tmp_path)
    assert "name" in line.lower(), line  # says why: the name
    assert not (tmp_path / "escape.jsonl").exists() and not (ROOT / "escape.jsonl").exists()
    assert not (ROOT.parent / "escape.jsonl").exists()


@pytest.mark.parametrize(
    "adapters",
    [(HEALTHY, HEALTHY), (HEALTHY, f"{PLUGINS}:instance")],  # the same spec twice; two specs, one name
    ids=["same-spec", "same-name"],
)
def test_the_same_adapter_twice_is_refused_in_one_line(tmp_path, adapters):
    ran = run(tmp_path / "results", *adapters)
    _refused_in_one_line(ran, adapters[-1], HEALTHY_NAME, tmp_path)


# --- 8: adapters that cannot run leave their neighbour whole ------------------------------------------------

# spec, the adapter's name where the suite can know it (None: its class could not be loaded or built),
# and a piece of the reason that the record and the output must carry.
UNAVAILABLE = [
    pytest.param(f"{PLUGINS}_missing:Adapter", None, "plugin_adapters_missing", id="module-not-importable"),
    pytest.param(f"{PLUGINS}:ConstructorRaises", None, "hostile constructor exploded", id="constructor-raises"),
    pytest.param(
        f"{PLUGINS}:AvailabilityRaises",
        "vendor-availability-raises",
        "hostile availability exploded",
        id="availability-raises",
    ),
    pytest.param(
        f"{PLUGINS}:AvailabilityNotString", "vendor-availability-not-string", "availability", id="availability-not-str"
    ),
    pytest.param(f"{PLUGINS}:VersionsRaise", "vendor-versions-raise", "hostile versions exploded", id="versions-raise"),
    pytest.param(f"{PLUGINS}:VersionsNotDict", "vendor-versions-not-dict", "versions", id="versions-not-dict"),
]


def _healthy_neighbour_whole(ran: Ran) -> None:
    records = complete(ran, HEALTHY_NAME, selected(SELECT, HEALTHY_NAME))
    assert {record["outcome"] for record in records.values()} == {"pass"}


def _recorded_unavailable(ran: Ran, name: str | None, reason: str) -> None:
    """The hostile adapter's file (where its name is known) says it was unavailable, and why; any file of
    an adapter whose name the suite could not know does too."""
    if name is not None:
        assert f"{name}.jsonl" in ran.files(), (ran.files(), ran.output[-3000:])
    for file_name in ran.files():
        if file_name == f"{HEALTHY_NAME}.jsonl" or (name is not None and file_name != f"{name}.jsonl"):
            continue  # the healthy neighbour, or another hostile adapter of the same run
        envelope, records, end = read_result_file(ran.results / file_name)
        assert isinstance(envelope.get("unavailable"), str) and reason in envelope["unavailable"], envelope
        assert records == [] and end is not None and end["records"] == 0


@pytest.mark.parametrize(("spec", "name", "reason"), UNAVAILABLE)
def test_an_adapter_that_cannot_run_is_unavailable_with_its_reason_and_fails_the_run(tmp_path, spec, name, reason):
    ran = run(tmp_path / "results", HEALTHY, spec)
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    _healthy_neighbour_whole(ran)
    _recorded_unavailable(ran, name, reason)
    assert reason in ran.output, ran.output[-3000:]  # the process says why
    if name is not None:
        assert name in ran.output
    assert ran.status != 0, ran.output[-3000:]  # a requested adapter could not run


# One of each kind: not loaded, availability() failing, versions() failing (each adapter costs a process).
ALLOWED_IDS = ("module-not-importable", "availability-raises", "versions-not-dict")
ALLOWED = [param.values for param in UNAVAILABLE if param.id in ALLOWED_IDS]


def test_allow_unavailable_passes_a_run_whose_other_adapters_passed(tmp_path):
    ran = run(tmp_path / "results", HEALTHY, *(spec for spec, _, _ in ALLOWED), extra=("--allow-unavailable",))
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert ran.status == 0, ran.output[-3000:]
    _healthy_neighbour_whole(ran)
    assert len(ALLOWED) == 3
    for _, name, reason in ALLOWED:
        if name is not None:
            _recorded_unavailable(ran, name, reason)
        assert reason in ran.output, (reason, ran.output[-3000:])


@pytest.mark.parametrize(
    ("attribute", "name", "reason"),
    [
        ("ReproRaisesWithBias", "vendor-repro-raises", "hostile repro exploded"),
        ("ReproUnpicklableWithBias", "vendor-repro-unpicklable", None),
    ],
)
def test_a_failing_repro_is_a_warning_and_its_cases_are_still_judged(tmp_path, attribute, name, reason):
    ran = run(tmp_path / "results", HEALTHY, f"{PLUGINS}:{attribute}")
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert ran.status == 0, ran.output[-3000:]
    _healthy_neighbour_whole(ran)
    cases = both_kinds(selected(SELECT, name))
    records = complete(ran, name, cases)
    for case in cases:
        record = records[case.id]
        assert record["outcome"] == "pass", record
        if case.bias:
            assert record["warnings"], record
            assert any("repro" in warning for warning in record["warnings"]), record["warnings"]
            if reason:
                assert any(reason in warning for warning in record["warnings"]), record["warnings"]
        else:
            assert record["warnings"] == [] and record["repro"] == f"# reproduces {case.id}", record


# --- an adapter that tries to end its process, or answers with no array ----------------------------------------


@pytest.mark.parametrize(
    "adapter, name, outcome, words",
    [
        ("ExitsWithBias", "vendor-exits", "crash", "the adapter raised SystemExit(3)"),
        ("InterruptsWithBias", "vendor-interrupts", "crash", "the adapter raised KeyboardInterrupt()"),
        ("NotAnArrayWithBias", "vendor-none", "shape_mismatch", None),
    ],
)
def test_an_adapter_that_exits_or_returns_no_array_costs_its_own_cases(tmp_path, adapter, name, outcome, words):
    ran = run(tmp_path / "results", f"{PLUGINS}:{adapter}")
    cases = both_kinds(selected(SELECT, name))
    records = complete(ran, name, cases)
    assert ran.status == 1, ran.output[-3000:]
    for case in cases:
        record = records[case.id]
        assert record["outcome"] == (outcome if case.bias else "pass"), record
        if case.bias and words:
            assert record["metrics"]["message"] == words
    assert "Traceback" not in ran.stderr and "KeyboardInterrupt" not in ran.stderr


def test_an_adapter_declaring_modes_the_suite_does_not_have_is_refused(tmp_path):
    ran = run(tmp_path / "results", f"{PLUGINS}:UnknownModes")
    assert ran.status == 2 and ran.stderr.count("\n") == 1, ran.output[-3000:]
    assert "modes ['caffe'] are none of the suite's" in ran.stderr
    assert ran.files() == []
