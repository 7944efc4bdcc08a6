"""Time the HTML report at scale: 100,000 made-up records (real case ids), build and browser.

    python benchmarks/report.py [--records 100000]

Prints the seconds to write the result files, to load and build the report, its size, and (where
Debian's chromium is installed) the seconds until the page is interactive and until a filter redraws
the matrix, against the targets side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.grid import profile  # noqa: E402
from reports import browser, html  # noqa: E402
from reports.results import load  # noqa: E402
from tests.synthetic_results import write_run  # noqa: E402

# Every kind of cell and detail: registered divergences (the register section), the newer outcomes.
MIX = (("pass", 0.78), ("unsupported", 0.1), ("value_mismatch", 0.04), ("shape_mismatch", 0.03), ("xfail", 0.03),
       ("dtype_mismatch", 0.01), ("suite_error", 0.01))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--adapters", type=int, default=10)
    args = parser.parse_args()
    cases = list(profile("full"))[: args.records // args.adapters]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        start = time.perf_counter()
        for index in range(args.adapters):
            write_run(work / "results", f"adapter-{index}", cases, seed=index, mix=MIX)
        written = time.perf_counter() - start
        start = time.perf_counter()
        index_html = html.build(load([work / "results"]), work / "report")
        built = time.perf_counter() - start
        size = index_html.stat().st_size / 1e6
        print(f"{len(cases) * args.adapters} records, {len(cases)} cases x {args.adapters} adapters")
        print(f"{'step':<28}{'seconds':>9}{'target':>9}")
        print(f"{'write result files':<28}{written:>9.1f}{'-':>9}")
        print(f"{'load + build report':<28}{built:>9.1f}{'10':>9}   ({size:.1f} MB)")
        if browser.missing():
            print(f"browser: skipped ({browser.missing()})")
            return 0
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        with browser.chromium() as driver:
            ready = browser.open_report(driver, index_html)
            start = time.perf_counter()
            Select(driver.find_element(By.ID, "filter-outcome")).select_by_value("value_mismatch")
            driver.find_element(By.ID, "page-info").text  # noqa: B018 - waits for the redraw
            filtered = time.perf_counter() - start
        print(f"{'page interactive (Chromium)':<28}{ready:>9.2f}{'2':>9}")
        print(f"{'filter + redraw':<28}{filtered:>9.2f}{'-':>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
