"""Text from result files is only ever text: in every page of the published site and of the report,
escaped as written and, opened in headless Chromium, running nothing; and every adapter has a page of
its own on the site, however alike two adapters' names are.

A result file is written by whatever ran the adapter, so each of its free-text fields carries markup
here: a script that ends the page's, a handler, a ``javascript:`` address and a quote that would end an
attribute. Adapter names are not among them: the readers allow only file-name characters in those."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from conformance.grid import curated
from reports import browser, html, site
from reports.results import load
from tests.synthetic_results import DIVERGENCE, HOSTILE, write_run

CASES = curated()[:4]
JS_LINK = "javascript:window.pwned=3"
BREAKER = '" onmouseover="window.pwned=4" x="'
HOSTILE_TEXTS = (HOSTILE, JS_LINK, BREAKER)
# An https:// address is the one kind of link a page makes: this one must stay one attribute, quote and all.
HTTPS_LINK = "https://example.org/issue?q=" + BREAKER


def _hostile_results(directory: Path) -> Path:
    """alpha in two versions, the one named with markup carrying markup in every free-text field as well."""
    first = {**DIVERGENCE, "id": BREAKER, "reason": HOSTILE, "links": [HTTPS_LINK], "upstream": BREAKER,
             "scope": {"devices": [HOSTILE], "versions": {BREAKER: JS_LINK}}}  # fmt: skip
    second = {**DIVERGENCE, "id": HOSTILE, "kind": "xfail", "reason": JS_LINK, "links": [], "upstream": HOSTILE}
    overrides = {
        CASES[0].id: {
            "metrics": {"message": HOSTILE, "output_dtype": BREAKER},
            "repro": BREAKER,
            "warnings": list(HOSTILE_TEXTS),
            "divergence": first,
        },
        CASES[1].id: {"metrics": {"message": JS_LINK}, "repro": HOSTILE, "warnings": [BREAKER], "divergence": second},
        CASES[2].id: {"repro": JS_LINK, "warnings": [HOSTILE]},
    }
    outcomes = {CASES[0].id: "unsupported", CASES[1].id: "xfail", CASES[2].id: "value_mismatch"}
    path = write_run(directory / "hostile", "alpha", CASES, outcomes=outcomes, overrides=overrides,
                     versions={HOSTILE: BREAKER, BREAKER: JS_LINK, JS_LINK: HOSTILE}, mix=(("pass", 1.0),))  # fmt: skip
    # write_run describes this machine; the machine a run reports could call itself anything.
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines[0].update(
        device_model=BREAKER,
        profile=JS_LINK,
        unavailable=HOSTILE,
        platform={"system": HOSTILE, "python": BREAKER, "machine": JS_LINK},
    )
    for line in lines:
        if "device" in line:  # the envelope's, and each record's, which names the same
            line["device"] = HOSTILE
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
    write_run(directory / "plain", "alpha", CASES, mix=(("pass", 1.0),))
    return directory


# The register writes only https:// links, and the readers of result files and site data allow no others; the
# pages must not count on that, so each divergence gets these too once read, as a reader letting them by would.
UNSAFE_LINKS = [JS_LINK, HOSTILE]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The site and the report of the hostile results, built once for the module."""
    root = tmp_path_factory.mktemp("hostile")
    results = _hostile_results(root / "results")
    data = site.collect([results])
    for result_set in data["sets"]:
        for entry in result_set["divergences"].values():
            entry["links"] = [*entry["links"], *UNSAFE_LINKS]
    site.build(data, root / "site")
    loaded = load([results])
    for _, record in loaded.records:
        if record.get("divergence"):
            record["divergence"] = {**record["divergence"], "links": [*record["divergence"]["links"], *UNSAFE_LINKS]}
    html.build(loaded, root / "report")
    return root


@pytest.fixture(scope="module")
def driver():
    """One headless Chromium for the module: starting one takes longer than the checks."""
    if browser.missing() is not None:
        pytest.skip(f"no headless browser: {browser.missing()}")
    with browser.chromium() as driver:
        yield driver


class _Markup(HTMLParser):
    """What a page is made of, as a browser would parse it: its scripts, handlers, addresses and text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.scripts, self.handlers, self.addresses, self.text = 0, [], [], []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.addresses += [value or "" for name, value in attrs if name in ("href", "src", "action", "formaction")]

    def handle_data(self, data):
        self.text.append(data)


def _assert_escaped(page: str, own_scripts: int) -> str:
    """The page's own scripts and no others, no handler, no address but a relative or https:// one; its text."""
    markup = _Markup(page)
    assert markup.scripts == own_scripts
    assert markup.handlers == []
    assert [a for a in markup.addresses if urlsplit(a).scheme not in ("", "https")] == []
    return "".join(markup.text)


def _site_pages(root: Path) -> list[Path]:
    pages = sorted((root / "site").rglob("*.html"))
    names = [page.relative_to(root / "site").as_posix() for page in pages]
    assert names == ["adapters/alpha.html", "divergences.html", "index.html"]
    return pages


