"""The published site in headless Chromium: the feature table comes first and its cells open their cases on
the adapter's page; the history's "changed since" view opens the cases that changed between two releases.
Screenshots are saved (``CONFORMANCE_ARTIFACTS``, default ``artifacts/``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.grid import curated
from reports import browser, features, site
from tests.synthetic_results import write_run

ROOT = Path(__file__).resolve().parent.parent
CASES = curated()[:12]
pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=f"no headless browser: {browser.missing()}")


def test_feature_table_and_history_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By

    wrong, cannot = CASES[4], CASES[2]
    write_run(tmp_path / "old", "alpha", CASES, versions={"alpha": "0.9"}, outcomes={wrong.id: "value_mismatch"},
              mix=(("pass", 1.0),))  # fmt: skip
    write_run(tmp_path / "new", "alpha", CASES, versions={"alpha": "1.0"}, outcomes={cannot.id: "unsupported"},
              mix=(("pass", 1.0),))  # fmt: skip
    write_run(tmp_path / "new", "beta", CASES, mix=(("pass", 1.0),))
    index = site.build(site.collect([tmp_path / "old", tmp_path / "new"]), tmp_path / "site")
    feature = features.features_of(wrong.id)[0]
    artifacts = Path(os.environ.get("CONFORMANCE_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)

    with browser.chromium() as driver:
        driver.get(index.resolve().as_uri())
        assert driver.find_element(By.TAG_NAME, "h2").text == "Feature support"  # the table comes first
        headers = [th.text.split("\n")[0] for th in driver.find_elements(By.CSS_SELECTOR, "#feature-table th.column")]
        assert headers == ["alpha", "alpha", "beta"]
        rows = driver.find_elements(By.CSS_SELECTOR, "#feature-table tbody tr")
        assert len(rows) == len(features.FEATURES)
        cells = driver.find_elements(By.CSS_SELECTOR, f'td.verdict[data-feature="{feature}"]')
        assert [cell.text.split("\n")[0] for cell in cells] == ["wrong answers", "partial", "works"]
        assert "unregistered too" in cells[0].text  # the synthetic mismatch has no register entry
        assert cells[0].value_of_css_property("background-color") == "rgba(245, 194, 182, 1)"
        assert driver.save_screenshot(str(artifacts / "site-features.png"))

        cells[0].find_element(By.TAG_NAME, "a").click()  # alpha 0.9's cell opens its cases
        assert driver.current_url.endswith(f"adapters/alpha.html#{feature}--1")
        row = driver.find_element(By.ID, f"{feature}--1")
        assert row.is_displayed() and "wrong answers" in row.text
        row.find_element(By.TAG_NAME, "summary").click()
        assert wrong.id in row.text

        history = driver.find_element(By.CSS_SELECTOR, 'table.history[data-profile="made-up"]')
        points = history.find_elements(By.CSS_SELECTOR, ":scope > tbody > tr")
        assert [point.text.split("\n")[0].split(" ")[:2] for point in points] == [["alpha", "0.9"], ["alpha", "1.0"]]
        changed = points[1].find_element(By.CSS_SELECTOR, "details.changed-since")
        assert changed.find_element(By.TAG_NAME, "summary").text == "2 cases changed since alpha 0.9"
        changes = changed.find_element(By.CSS_SELECTOR, "table.changes")
        assert not changes.is_displayed()
        changed.find_element(By.TAG_NAME, "summary").click()
        assert changes.is_displayed()
        lines = [tr.text for tr in changes.find_elements(By.CSS_SELECTOR, ":scope > tbody > tr")]
        assert sorted(lines) == sorted(
            [f"{cannot.id} pass unsupported made-up-divergence", f"{wrong.id} value_mismatch pass"]
        )
        driver.execute_script("arguments[0].scrollIntoView()", history)
        assert driver.save_screenshot(str(artifacts / "site-history.png"))
    for name in ("site-features.png", "site-history.png"):
        assert (artifacts / name).stat().st_size > 10_000
