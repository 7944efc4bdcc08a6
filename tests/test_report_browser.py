"""The HTML report in headless Chromium: the matrix renders, a filter narrows it, a mismatch's detail
opens with its error map (loaded on demand from the details files), the new outcomes' details say what
happened, hostile text stays text; screenshots are saved (``CONFORMANCE_ARTIFACTS``, default ``artifacts/``)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from conformance.grid import curated, mode_cases, profile
from reports import browser, html
from reports.results import load
from tests.synthetic_results import HOSTILE, must_reject, write_hostile_runs, write_run

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=f"no headless browser: {browser.missing()}")


def _detail_of(driver, case) -> str:
    """Search the matrix for one case and open its cell's detail; the detail's text."""
    from selenium.webdriver.common.by import By

    search = driver.find_element(By.ID, "search")
    search.clear()
    search.send_keys(case.id)
    return browser.open_detail(driver, driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.clickable"))


def test_report_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    cases = list(profile("smoke"))
    mismatch = next(case for case in cases if case.rank == 2 and min(case.geometry.output_size) >= 4)
    for adapter in ("alpha", "beta", "gamma"):
        write_run(tmp_path / "results", adapter, cases, outcomes={mismatch.id: "value_mismatch"}, seed=1)
    index = html.build(load([tmp_path / "results"]), tmp_path / "report")
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)

    with browser.chromium() as driver:
        seconds = browser.open_report(driver, index)
        assert seconds < 2.0
        rows = driver.find_elements(By.CSS_SELECTOR, "#matrix-body tr[data-row]")
        assert len(rows) == 100  # the first page
        info = driver.find_element(By.ID, "page-info").text
        assert info == f"cases 1–100 of {len(cases)} shown ({len(cases)} in all)"
        assert len(rows[0].find_elements(By.CSS_SELECTOR, "td.cell")) == 3

        Select(driver.find_element(By.ID, "filter-rank")).select_by_value("3-D")
        three_d = sum(case.rank == 3 for case in cases)
        info = driver.find_element(By.ID, "page-info").text
        assert info.startswith(f"cases 1–{min(three_d, 100)} of {three_d} shown")
        driver.find_element(By.ID, "clear-filters").click()

        driver.find_element(By.ID, "search").send_keys(mismatch.id)
        cell = driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.o-value_mismatch")
        text = browser.open_detail(driver, cell)
        assert driver.find_element(By.ID, "detail").is_displayed()
        shape = ", ".join(map(str, (mismatch.batch, mismatch.out_channels, *mismatch.geometry.output_size)))
        assert f"shape ({shape}) as expected; values differ" in text
        assert "max abs error\n0.5000" in text and "copy repro" in text
        painted = driver.execute_script(
            "const c = document.querySelector('#detail canvas.error-map');"
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let red = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 80) red++;"
            "return [c.width, c.height, red];"
        )
        assert painted[0] > 0 and painted[2] > 0  # the bad bins are drawn red
        driver.execute_script("document.getElementById('matrix').scrollIntoView()")
        assert driver.save_screenshot(str(artifacts / "report-browser.png"))
    assert (artifacts / "report-browser.png").stat().st_size > 10_000


def test_new_outcomes_details_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By

    cases = curated()[:12]
    planted = {cases[0].id: "dtype_mismatch", cases[1].id: "accepted_invalid", cases[2].id: "pass",
               cases[3].id: "suite_error", cases[4].id: "xfail"}  # fmt: skip
    violates = {cases[1].id: "negative_pad", cases[2].id: "negative_pad"}
    write_run(tmp_path / "results", "alpha", cases, outcomes=planted, violates=violates, mix=(("pass", 1.0),))
    cases[1:3] = [must_reject(case, "negative_pad") for case in cases[1:3]]  # as the records hold them
    index = html.build(load([tmp_path / "results"]), tmp_path / "report")
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)

    with browser.chromium() as driver:
        browser.open_report(driver, index)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#matrix-body td.cell.clickable")) == 5
        text = _detail_of(driver, cases[0])
        assert "output dtype float32, but the case's dtype is float64" in text
        assert "The values are within tolerance of the reference." in text
        text = _detail_of(driver, cases[1])
        shape = ", ".join(map(str, (*cases[1].output_shape[:-1], cases[1].output_shape[-1] + 2)))
        assert "(violates negative_pad)" in text and f"returned an output of shape ({shape})" in text
        assert "reading the arguments as: padding read as zero" in text and "NOT explained" in text
        text = _detail_of(driver, cases[2])
        assert (
            f"alpha on {cases[2].id}\npass (refused, as it must)\n" in text
            and "Refused at construction: building the layer, model or session." in text
        )
        assert "alpha refuses <negative_pad>" in text
        assert "not the framework's fault" in _detail_of(driver, cases[3])
        assert "Divergence made-up-xfail" in _detail_of(driver, cases[4])
        driver.find_element(By.CSS_SELECTOR, "#detail a[href='#register-made-up-xfail']").click()
        register = driver.find_element(By.ID, "register-made-up-xfail")
        assert register.is_displayed() and "made-up-xfail" in register.text
        driver.execute_script("document.getElementById('register').scrollIntoView()")
        assert driver.save_screenshot(str(artifacts / "report-register.png"))


def test_direction_filter_and_a_backward_detail_in_chromium(tmp_path):
    """The direction filter keeps the backward cases; a backward cell's detail names its failing gradients and
    tabulates dx, dw, db; the summary says which adapter has no backward pass."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    cases = curated()[:12]
    backward = [dataclasses.replace(case, direction="backward") for case in (cases[11], cases[3], cases[0])]
    outcomes = {backward[0].id: "value_mismatch", backward[1].id: "shape_mismatch"}
    write_run(tmp_path / "results", "alpha", cases + backward, outcomes=outcomes,
              failing={backward[0].id: ("db", "dw")}, mix=(("pass", 1.0),))  # fmt: skip
    write_run(tmp_path / "results", "beta", cases, mix=(("pass", 1.0),))
    index = html.build(load([tmp_path / "results"]), tmp_path / "report")
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shown = "return [...document.querySelectorAll('#matrix-body tr[data-row] td.case')].map(td => td.textContent)"

    with browser.chromium() as driver:
        browser.open_report(driver, index)
        total = len(cases) + len(backward)
        direction = Select(driver.find_element(By.ID, "filter-direction"))
        assert [option.text for option in direction.options] == ["any", "forward", "backward"]
        direction.select_by_value("backward")
        info = driver.find_element(By.ID, "page-info").text  # beta has no backward pass: its column is hidden
        assert info == f"cases 1–3 of 3 shown ({total} in all); hidden: 1 adapter not given these cases"
        assert sorted(driver.execute_script(shown)) == sorted(case.id for case in backward)
        direction.select_by_value("forward")
        assert sorted(driver.execute_script(shown)) == sorted(case.id for case in cases)
        direction.select_by_value("backward")

        text = _detail_of(driver, backward[0])
        assert f"alpha on {backward[0].id}\nvalue_mismatch: NOT explained by the divergence register" in text
        assert "Backward pass: gradients dw and db failed; the worst is db." in text
        table = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#detail table.gradients tbody tr")
        ]
        assert table == [
            ["dx", "pass", "(1, 4, 4, 4)", "1.000e-17", "0.1250", "0"],
            ["dw", "value_mismatch", "(4, 3, 3, 3)", "0.2500", "1000", "4"],
            ["db", "value_mismatch", "(6,)", "0.5000", "10000", "3"],
        ]
        maps = driver.find_elements(By.CSS_SELECTOR, "#detail canvas.error-map")
        assert [canvas.get_attribute("data-gradient") for canvas in maps] == ["dw", "db"]
        assert "The worst gradient's figures (db):" in text and "max abs error\n0.5000" in text
        text = _detail_of(driver, backward[1])
        assert "Backward pass: gradient dx failed." in text
        dx = driver.find_element(By.CSS_SELECTOR, "#detail table.gradients tr[data-gradient='dx']")
        assert [td.text for td in dx.find_elements(By.TAG_NAME, "td")][:3] == [
            "dx", "shape_mismatch", "expected (1, 1, 5, 5), got (1, 1, 5, 4)"
        ]  # fmt: skip

        summary = driver.find_element(By.ID, "summary")
        rows = [tr.text for tr in summary.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert rows[1].startswith("backward 1 1") and rows[3] == "backward no backward pass"
        driver.execute_script("document.getElementById('summary').scrollIntoView()")
        assert driver.save_screenshot(str(artifacts / "report-backward-summary.png"))
        driver.execute_script("document.getElementById('matrix').scrollIntoView()")
        assert driver.save_screenshot(str(artifacts / "report-backward.png"))


def test_details_load_on_demand_in_chromium(tmp_path, monkeypatch):
    """A detail's file is loaded only when one of its cells is opened, once; without the details folder
    the detail says to keep it next to the page."""
    from selenium.webdriver.common.by import By

    monkeypatch.setattr(html, "CHUNK_ROWS", 50)
    cases = list(profile("smoke"))[:160]
    mismatches = {cases[3].id: "value_mismatch", cases[7].id: "shape_mismatch", cases[150].id: "value_mismatch"}
    write_run(tmp_path / "results", "alpha", cases, outcomes=mismatches, mix=(("pass", 1.0),))
    index = html.build(load([tmp_path / "results"]), tmp_path / "report")
    rows = {case["id"]: row for row, case in enumerate(_page_data(index)["cases"])}
    files = {name: f"details/chunk-{rows[cases[i].id] // 50:04d}.js" for name, i in (("3", 3), ("7", 7), ("150", 150))}
    assert files["3"] == files["7"] != files["150"]  # the matrix's order: by family, then id
    loaded = "return [...document.querySelectorAll('script[src]')].map(s => s.getAttribute('src'))"

    with browser.chromium() as driver:
        browser.open_report(driver, index)
        assert driver.execute_script(loaded) == []  # nothing but the page until a cell is opened
        text = _detail_of(driver, cases[3])
        assert f"alpha on {cases[3].id}\nvalue_mismatch: NOT explained by the divergence register" in text
        assert "max abs error\n0.5000" in text and "worst error / tolerance\n10000" in text
        assert f"import alpha\n# reproduces {cases[3].id} <here>" in text
        assert driver.execute_script(loaded) == [files["3"]]
        assert driver.find_elements(By.CSS_SELECTOR, "#detail canvas.error-map")
        text = _detail_of(driver, cases[150])
        assert f"alpha on {cases[150].id}" in text and f"# reproduces {cases[150].id} <here>" in text
        assert driver.execute_script(loaded) == [files["3"], files["150"]]
        text = _detail_of(driver, cases[7])  # from the file loaded for cases[3]: not loaded again
        assert f"alpha on {cases[7].id}\nshape_mismatch" in text and "expected (" in text
        assert driver.execute_script(loaded) == [files["3"], files["150"]]

    for path in (tmp_path / "report" / "details").iterdir():
        path.unlink()
    with browser.chromium() as driver:
        browser.open_report(driver, index)
        text = _detail_of(driver, cases[3])
        assert f"Could not load details/chunk-{rows[cases[3].id] // 50:04d}.js." in text
        assert "keep the two together" in text
        assert driver.execute_script("return document.getElementById('detail').dataset.state") == "failed"


def test_markup_in_records_does_not_run_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By

    cases = curated()[:12]
    index = html.build(load([write_hostile_runs(tmp_path / "results", cases)]), tmp_path / "report")
    with browser.chromium() as driver:
        browser.open_report(driver, index)
        driver.find_element(By.ID, "search").send_keys(cases[0].id)
        text = browser.open_detail(driver, driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.clickable"))
        assert driver.execute_script("return window.pwned") is None
        assert not driver.find_elements(By.CSS_SELECTOR, "#detail script, #detail-body *[onload]")
        messages = [pre.text for pre in driver.find_elements(By.CSS_SELECTOR, "#detail pre")]
        assert messages == [HOSTILE, HOSTILE]  # the message and the repro, as text
        assert f"Divergence hostile-entry: {HOSTILE}" in text and f"warnings: {HOSTILE}" in text
        headers = [
            th.get_attribute("textContent") for th in driver.find_elements(By.CSS_SELECTOR, "#matrix-table th.adapter")
        ]
        assert headers == ["alpha (alpha 1.0)", f"alpha (alpha {HOSTILE})"]
        assert driver.execute_script("return window.pwned") is None


def _page_data(index: Path) -> dict:
    page = index.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)[1])


