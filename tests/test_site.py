"""The published site: the feature support table and its verdict rule, the pass rate's three shares, result
sets named from their envelopes, unavailable adapters, and the history kept per profile."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.case import Case
from conformance.divergences import _selector_problem
from conformance.grid import curated, profile
from conformance.records import GROUP_OF
from reports import features, site
from reports.features import verdict
from tests.synthetic_results import must_reject, write_run

ROOT = Path(__file__).resolve().parent.parent
CASES = curated()[:12]

# The verdict rule as a table: raw outcomes, explained flags -> (cell, note).
R, X = True, False  # explained by the register, or not
VERDICTS = [
    ([], [], ("not tested", "")),
    (["suite_error"], [X], ("not tested", "1 suite errors set aside")),
    (["pass", "pass"], [R, R], ("works", "2 of 2 right")),
    (["pass", "suite_error"], [R, X], ("works", "1 of 1 right; 1 suite errors set aside")),
    (["pass", "rejected"], [R, R], ("partial", "1 of 2 right; 1 refused (registered)")),
    (["pass", "unsupported", "unsupported"], [R, R, X],
     ("partial", "1 of 3 right; 2 cannot be expressed (1 registered, 1 not)")),
    (["pass", "value_mismatch"], [R, R], ("wrong answers", "1 of 2 right; 1 wrong answers (registered)")),
    (["pass", "accepted_invalid", "shape_mismatch"], [R, X, X],
     ("wrong answers", "1 of 3 right; 2 wrong answers (none registered)")),
    (["pass", "crash"], [R, X], ("wrong answers", "1 of 2 right; 1 crashed or timed out (not registered)")),
    (["rejected", "timeout"], [R, R],
     ("wrong answers", "0 of 2 right; 1 crashed or timed out (registered); 1 refused (registered)")),
    (["unsupported", "unsupported"], [R, R],
     ("cannot be expressed", "0 of 2 right; 2 cannot be expressed (all registered)")),
    (["unsupported", "rejected"], [R, X],
     ("refused", "0 of 2 right; 1 refused (not registered); 1 cannot be expressed (registered)")),
    (["rejected", "rejected", "suite_error"], [X, X, X],
     ("refused", "0 of 2 right; 2 refused (none registered); 1 suite errors set aside")),
]  # fmt: skip


def _wrong_verdicts(rule) -> list:
    return [(raw, flags, rule(raw, flags), want) for raw, flags, want in VERDICTS if rule(raw, flags) != want]


def test_the_verdict_rule_as_a_table():
    assert _wrong_verdicts(verdict) == []
    assert {want[0] for _, _, want in VERDICTS} == set(features.CELLS)  # every cell is tried


@pytest.mark.parametrize(
    "planted",
    [
        # The register turns a registered wrong answer into "works" (explained outcomes are not right answers).
        lambda raw, flags: verdict([o if not f else "pass" for o, f in zip(raw, flags)], flags),
        # A crash passes as a refusal.
        lambda raw, flags: verdict(["rejected" if GROUP_OF[o] == "broken" else o for o in raw], flags),
        # Suite errors counted as the framework's refusals.
        lambda raw, flags: verdict(["rejected" if o == "suite_error" else o for o in raw], flags),
        # Partial reported as works.
        lambda raw, flags: ("works", verdict(raw, flags)[1])
        if verdict(raw, flags)[0] == "partial" else verdict(raw, flags),
    ],
)  # fmt: skip
def test_the_verdict_table_catches_a_planted_fault(planted):
    assert _wrong_verdicts(planted) != []


def test_each_feature_selects_with_the_registers_rules_and_finds_cases():
    default = profile("default")
    for feature in features.FEATURES:
        assert all(_selector_problem(key, wanted) is None for key, wanted in feature.select.items()), feature.id
        assert any(feature.matches(case) for case in default), feature.id
    assert len({feature.id for feature in features.FEATURES}) == len(features.FEATURES)
    grouped = next(c for c in default if c.groups > 1 and c.in_channels == c.groups and not c.violates)
    assert {"groups", "depthwise"} <= set(features.features_of(grouped.id))
    invalid = must_reject(CASES[0], "negative_pad")
    assert features.features_of(invalid.id) == ("must-reject",)  # a must-reject case is in that row only
    assert features.features_of("2d-not-a-case") == ()


def _run(adapter, outcomes, raw=None, divergences=None, profile_name="default", versions=None, unavailable=None,
         date="2026-01-01T00:00:00+00:00"):  # fmt: skip
    versions = {adapter: "1.0"} if versions is None else versions
    return {"adapter": adapter, "versions": versions,
            "version_text": ", ".join(f"{p} {v}" for p, v in sorted(versions.items())) or "-",
            "device": "cpu", "profile": profile_name, "unfinished": None, "unavailable": unavailable, "date": date,
            "suite_commit": "abc", "outcomes": outcomes, "raw_outcomes": raw or {},
            "divergences": divergences or {}}  # fmt: skip


def _set(runs):
    date = max(run["date"] for run in runs)
    return {"name": site.set_name(runs, date), "date": date, "suite_commits": ["abc"], "runs": runs,
            "divergences": {"e-wrong": {"kind": "xfail", "reason": "r", "links": []},
                            "e-cannot": {"kind": "unsupported", "reason": "r", "links": []}}}  # fmt: skip


def test_the_pass_rate_never_counts_an_explained_outcome_as_a_failure():
    ids = [case.id for case in CASES[:6]]
    run = _run(
        "alpha",
        dict(zip(ids, ["pass", "xpass", "xfail", "unsupported", "value_mismatch", "suite_error"])),
        raw={ids[1]: "pass", ids[2]: "value_mismatch"},
        divergences={ids[1]: "e-wrong", ids[2]: "e-wrong", ids[3]: "e-cannot"},
    )
    counted = site.tally(run)
    judged = (counted["conforms"], counted["registered"], counted["unexplained"])
    assert judged == (2, 1, 1) and (counted["suite errors"], counted["cannot express"]) == (1, 1)
    assert counted["conforms_share"] == 0.5 and counted["registered_share"] == 0.25
    assert site.tally(_run("gamma", {}))["judged"] == 0


def test_site_index_and_pages(tmp_path):
    ids = [case.id for case in CASES]
    wrong, cannot = ids[0], ids[1]
    old = _run("alpha", {i: "pass" for i in ids} | {wrong: "value_mismatch"}, versions={"alpha": "0.9"})
    new = _run("alpha", {i: "pass" for i in ids} | {wrong: "xfail", cannot: "unsupported"},
               raw={wrong: "value_mismatch"}, divergences={wrong: "e-wrong", cannot: "e-cannot"},
               versions={"alpha": "1.10"}, date="2026-02-01T00:00:00+00:00")  # fmt: skip
    smoke = _run(
        "alpha", {ids[0]: "pass"}, profile_name="smoke", versions={"alpha": "1.10"}, date="2026-03-01T00:00:00+00:00"
    )
    cuda = _run("alpha-cuda", {}, versions={}, unavailable="no CUDA here")
    data = {"format": site.FORMAT, "version": site.VERSION, "sets": [_set([old]), _set([new, cuda]), _set([smoke])]}
    site.save(data, tmp_path / "data.json")
    index = site.build(site.collect([tmp_path / "data.json"]), tmp_path / "site").read_text(encoding="utf-8")

    assert index.index('id="feature-table"') < index.index('id="pass-rates"')  # the feature table first
    assert "default run of 2026-02-01 00:00 UTC: alpha 1.10, alpha-cuda" not in index  # unavailable has no versions
    assert "default run of 2026-02-01 00:00 UTC: alpha 1.10" in index
    assert "unavailable: no CUDA here" in index and "0.0%" not in index.split("alpha-cuda")[1].split("</tr>")[0]
    # Three rows of alpha: 0.9 and 1.10 in default, 1.10 in smoke (a smoke run never replaces a default run).
    assert index.count('<tr class="several" data-adapter="alpha">') == 3
    # The new version: 10 right, 1 registered wrong answer, no failure; 1 it cannot express, counted apart.
    row = re.search(r'data-adapter="alpha">.{0,300}alpha 1\.10</td>\s*<td>default</td>(.*?)</tr>', index, re.S)[1]
    cells = re.findall(r'class="rate[^"]*">(.*?)</td>', row)
    assert [re.sub(r"<[^>]+>", " ", cell).split()[:2] for cell in cells] == [
        ["90.9%", "(10)"], ["9.1%", "(1)"], ["0.0%", "(0)"]]  # fmt: skip
    assert re.findall(r'<td class="count">(\d+)</td>', row)[:1] == ["1"]  # cannot express

    # Columns: alpha 0.9, alpha 1.10 (default: more cases than the smoke run); not the unavailable adapter.
    table = index.split('id="feature-table"')[1].split("</table>")[0]
    assert table.count('class="column"') == 2 and "alpha-cuda" not in table
    explicit = re.findall(
        r'data-feature="explicit-pads" data-adapter="alpha"><a class="cases" href="([^"]+)">([^<]+)</a>', table
    )
    assert explicit == [("adapters/alpha.html#explicit-pads--1", "wrong answers"),
                        ("adapters/alpha.html#explicit-pads--2", "wrong answers")]  # fmt: skip
    assert 'href="divergences.html#e-wrong"' in table  # the entry behind the new version's wrong answer
    assert "unregistered too" in table  # 0.9's wrong answer is unexplained

    page = (tmp_path / "site" / "adapters" / "alpha.html").read_text(encoding="utf-8")
    assert 'id="explicit-pads--2"' in page and f"{wrong}" in page
    histories = re.findall(r'<table class="summary history" data-profile="([^"]+)">', page)
    assert histories == ["default", "smoke"]
    default = page.split('data-profile="default"')[1].split('data-profile="smoke"')[0]
    assert default.index("alpha 0.9") < default.index("alpha 1.10")  # release order
    assert "2 cases changed since alpha 0.9" in default
    smoke_history = page.split('data-profile="smoke"')[1]
    assert "first point" in smoke_history and "cases changed since" not in smoke_history


def test_site_data_keeps_raw_outcomes_and_unavailability(tmp_path):
    write_run(tmp_path / "set", "alpha", CASES, outcomes={CASES[0].id: "xfail"}, mix=(("pass", 1.0),))
    data = site.collect([tmp_path / "set"])
    (run,) = data["sets"][0]["runs"]
    assert run["raw_outcomes"] == {CASES[0].id: "value_mismatch"} and run["unavailable"] is None
    assert run["divergences"] == {CASES[0].id: "made-up-xfail"}
    assert data["sets"][0]["name"].startswith("made-up run of ") and data["sets"][0]["name"].endswith(": alpha 1.0")
    assert site.explained(run, CASES[0].id) and site.raw_outcome(run, CASES[0].id) == "value_mismatch"


def test_the_pinned_site_data_holds_three_onnxruntime_releases_and_honest_names():
    data = site.read_data(ROOT / "site-data" / "pinned-default.json")
    releases = sorted(
        run["versions"]["onnxruntime"]
        for result_set in data["sets"]
        for run in result_set["runs"]
        if run["adapter"] == "onnxruntime" and run["profile"] == "default"
    )
    assert releases == ["1.28.0", "1.29.0", "1.30.0", "1.31.1"]
    for result_set in data["sets"]:
        assert result_set["name"] == site.set_name(result_set["runs"], result_set["date"])
        assert {run["profile"] for run in result_set["runs"]} == {"default"}
    unavailable = {run["adapter"] for s in data["sets"] for run in s["runs"] if run["unavailable"]}
    assert unavailable == {"torch-cuda", "onnxruntime-cuda"}
    # Every case of the default profile that a CPU adapter ran names a canonical case (the features read them).
    ids = {case_id for s in data["sets"] for run in s["runs"] for case_id in run["outcomes"]}
    assert all(Case.from_id(case_id).id == case_id for case_id in ids)
    assert json.loads((ROOT / "site-data" / "pinned-default.json").read_text())["version"] == site.VERSION
