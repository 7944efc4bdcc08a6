"""Time the HTML report at scale: the merged report of the full profile over every CPU adapter (about
400,000 made-up records), build and browser.

    python benchmarks/report.py [--keep DIR] [--results DIR]
    python benchmarks/report.py --records 400000 --adapters 13

By default the result files are shaped like those of ``tox -e report`` run with the full profile: each
of the 13 CPU adapters is given the cases the runner gives it (explicit ones, its framework's modes, the
must-reject cases of the rules its framework documents), and onnxruntime also in a previous version.
With ``--records``/``--adapters``, made-up adapters each get the same first records/adapters cases of
the full profile, every framework's modes included (more members in the equivalence of modes than a real
run has). Outcomes are drawn from ``MIX``.

Prints the seconds to write the result files, to load them and to build the report, the sizes of its
index page and of its whole directory, and (where Debian's chromium is installed) the seconds until the
page is interactive, until a filter redraws the matrix and until a cell's detail (loaded on demand) is
drawn, against the targets side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import adapters  # noqa: E402
from conformance.grid import profile  # noqa: E402
from conformance.runner import given_to  # noqa: E402
from reports import browser, html  # noqa: E402
from reports.results import load  # noqa: E402
from tests.synthetic_results import write_run  # noqa: E402

# Every kind of cell and detail: registered divergences (the register section), the newer outcomes.
MIX = (("pass", 0.78), ("unsupported", 0.1), ("value_mismatch", 0.04), ("shape_mismatch", 0.03), ("xfail", 0.03),
       ("dtype_mismatch", 0.01), ("suite_error", 0.01))  # fmt: skip
BUILD_TARGET_S = 30  # load + build, the merged report of the full profile over every CPU adapter
INTERACTIVE_TARGET_S = 3  # from navigation until the matrix is drawn and answers input


def write_cpu_adapters(directory: Path) -> None:
    """Result files as every CPU adapter's run of the full profile leaves them, each in its own directory."""
    cases = profile("full")
    for seed, name in enumerate(sorted(adapters.BUILTIN)):
        adapter = adapters.load(name)  # no framework is imported to load one
        if adapters.device(adapter) != "cpu":
            continue
        given = [case for case in cases if given_to(case, adapters.capabilities(adapter), adapters.modes(adapter))]
        write_run(directory / name, name, given, seed=seed, mix=MIX)
        if name == "onnxruntime":  # as tox's onnxruntime-previous env adds it
            write_run(directory / f"{name}-previous", name, given, versions={name: "0.9"}, seed=seed, mix=MIX)


def write_same_cases(directory: Path, records: int, count: int) -> None:
    cases = list(profile("full"))[: records // count]
    for index in range(count):
        write_run(directory, f"adapter-{index}", cases, seed=index, mix=MIX)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, help="made-up adapters running the same cases: records in all")
    parser.add_argument("--adapters", type=int, default=13, help="how many made-up adapters, with --records")
    parser.add_argument("--keep", type=Path, help="write the report (and any made-up results) here, and keep them")
    parser.add_argument("--results", type=Path, help="time the report of these result files (none made up)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        rows = [f"{'step':<30}{'seconds':>9}{'target':>9}"]
        if args.results:
            results_dir = args.results
        else:
            results_dir = work / "results"
            start = time.perf_counter()
            if args.records:
                write_same_cases(results_dir, args.records, args.adapters)
            else:
                write_cpu_adapters(results_dir)
            rows.append(f"{'write result files':<30}{time.perf_counter() - start:>9.1f}{'-':>9}")
        start = time.perf_counter()
        results = load([results_dir])
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        index_html = html.build(results, work / "report")
        built = time.perf_counter() - start
        records = sum(len(run.records) for run in results.runs)
        cases = len({record["case_id"] for _, record in results.records})
        index_mb = index_html.stat().st_size / 1e6
        files = [path for path in index_html.parent.rglob("*") if path.is_file()]
        folder_mb = sum(path.stat().st_size for path in files) / 1e6
        print(f"{records} records: {len(results.runs)} runs of {len({run.adapter for run in results.runs})} adapters")
        print(f"over {cases} cases")
        rows.append(f"{'load result files':<30}{loaded:>9.1f}{'-':>9}")
        rows.append(f"{'build report':<30}{built:>9.1f}{'-':>9}")
        rows.append(f"{'load + build':<30}{loaded + built:>9.1f}{BUILD_TARGET_S:>9}")
        print("\n".join(rows))
        print(f"index.html {index_mb:.1f} MB; the report's directory {folder_mb:.1f} MB in {len(files)} files")
        if browser.missing():
            print(f"browser: skipped ({browser.missing()})")
            return 0
        print("\n".join(browse(index_html)))
    return 0


def browse(index_html: Path) -> list[str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with browser.chromium() as driver:
        ready = browser.open_report(driver, index_html)
        start = time.perf_counter()
        # Registered wrong answers: both made-up records and a real full run have many.
        Select(driver.find_element(By.ID, "filter-outcome")).select_by_value("registered")
        driver.find_element(By.ID, "page-info").text  # noqa: B018 - waits for the redraw
        filtered = time.perf_counter() - start
        browser.open_detail(driver, driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.m-registered.clickable"))
        opened = driver.execute_script("return window.reportTimings.detailMs") / 1000
    return [
        f"{'page interactive (Chromium)':<30}{ready:>9.2f}{INTERACTIVE_TARGET_S:>9}",
        f"{'filter + redraw':<30}{filtered:>9.2f}{'-':>9}",
        f"{'open a detail (its file)':<30}{opened:>9.2f}{'-':>9}",
    ]


if __name__ == "__main__":
    sys.exit(main())