def test_a_built_report_in_chromium(request):
    """The report ``tox -e report`` built from real runs: renders, filters, opens a mismatch's error map."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    given = request.config.getoption("report")
    if given is None:
        pytest.skip("no --report given (tox -e report passes the report it built)")
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    with browser.chromium() as driver:
        seconds = browser.open_report(driver, Path(given))
        assert seconds < 2.0
        data = "JSON.parse(document.getElementById('report-data').textContent)"
        total = driver.execute_script(f"return {data}.cases.length")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#matrix-body tr[data-row]")) == min(total, 100)
        Select(driver.find_element(By.ID, "filter-rank")).select_by_value("3-D")
        narrowed = int(driver.find_element(By.ID, "page-info").text.split(" of ")[1].split(" ")[0])
        assert 0 < narrowed < total
        driver.find_element(By.ID, "clear-filters").click()
        # The first record with an error map: a value mismatch (registered or not) in the real results.
        details = html.read_details(Path(given).parent)
        key = next((key for key, d in details.items() if d["metrics"].get("error_map")), None)
        assert key is not None, "the report has no value mismatch to show"
        row, column = map(int, key.split(":"))
        driver.find_element(By.ID, "search").send_keys(driver.execute_script(f"return {data}.cases[{row}].id"))
        cell = f"#matrix-body tr[data-row='{row}'] td.cell[data-column='{column}']"
        browser.open_detail(driver, driver.find_element(By.CSS_SELECTOR, cell))
        assert driver.find_element(By.ID, "detail").is_displayed()
        assert driver.find_element(By.CSS_SELECTOR, "#detail canvas.error-map").size["width"] > 0
        driver.execute_script("document.getElementById('matrix').scrollIntoView()")
        assert driver.save_screenshot(str(artifacts / "report-built.png"))


def test_the_porters_first_screens_in_chromium(tmp_path):
    """The verdict line, the summary by raw outcome, the error-size charts, the sticky matrix header, the
    raw-outcome filters, keyboard access, the hidden columns, a detail's parameters, its sentence for the
    returned window and the other adapters, and the equivalence's three numbers."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    cases = [case for case in profile("smoke") if case.mode == "explicit" and not case.violates][:150]
    op = next(c for c in cases if c.rank == 2 and all(o == 1 for o in c.output_padding) and c.direction == "forward")
    registered, unexplained = [case for case in cases if case.id != op.id][3:5]
    window = {"begin": [b for b, _ in op.padding], "end": [e for _, e in op.padding], "appended": [0] * op.rank}
    planted = {op.id: "shape_mismatch", registered.id: "xfail", unexplained.id: "value_mismatch"}
    write_run(tmp_path / "r", "alpha", cases, outcomes=planted, mix=(("pass", 1.0),),
              overrides={op.id: {"metrics": {"observed_window": window, "expected_shape": [1, 1, 1, 1],
                                             "actual_shape": [1, 1, 1, 1]}}})  # fmt: skip
    write_run(tmp_path / "r", "beta", cases, outcomes={op.id: "rejected"}, mix=(("pass", 1.0),))
    modes = {c.id: c for c in mode_cases("smoke")}.values()
    keras = [c for c in modes if c.mode_spec.framework == "keras"]
    write_run(tmp_path / "r", "keras-x", keras, mix=(("pass", 1.0),))
    write_run(tmp_path / "r", "keras-x-channels-first", keras, mix=(("pass", 1.0),))
    jax = [c for c in modes if c.mode_spec.framework == "jax"]
    write_run(tmp_path / "r", "jax", jax, mix=(("pass", 1.0),))
    results = load([tmp_path / "r"])
    index = html.build(results, tmp_path / "report")
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)

    with browser.chromium() as driver:
        driver.set_window_size(1280, 900)
        browser.open_report(driver, index)
        verdict = driver.find_element(By.ID, "verdict")
        assert verdict.text.startswith("2 unexplained outcomes: alpha 2.")  # the shape and the value mismatch
        summary = driver.find_element(By.CSS_SELECTOR, "table.summary")
        assert summary.size["width"] <= 1280 - 2 * 21  # fits the screen beside the body's margins
        value = driver.find_element(By.CSS_SELECTOR, "tbody[data-adapter='alpha'] td[data-outcome='value_mismatch']")
        assert value.text == "2\nr1" or value.text == "2r1"  # two value mismatches, one of them registered
        chart = driver.find_element(By.CSS_SELECTOR, "table.error-sizes svg.error-chart[data-fails='1']")
        assert "1 in > 10 (fails)" in chart.get_attribute("aria-label")  # the unexplained value mismatch
        assert driver.save_screenshot(str(artifacts / "report-first-screen.png"))

        # The matrix: the header stays on top of its scroll box; only the adapters given the shown cases.
        driver.execute_script("document.getElementById('matrix').scrollIntoView()")
        head = "return [...document.querySelectorAll('#matrix-head th')].map(th => th.textContent)"
        driver.find_element(By.ID, "search").send_keys(op.id)
        assert driver.execute_script(head) == ["case", "alpha", "beta"]  # keras-x, its variant and jax: not given it
        driver.find_element(By.ID, "all-adapters").click()
        assert len(driver.execute_script(head)) == 1 + len(results.runs)
        driver.find_element(By.ID, "clear-filters").click()
        sticky = (
            "const box = document.querySelector('.matrix-wrap'); box.scrollTop = 600;"
            "const th = document.querySelector('#matrix-head th');"
            "return [box.getBoundingClientRect().top, th.getBoundingClientRect().top, box.scrollTop]"
        )
        box_top, head_top, scrolled = driver.execute_script(sticky)
        assert scrolled > 0 and abs(head_top - box_top) < 2  # scrolled, and the header still at the top
        assert driver.save_screenshot(str(artifacts / "report-sticky-header.png"))
        driver.execute_script("document.querySelector('.matrix-wrap').scrollTop = 0")

        outcome = Select(driver.find_element(By.ID, "filter-outcome"))
        shown = "return [...document.querySelectorAll('#matrix-body tr[data-row] td.case')].map(td => td.textContent)"
        outcome.select_by_value("group:wrong answer")
        assert sorted(driver.execute_script(shown)) == sorted([op.id, registered.id, unexplained.id])
        outcome.select_by_value("value_mismatch")
        assert sorted(driver.execute_script(shown)) == sorted([registered.id, unexplained.id])
        outcome.select_by_value("registered")  # the xfail, and beta's refusal (the synthetic register explains it)
        assert sorted(driver.execute_script(shown)) == sorted([registered.id, op.id])
        outcome.select_by_value("unexplained")
        assert sorted(driver.execute_script(shown)) == sorted([op.id, unexplained.id])
        outcome.select_by_value("group:refused")
        assert driver.execute_script(shown) == [op.id]  # beta refused it
        refused = driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.m-registered")
        assert (
            refused.get_attribute("data-outcome") == "rejected" and refused.get_attribute("data-mark") == "registered"
        )

        # Keyboard: Tab reaches a cell, Enter opens its detail.
        outcome.select_by_value("group:wrong answer")
        driver.find_element(By.ID, "search").send_keys(op.id)
        cell = driver.find_element(By.CSS_SELECTOR, "#matrix-body td.cell.o-shape_mismatch")
        assert cell.get_attribute("tabindex") == "0"
        driver.execute_script("arguments[0].focus()", cell)
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        browser.open_detail(driver, cell)  # waits until drawn (and opens it again, harmlessly)
        detail = driver.find_element(By.ID, "detail")
        ops = op.output_padding[0]
        assert f"Returned axis 1: the output without the output_padding {ops} position" in detail.text
        rows = {tr.find_element(By.TAG_NAME, "th").text: tr.find_element(By.TAG_NAME, "td").text
                for tr in detail.find_elements(By.CSS_SELECTOR, "table.parameters tr")}  # fmt: skip
        assert rows["output_padding"] == ", ".join(map(str, op.output_padding))
        assert rows["kernel"] == " × ".join(map(str, op.kernel)) and rows["dtype"] == op.dtype
        others = [li.text for li in detail.find_elements(By.CSS_SELECTOR, "ul.others li")]
        assert others == ["beta: rejected, explained by the register"]
        assert driver.save_screenshot(str(artifacts / "report-detail.png"))

        # The equivalence: three numbers a cell; keras-x's two data formats never differ: one row.
        tables = {table["family"]: table for table in html.equivalence_tables(results)}
        driver.execute_script("document.getElementById('equivalence').scrollIntoView()")
        members = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "table.equivalence th.member")]
        assert members[: len(tables["same"]["members"])] == tables["same"]["members"]
        assert "keras-x: keras 'same' (also channels-first)" in members
        first = tables["same"]["grid"][0]["cells"][1]
        cell = driver.find_element(By.CSS_SELECTOR, "table.equivalence td.eq:not(.self)")
        assert cell.text == f"{first['agree']} / {first['differ']} / {first['one_refuses']}"
        assert driver.save_screenshot(str(artifacts / "report-equivalence.png"))


