"""Headless Chromium (Debian's ``chromium`` and ``chromedriver``) driven through Selenium, for the
report's browser test and its benchmark. Nothing is downloaded: the binaries must be installed."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1600,1000",
)


def missing() -> str | None:
    """Why a browser cannot be started here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not any(shutil.which(name) for name in CHROMIUM_NAMES):
        return "no chromium binary on PATH (Debian: apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver on PATH (Debian: apt-get install chromium-driver)"
    return None


@contextmanager
def chromium():
    """A headless Chromium session with a fresh profile, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name))
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
        try:
            yield driver
        finally:
            driver.quit()


def open_report(driver, index: Path, timeout: float = 30.0) -> float:
    """Load the report from disk; the seconds until its matrix is drawn and it answers input."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(index).resolve().as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
    return driver.execute_script("return window.reportTimings.readyMs") / 1000


def open_detail(driver, cell, timeout: float = 10.0) -> str:
    """Click a matrix cell and wait until its detail, loaded on demand from the report's details files, is
    drawn (or has failed to load); the detail panel's text."""
    from selenium.webdriver.support.ui import WebDriverWait

    key = driver.execute_script("return arguments[0].parentNode.dataset.row + ':' + arguments[0].dataset.column", cell)
    # To the middle of the matrix's own scroll box, clear of its sticky header, then a real click.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'center'})", cell)
    cell.click()
    settled = "const d = document.getElementById('detail'); return d.dataset.cell === arguments[0] && d.dataset.state"
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(settled, key) in ("ready", "failed")
    )
    return driver.find_element("id", "detail").text