def test_markup_in_result_files_is_escaped_on_every_site_page(built):
    for page in _site_pages(built):
        text = _assert_escaped(page.read_text(encoding="utf-8"), own_scripts=0)
        assert HOSTILE in text and BREAKER in text and JS_LINK in text, page.name  # shown, as text
    divergences = (built / "site" / "divergences.html").read_text(encoding="utf-8")
    assert f'<a href="{escape(HTTPS_LINK)}">' in divergences  # a link, its quote escaped inside the attribute


def test_markup_in_result_files_is_escaped_in_the_report_and_its_details(built):
    text = _assert_escaped((built / "report" / "index.html").read_text(encoding="utf-8"), own_scripts=2)
    assert HOSTILE in text and BREAKER in text and JS_LINK in text
    (details,) = (built / "report" / "details").iterdir()
    text = details.read_text(encoding="utf-8")
    assert "pwned" in text and not set("<>&'") & set(text)  # there, and nothing in it can end the script


# In the browser: a handler could run late (an image's error), so the page is given a moment before asking.
PWNED = "const done = arguments[arguments.length - 1]; setTimeout(() => done(window.pwned ?? null), 50);"
HANDLERS = "return [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
LINKS = "return [...document.querySelectorAll('a[href]')].map(a => [a.protocol, a.getAttribute('href')])"
SCRIPTS = "return [...document.scripts].map(s => s.getAttribute('src'))"


def _assert_nothing_ran(driver) -> list[str]:
    """No script of a result file's ran, none can (no handler, no link but the page's own and https:// ones);
    the https:// links, each as its result file wrote it."""
    assert driver.execute_async_script(PWNED) is None
    assert [name for name in driver.execute_script(HANDLERS) if name.startswith("on")] == []
    links = driver.execute_script(LINKS)
    assert [href for protocol, href in links if protocol not in ("https:", "file:")] == []
    return [href for protocol, href in links if protocol == "https:"]


def test_no_script_from_a_result_file_runs_on_the_site(built, driver):
    from selenium.webdriver.common.by import By

    for page in _site_pages(built):
        driver.get(page.resolve().as_uri())
        links = _assert_nothing_ran(driver)
        assert driver.execute_script(SCRIPTS) == []
        text = driver.find_element(By.TAG_NAME, "body").text
        assert HOSTILE in text and BREAKER in text and JS_LINK in text, page.name
        if page.name == "divergences.html":
            assert links == [HTTPS_LINK] and f"{JS_LINK}\n{HOSTILE}" in text  # the other links, as text


def test_no_script_from_a_result_file_runs_in_the_report_with_its_details_open(built, driver):
    from selenium.webdriver.common.by import By

    browser.open_report(driver, built / "report" / "index.html")
    assert _assert_nothing_ran(driver) == [HTTPS_LINK]  # in the register
    summary = driver.find_element(By.ID, "summary").text
    assert all(text in summary for text in HOSTILE_TEXTS)
    cells = driver.find_elements(By.CSS_SELECTOR, "#matrix-body td.cell.clickable")
    assert len(cells) == 3  # the hostile run's three non-passes
    details, links = [], []
    for cell in cells:
        details.append(browser.open_detail(driver, cell))
        links += _assert_nothing_ran(driver)
    assert links == [HTTPS_LINK] * 4  # the register's, each time, and once the first entry's detail's
    scripts = driver.execute_script(SCRIPTS)  # the page's two, and the details file its script loaded
    assert len(scripts) == 3 and [src for src in scripts if src] == ["details/chunk-0000.js"]
    shown = "\n".join(details)
    assert all(text in shown for text in HOSTILE_TEXTS)
    assert f"Divergence {HOSTILE}: {JS_LINK}" in shown  # the xfail's entry: id and reason as written
    assert f"{JS_LINK}\n{HOSTILE}" in shown  # the links that are not https://, as text


def test_adapters_whose_names_make_the_same_slug_each_get_their_own_page(tmp_path):
    names = ["my.npu", "my-npu", "NPU", "npu"]
    for number, name in enumerate(names):
        write_run(tmp_path / "results" / str(number), name, CASES, mix=(("pass", 1.0),))
    site.build(site.collect([tmp_path / "results"]), tmp_path / "site")

    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    links = dict(re.findall(r'<a href="(adapters/[^"]+)">([^<]+)</a>', index))
    assert sorted(links.values()) == sorted(names)  # each adapter linked to a page no other one has
    assert len(list((tmp_path / "site" / "adapters").iterdir())) == len(names)
    for page, name in links.items():
        assert f"<h1>{name}</h1>" in (tmp_path / "site" / page).read_text(encoding="utf-8")
    # Fixed from the name alone, so published addresses hold: a name that is its own slug keeps the plain page.
    assert [site.page_name(name) for name in names] == [
        "adapters/my-npu_33fc2cca.html",
        "adapters/my-npu.html",
        "adapters/npu_e7e43637.html",
        "adapters/npu.html",
    ]


def test_a_page_two_adapters_would_share_is_refused_not_overwritten(tmp_path, monkeypatch):
    for name in ("alpha", "beta"):
        write_run(tmp_path / "results" / name, name, CASES, mix=(("pass", 1.0),))
    monkeypatch.setattr(site, "page_name", lambda adapter: "adapters/same.html")  # as a hash collision would
    with pytest.raises(ValueError, match="'alpha' and 'beta' would share the page adapters/same.html"):
        site.build(site.collect([tmp_path / "results"]), tmp_path / "site")