def test_the_porting_table_in_chromium(tmp_path):
    """The report's porting page: a row per geometry and window, each framework's proved spellings (with the
    proving cases on hover), found by the search box."""
    from selenium.webdriver.common.by import By

    import adapters
    from conformance.runner import given_to

    point = [c for c in profile("smoke") if c.input_size == (5,) and c.kernel == (3,) and c.stride == (1,)]
    point = [c for c in point if not c.violates and c.direction == "forward" and c.groups == 1]
    for name in ("jax", "torch", "keras-jax"):
        adapter = adapters.load(name)
        mine = [c for c in point if given_to(c, adapter.capabilities, adapters.modes(adapter), False)]
        write_run(tmp_path / "r", name, mine, mix=(("pass", 1.0),))
    index = html.build(load([tmp_path / "r"]), tmp_path / "report")
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    with browser.chromium() as driver:
        driver.set_window_size(1280, 900)
        driver.get((index.parent / html.PORTING).resolve().as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "#porting-table tbody tr")
        assert rows and all(row.find_element(By.TAG_NAME, "td").text == "n=5 k=3 s=1 d=1" for row in rows)
        driver.find_element(By.ID, "porting-search").send_keys("5 of 7: crop begin 1, end 1")
        shown = [row for row in rows if row.is_displayed()]
        assert len(shown) == 1 and driver.find_element(By.ID, "porting-info").text == f"1 of {len(rows)} rows"
        torch = shown[0].find_element(By.CSS_SELECTOR, "td[data-framework='torch'] .proved")
        assert torch.text == "✓ padding=1, output_padding=0"
        assert torch.get_attribute("title") == "torch: 1d-n1-ci2-co3-i5-g1-k3-s1-p1.1-op0-d1-b-f32"
        jax = shown[0].find_element(By.CSS_SELECTOR, "td[data-framework='jax']").text
        assert '✓ padding="SAME"' in jax
        keras = shown[0].find_element(By.CSS_SELECTOR, "td[data-framework='keras']").text
        assert '✓ padding="same", output_padding=None' in keras
        assert driver.save_screenshot(str(artifacts / "report-porting.png"))
