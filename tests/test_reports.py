"""Reports: loading and merging result files, the HTML report, the gate and the published site."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conformance.case import Case
from conformance.grid import curated, mode_cases, profile
from conformance.records import OUTCOMES
from reports import gate, html, site
from reports.results import load
from tests.synthetic_results import HOSTILE, must_reject, write_hostile_runs, write_run

ROOT = Path(__file__).resolve().parent.parent
CASES = curated()[:12]
MODE_CASES = list({c.id: c for c in mode_cases("smoke") if c.mode_spec.framework in ("explicit", "jax")}.values())[:20]


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def two_frameworks(tmp_path):
    """Two per-framework runs in their own directories, as two tox envs leave them."""
    outcomes = {CASES[0].id: "value_mismatch", CASES[1].id: "shape_mismatch", CASES[2].id: "unsupported"}
    write_run(tmp_path / "alpha", "alpha", CASES, outcomes=outcomes, mix=(("pass", 1.0),))
    write_run(tmp_path / "beta", "beta", CASES + MODE_CASES, mix=(("pass", 1.0),))
    return tmp_path


def test_runs_merge_across_directories_and_label_versions(two_frameworks, tmp_path):
    write_run(tmp_path / "alpha-old", "alpha", CASES, versions={"alpha": "0.9"}, mix=(("pass", 1.0),))
    results = load([two_frameworks])
    labels = sorted(run.label for run in results.runs)
    assert labels == ["alpha (alpha 0.9)", "alpha (alpha 1.0)", "beta"]
    assert all(run.unfinished is None for run in results.runs)
    assert len(results.records) == 2 * len(CASES) + len(CASES) + len(MODE_CASES)
    with pytest.raises(ValueError, match="appears twice with the same versions"):
        load([two_frameworks / "alpha", two_frameworks / "alpha"])


def test_one_adapters_runs_of_two_profiles_are_told_apart_by_profile(tmp_path):
    # torch-compile runs the smoke profile and the models set, each into its own folder, at the same versions.
    for name in ("smoke", "models"):
        path = write_run(tmp_path / name, "alpha", CASES[:3], mix=(("pass", 1.0),))
        lines = path.read_text().splitlines()
        lines[0] = json.dumps({**json.loads(lines[0]), "profile": name})
        path.write_text("\n".join(lines) + "\n")
    assert sorted(run.label for run in load([tmp_path]).runs) == ["alpha (models)", "alpha (smoke)"]


def test_a_killed_run_is_unfinished(tmp_path):
    write_run(tmp_path, "alpha", CASES, finish=False)
    (run,) = load([tmp_path]).runs
    assert "no end line" in run.unfinished


def test_report_states_shapes_counts_and_escapes_text(two_frameworks, tmp_path):
    index = html.build(load([two_frameworks]), tmp_path / "out")
    page = index.read_text(encoding="utf-8")
    assert "http" not in re.sub(r'https://example\.org/issue/1|href="#\w+"', "", page.split("<script")[0])  # no CDN
    data = _data(page)
    assert data["adapters"] == ["alpha", "beta"]
    assert len(data["cases"]) == len(CASES) + len(MODE_CASES)
    row = next(i for i, case in enumerate(data["cases"]) if case["id"] == CASES[1].id)
    detail = html.read_details(tmp_path / "out")[f"{row}:0"]
    assert detail["outcome"] == "shape_mismatch"
    assert detail["metrics"]["actual_shape"][-1] == detail["metrics"]["expected_shape"][-1] - 1
    assert [_cell(data, code) for code in data["cells"][row]] == [("shape_mismatch", ""), ("pass", "")]
    assert detail["repro"] == f"import alpha\n# reproduces {CASES[1].id} <here>"
    assert "<made-up>" not in page  # every string from a record is escaped or JSON-encoded
    details = (tmp_path / "out" / "details" / "chunk-0000.js").read_text(encoding="utf-8")
    assert "<" not in details and "\\u003cmade-up\\u003e" in details  # escaped in the details files too
    summary = page.split('id="summary"')[1].split("</section>")[0]
    passes = r'<b>alpha</b>.*?<td class="count"[^>]*data-outcome="pass"[^>]*>' + str(len(CASES) - 3)
    assert re.search(passes, summary, re.S)


def _cell(data: dict, code: str) -> tuple[str, str]:
    """A matrix cell's raw outcome and mark, decoded as the page's script does."""
    n = html.CODES.index(code)
    return data["raw"][n % len(data["raw"])], data["marks"][n // len(data["raw"])]


def _summary_counts(page: str) -> dict[tuple[str, str], dict[str, int]]:
    """(adapter, direction) -> raw outcome -> count, and "unexplained" and "registered" totals, off the page."""
    found = {}
    for adapter, body in re.findall(r'<tbody class="adapter" data-adapter="([^"]+)">(.*?)</tbody>', page, re.S):
        for direction, row in re.findall(r'<tr class="direction-(\w+)">(.*?)</tr>', body, re.S):
            cells = re.findall(r'data-outcome="(\w+)" data-count="(\d+)" data-registered="(\d+)"', row)
            counts = {outcome: int(n) for outcome, n, _ in cells if n != "0"}
            registered = sum(int(r) for _, _, r in cells)
            unexplained = re.search(r'class="count unexplained[^"]*">(\d+)<', row)
            if cells:
                counts["registered"] = registered
                counts["unexplained"] = int(unexplained[1])
            found[(adapter, direction)] = counts
    return found


def _data(page: str) -> dict:
    return json.loads(re.search(r'<script id="report-data" type="application/json">(.*?)</script>', page, re.S)[1])


def _values(data: dict, row: int, name: str) -> list[str]:
    """A case's values on one filtered parameter, as the page's data gives them (indexes into its values)."""
    return [data["values"][name][i] for i in data["cases"][row]["values"][data["filters"].index(name)]]


def _section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">')[1].split("</section>")[0]


def _rows(html_text: str) -> list[list[str]]:
    """The table rows' cell texts, tags stripped and spaces collapsed."""
    cells = r"<t[dh][^>]*>(.*?)</t[dh]>"
    return [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(cells, row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html_text, re.S)
    ]


def test_new_outcomes_have_colors_cells_and_details(tmp_path):
    planted = {
        CASES[0].id: "dtype_mismatch",
        CASES[1].id: "accepted_invalid",
        CASES[2].id: "pass",  # a must-reject case refused: the pass
        CASES[3].id: "suite_error",
        CASES[4].id: "xpass",
    }
    violates = {CASES[1].id: "negative_pad", CASES[2].id: "output_padding_at_bound"}
    write_run(tmp_path / "r", "alpha", CASES, outcomes=planted, violates=violates, mix=(("pass", 1.0),))
    ids = {case.id: must_reject(case, violates[case.id]).id if case.id in violates else case.id for case in CASES}
    page = html.build(load([tmp_path / "r"]), tmp_path / "out").read_text(encoding="utf-8")
    details = html.read_details(tmp_path / "out")
    css = (html.TEMPLATES / "report.css").read_text(encoding="utf-8")
    for outcome in OUTCOMES:  # every outcome has a color
        assert f".o-{outcome} {{ background:" in css
    for outcome in html.RAW:  # every raw outcome a legend entry and a summary column
        assert f'<span class="dot o-{outcome}"></span>{outcome}</span>' in page
        assert f'data-outcome="{outcome}"' in _section(page, "summary")
    data = _data(page)
    assert len(data["raw"]) > 10 and all(len(cells) == 1 for cells in data["cells"])  # one character a cell
    rows = {original: row for row, case in enumerate(data["cases"]) for original in ids if ids[original] == case["id"]}
    for case_id, outcome in planted.items():
        assert _cell(data, data["cells"][rows[case_id]]) == (("pass", "xpass") if outcome == "xpass" else (outcome, ""))
    dtype = details[f"{rows[CASES[0].id]}:0"]["metrics"]
    assert (dtype["output_dtype"], dtype["expected_dtype"], dtype["values"]) == ("float32", "float64", "pass")
    accepted = details[f"{rows[CASES[1].id]}:0"]
    assert accepted["raw"] == "accepted_invalid" and accepted["metrics"]["reading"] == "padding read as zero"
    assert accepted["metrics"]["actual_shape"][-1] == CASES[1].output_shape[-1] + 2
    assert data["cases"][rows[CASES[1].id]]["violates"] == "negative_pad"
    assert data["families"][data["cases"][rows[CASES[1].id]]["family"]].endswith(", must reject")
    refused = details[f"{rows[CASES[2].id]}:0"]  # a pass with a detail: message and stage
    assert refused["outcome"] == "pass" and refused["metrics"] == {"stage": "construction"}
    assert refused["message"] == "alpha refuses <output_padding_at_bound>"
    assert f"{rows[CASES[5].id]}:0" not in details  # a plain pass has none
    assert "violates" not in data["cases"][rows[CASES[5].id]]
    assert sorted(details) == sorted(f"{rows[case_id]}:0" for case_id in planted)  # and each other one has its own
    suite = details[f"{rows[CASES[3].id]}:0"]
    assert suite["message"] == "Traceback: the suite's <comparison> failed"
    assert _summary_counts(page)[("alpha", "forward")] == {
        "dtype_mismatch": 1, "accepted_invalid": 1, "pass": len(CASES) - 3, "suite_error": 1,
        "registered": 0, "unexplained": 4,  # the dtype, the invalid configuration accepted, the suite error, the xpass
    }  # fmt: skip
    assert re.search(r'data-outcome="pass"[^>]*>\d+<span class="xpass-mark">xpass 1</span>', page)
    assert 'id="verdict" class="verdict bad" data-unexplained="4"' in page and "alpha 4." in page


def _backward(case: Case) -> Case:
    return dataclasses.replace(case, direction="backward")


@pytest.fixture
def both_directions(tmp_path):
    """alpha with a backward pass (forward and backward cases), beta without one (forward cases only)."""
    backward = [_backward(case) for case in (CASES[11], CASES[3], CASES[7], CASES[0])]
    outcomes = {
        CASES[0].id: "value_mismatch",
        backward[0].id: "value_mismatch",  # dw and db fail, db the worst
        backward[1].id: "shape_mismatch",  # dx
        backward[2].id: "xfail",  # dw, explained
    }
    write_run(tmp_path / "r", "alpha", CASES + backward, outcomes=outcomes, failing={backward[0].id: ("db", "dw")},
              mix=(("pass", 1.0),))  # fmt: skip
    write_run(tmp_path / "r", "beta", CASES, outcomes={CASES[1].id: "unsupported"}, mix=(("pass", 1.0),))
    return tmp_path / "r", backward


def test_direction_filter_summary_side_by_side_and_the_gradients_of_a_backward_detail(both_directions, tmp_path):
    directory, backward = both_directions
    results = load([directory])
    page = html.build(results, tmp_path / "out").read_text(encoding="utf-8")
    data = _data(page)
    assert "direction" in data["filters"] and data["values"]["direction"] == ["forward", "backward"]
    rows = {case["id"]: row for row, case in enumerate(data["cases"])}
    assert all(_values(data, rows[case.id], "direction") == ["forward"] for case in CASES)
    assert all(_values(data, rows[case.id], "direction") == ["backward"] for case in backward)
    assert len(data["cases"]) == len(CASES) + len(backward)

    # The summary: per adapter a forward row and a backward row, by raw outcome; beta has no backward pass.
    summary = _rows(_section(page, "summary"))
    assert summary[0][:3] == ["adapter", "versions", "direction"] and summary[0][-2:] == ["total", "unexplained"]
    assert summary[0][3:-2] == list(html.OUTCOME_GROUPS)
    assert [name.replace(" ", "_") for name in summary[1]] == [
        o.replace("_mismatch", "") for o in html.RAW
    ]  # fmt: skip
    counts = _summary_counts(page)
    alpha_forward = {"pass": len(CASES) - 1, "value_mismatch": 1, "registered": 0, "unexplained": 1}
    assert counts[("alpha", "forward")] == alpha_forward
    # The xfail is the framework's value mismatch, which the register explains: counted as one, marked registered.
    assert counts[("alpha", "backward")] == {
        "pass": 1, "value_mismatch": 2, "shape_mismatch": 1, "registered": 1, "unexplained": 2
    }  # fmt: skip
    assert counts[("beta", "forward")] == {"pass": len(CASES) - 1, "unsupported": 1, "registered": 1, "unexplained": 0}
    assert _rows(_section(page, "summary"))[5] == ["backward", "no backward pass"]
    by_adapter = {row["label"]: row["directions"] for row in html.summaries(results)}
    assert [(part["direction"], part["total"]) for part in by_adapter["beta"]] == [("forward", 12), ("backward", 0)]
    assert by_adapter["alpha"][1]["raw"][html.RAW.index("shape_mismatch")]["count"] == 1

    # A backward detail: which gradients failed, and each one's outcome and figures.
    details = html.read_details(tmp_path / "out")
    worst = details[f"{rows[backward[0].id]}:0"]
    assert worst["outcome"] == "value_mismatch" and "gradients" not in worst["metrics"]
    assert (worst["metrics"]["gradient"], worst["metrics"]["failing"]) == ("db", ["dw", "db"])
    table = [
        (g["gradient"], g["outcome"], g["expected_shape"], g["max_abs_error"], g["max_error_over_tolerance"],
         g["bad_count"])
        for g in worst["gradients"]
    ]  # fmt: skip
    assert table == [
        ("dx", "pass", [1, 4, 4, 4], 1e-17, 0.125, 0),
        ("dw", "value_mismatch", [4, 3, 3, 3], 0.25, 1000.0, 4),
        ("db", "value_mismatch", [6], 0.5, 10000.0, 3),
    ]
    assert [g.get("error_map") for g in worst["gradients"]] == [None, [[0.0] * 3] * 2 + [[1.0] * 3], [1.0]]
    assert worst["metrics"]["max_abs_error"] == 0.5  # the worst gradient's figures, at the top level as before
    shape = details[f"{rows[backward[1].id]}:0"]["gradients"]
    assert [(g["gradient"], g["outcome"]) for g in shape] == [("dx", "shape_mismatch"), ("dw", "pass")]
    assert shape[0]["actual_shape"] == [1, 1, 5, 4]
    explained = details[f"{rows[backward[2].id]}:0"]
    assert (explained["outcome"], explained["raw"]) == ("xfail", "value_mismatch")
    assert [g["outcome"] for g in explained["gradients"]] == ["pass", "value_mismatch"]
    assert f"{rows[backward[3].id]}:0" not in details  # a backward pass has no detail, as a forward one
    forward = details[f"{rows[CASES[0].id]}:0"]
    assert "gradients" not in forward and forward["metrics"]["max_abs_error"] == 0.5  # as it was

    # Coverage counts each direction.
    tables = {table["parameter"]: table for table in html.coverage(results)}
    cells = {row["value"]: row["cells"] for row in tables["direction"]["rows"]}
    assert cells == {"forward": [[12, 11], [12, 11]], "backward": [[4, 1], [0, 0]]}  # passed / ran per adapter


def test_records_without_a_direction_are_forward_unless_their_id_says_backward(both_directions, tmp_path):
    """Records written before cases had a direction: the id's -bwd suffix tells."""
    directory, backward = both_directions
    results = load([directory])
    for _, record in results.records:
        record["case"].pop("direction")
    data, _ = html.report_data(results)
    rows = {case["id"]: row for row, case in enumerate(data["cases"])}
    assert _values(data, rows[backward[0].id], "direction") == ["backward"]
    assert _values(data, rows[CASES[0].id], "direction") == ["forward"]


def test_a_must_reject_case_with_negative_padding_needs_no_parsing(tmp_path):
    """A must-reject id (negative padding) that Case.from_id may not parse, and a case with no geometry:
    the report reads the record's case fields and leaves the case out of the mode equivalence."""
    valid = Case(input_size=(5,), kernel=(3,), in_channels=2, out_channels=2, dtype="float32")
    invalid_id = "1d-n1-ci2-co2-i5-g1-k3-s1-p-1.-1-op0-d1-nb-f32-xnegative_pad"
    fields = {**valid.fields(), "padding": [[-1, -1]], "violates": "negative_pad"}
    write_run(tmp_path / "r", "alpha", [valid, *CASES], outcomes={valid.id: "accepted_invalid"},
              overrides={valid.id: {"case_id": invalid_id, "case": fields}}, mix=(("pass", 1.0),))  # fmt: skip
    results = load([tmp_path / "r"])
    page = html.build(results, tmp_path / "out").read_text(encoding="utf-8")
    data = _data(page)
    (row,) = [row for row, case in enumerate(data["cases"]) if case["id"] == invalid_id]
    assert data["families"][data["cases"][row]["family"]] == "1-D explicit, must reject"
    assert _values(data, row, "padding") == ["negative"]
    padding = {row["value"]: row["cells"] for row in html.coverage(results)[3]["rows"]}
    assert padding["negative"] == [[1, 0]]


def test_register_section_counts_what_each_entry_explained_per_adapter(tmp_path):
    """Planted under two adapters and five raw outcomes: the section's counts, shares and order."""
    wide = {"id": "wide-entry", "kind": "xfail", "reason": "explains <too much>", "strict": False,
            "links": ["https://example.org/issue/2"], "upstream": ""}  # fmt: skip
    narrow = {"id": "narrow-entry", "kind": "unsupported", "reason": "cannot express it", "strict": True,
              "links": [], "upstream": "no upstream report found",
              "scope": {"devices": ["cpu"], "versions": {"beta": ">=1,<2"}}}  # fmt: skip

    def plant(adapter, planted):
        outcomes = {CASES[i].id: outcome for i, (outcome, _, _) in enumerate(planted)}
        overrides = {
            CASES[i].id: {"raw_outcome": raw, "divergence": entry} for i, (_, raw, entry) in enumerate(planted)
        }
        write_run(tmp_path / adapter, adapter, CASES, outcomes=outcomes, overrides=overrides, mix=(("pass", 1.0),))

    plant("alpha", [("xfail", "value_mismatch", wide)] * 4 + [("xfail", "shape_mismatch", wide)] * 3
          + [("xfail", "accepted_invalid", wide)] + [("pass", "pass", wide)] * 2)  # fmt: skip
    plant("beta", [("xfail", "value_mismatch", wide)] * 2 + [("unsupported", "unsupported", narrow)] * 2
          + [("rejected", "rejected", narrow), ("xpass", "pass", narrow)])  # fmt: skip
    results = load([tmp_path])
    register = html.register(results)
    assert register["raw"] == ["shape_mismatch", "value_mismatch", "accepted_invalid", "rejected", "unsupported"]
    counts = [
        (entry["id"], a["label"], a["explained"], round(a["share"], 3), a["raw"], a["passed"], a["xpass"], a["broad"])
        for entry in register["entries"]
        for a in entry["adapters"]
    ]
    assert counts == [
        ("wide-entry", "alpha", 8, 0.667, [3, 4, 1, 0, 0], 2, 0, True),
        ("wide-entry", "beta", 2, 0.167, [0, 2, 0, 0, 0], 0, 0, False),
        ("narrow-entry", "beta", 3, 0.25, [0, 0, 0, 1, 2], 0, 1, False),
    ]

    page = html.build(results, tmp_path / "out").read_text(encoding="utf-8")
    assert page.index('<section id="summary">') < page.index('<section id="register">') < page.index('id="matrix"')
    assert '<a href="#register">Register</a>' in page
    section = _section(page, "register")
    rows = _rows(section)
    assert rows[0][:12] == ["divergence", "kind", "adapter", "explained", "share of the adapter's cases",
                            *register["raw"], "matched, passed", "xpass"]  # fmt: skip
    assert rows[1] == ["wide-entry", "xfail (non-strict)", "alpha", "8", "66.7% of 12", "3", "4", "1", "0", "0", "2",
                       "0", "explains &lt;too much&gt;", "https://example.org/issue/2"]  # fmt: skip
    assert rows[2] == ["beta", "2", "16.7% of 12", "0", "2", "0", "0", "0", "0", "0"]
    assert rows[3] == ["narrow-entry", "unsupported scope: cpu; beta &gt;=1,&lt;2", "beta", "3", "25.0% of 12",
                       "0", "0", "0", "1",
                       "2", "0", "1", "cannot express it", "no upstream report found"]  # fmt: skip
    assert section.count('<tr class="broad">') == 1 and '<a href="https://example.org/issue/2">' in section


def _details_files(out_dir: Path) -> dict[str, tuple[int, dict]]:
    """Each details file by name: the number it hands the page, and its data."""
    files = {}
    for path in sorted((out_dir / "details").iterdir()):
        number, text = re.fullmatch(
            r"reportDetailsLoaded\((\d+), (.*)\);\n", path.read_text(encoding="utf-8"), re.S
        ).groups()
        files[path.name] = (int(number), json.loads(text))
    return files


def test_details_go_to_files_by_matrix_rows_and_the_page_carries_none(tmp_path, monkeypatch):
    monkeypatch.setattr(html, "CHUNK_ROWS", 5)
    failing = {case.id: "value_mismatch" for case in CASES[::4]}
    write_run(tmp_path / "r", "alpha", CASES, outcomes=failing, mix=(("pass", 1.0),))
    write_run(tmp_path / "r", "beta", CASES, outcomes={CASES[1].id: "unsupported"}, mix=(("pass", 1.0),))
    page = html.build(load([tmp_path / "r"]), tmp_path / "out").read_text(encoding="utf-8")
    data = _data(page)
    rows = {case["id"]: row for row, case in enumerate(data["cases"])}
    wanted = sorted([f"{rows[case_id]}:0" for case_id in failing] + [f"{rows[CASES[1].id]}:1"])
    assert data["chunk_rows"] == 5
    files = _details_files(tmp_path / "out")
    numbers = sorted({int(key.split(":")[0]) // 5 for key in wanted})
    assert list(files) == [f"chunk-{number:04d}.js" for number in numbers]  # none for a chunk of passes only
    for name, (number, chunk) in files.items():
        assert name == f"chunk-{number:04d}.js"
        assert chunk["details"] and all(int(key.split(":")[0]) // 5 == number for key in chunk["details"])
    details = html.read_details(tmp_path / "out")
    assert sorted(details) == wanted
    first = CASES[0]
    assert details[f"{rows[first.id]}:0"]["repro"] == f"import alpha\n# reproduces {first.id} <here>"
    assert details[f"{rows[first.id]}:0"]["metrics"]["max_abs_error"] == 0.5
    assert details[f"{rows[CASES[1].id]}:1"]["message"] == f"beta cannot <express> {CASES[1].id}"
    assert "reproduces" not in page and "express" not in page  # no record's repro or message is on the page
    assert not {"metrics", "repro", "message", "details", "strings"} & set(re.findall(r'"(\w+)":', json.dumps(data)))


def test_the_report_is_the_same_bytes_for_the_same_results_and_a_rebuild_drops_old_details(tmp_path, monkeypatch):
    monkeypatch.setattr(html, "CHUNK_ROWS", 3)
    write_run(tmp_path / "r", "alpha", CASES + MODE_CASES, seed=3)
    write_run(tmp_path / "r", "beta", CASES + MODE_CASES, seed=4)

    def files(directory: Path) -> dict[str, bytes]:
        return {path.relative_to(directory).as_posix(): path.read_bytes() for path in directory.rglob("*.*")}

    html.build(load([tmp_path / "r"]), tmp_path / "one")
    html.build(load([tmp_path / "r"]), tmp_path / "two")
    built = files(tmp_path / "one")
    assert built == files(tmp_path / "two") and len(built) > 3
    write_run(tmp_path / "fewer", "alpha", CASES[:3], mix=(("value_mismatch", 1.0),))
    html.build(load([tmp_path / "fewer"]), tmp_path / "one")
    assert sorted(files(tmp_path / "one")) == ["details/chunk-0000.js", "index.html", "porting.html"]


def test_markup_in_records_is_escaped_on_the_page_and_in_the_details_files(tmp_path):
    results = load([write_hostile_runs(tmp_path / "r", CASES)])
    page = html.build(results, tmp_path / "out").read_text(encoding="utf-8")
    assert "pwned" in page and "<script>window.pwned" not in page and page.count("</script>") == 2  # the page's own
    assert f"alpha (alpha {HOSTILE})" in _data(page)["adapters"]
    (name,) = [path.name for path in (tmp_path / "out" / "details").iterdir()]
    text = (tmp_path / "out" / "details" / name).read_text(encoding="utf-8")
    assert "pwned" in text and not set("<>&") & set(text)
    (detail,) = html.read_details(tmp_path / "out").values()
    assert detail["message"] == detail["repro"] == detail["divergence"]["reason"] == HOSTILE
    assert detail["warnings"] == [HOSTILE]


def test_coverage_counts_runs_and_passes_per_value(two_frameworks):
    results = load([two_frameworks])
    tables = {table["parameter"]: table for table in html.coverage(results)}
    dtypes = {row["value"]: row["cells"] for row in tables["dtype"]["rows"]}
    float64 = [case for case in CASES if case.dtype == "float64"]
    failing = {CASES[0].id, CASES[1].id, CASES[2].id}
    assert dtypes["float64"][0] == [len(float64), len([c for c in float64 if c.id not in failing])]
    assert "jax_same" in {row["value"] for row in tables["mode"]["rows"]}


def test_equivalence_table_is_built_from_the_records(tmp_path):
    cases = {case.id: case for case in mode_cases("smoke") if case.mode_spec.framework in ("jax", "keras")}.values()
    write_run(tmp_path / "j", "jax", [c for c in cases if c.mode_spec.framework == "jax"], mix=(("pass", 1.0),))
    write_run(tmp_path / "k", "keras", [c for c in cases if c.mode_spec.framework == "keras"], mix=(("pass", 1.0),))
    tables = {table["family"]: table for table in html.equivalence_tables(load([tmp_path]))}
    same = tables["same"]
    assert same["members"] == ["jax: jax SAME", "keras: keras 'same'"]
    assert same["grid"][0]["cells"][1]["kind"] == "agree"  # both documented 'same' windows: they agree


def test_report_command_builds_from_several_directories(two_frameworks, tmp_path):
    completed = _cli("report", two_frameworks / "alpha", two_frameworks / "beta", "-o", tmp_path / "site")
    assert completed.returncode == 0, completed.stderr
    assert "records of 2 runs" in completed.stdout
    assert (tmp_path / "site" / "index.html").exists()


# The gate.


def _baseline(directory, path):
    return gate.write_baseline(load([directory]), path)


def test_gate_passes_a_run_against_its_own_baseline(two_frameworks, tmp_path):
    _baseline(two_frameworks, tmp_path / "baseline.json")
    completed = _cli("gate", "--baseline", tmp_path / "baseline.json", two_frameworks)
    assert completed.returncode == 0, completed.stdout
    assert "gate passes" in completed.stdout


def test_gate_fails_a_planted_regression_and_lists_it(two_frameworks, tmp_path):
    _baseline(two_frameworks, tmp_path / "baseline.json")
    regressed = {CASES[5].id: "value_mismatch", CASES[0].id: "pass"}  # one regression, one fix
    write_run(two_frameworks / "alpha", "alpha", CASES, outcomes={**regressed, CASES[1].id: "shape_mismatch",
              CASES[2].id: "unsupported"}, mix=(("pass", 1.0),))  # fmt: skip
    completed = _cli("gate", "--baseline", tmp_path / "baseline.json", two_frameworks)
    assert completed.returncode == 1
    assert f"FAIL regression (1):\n  alpha: {CASES[5].id}: passed, now value_mismatch" in completed.stdout
    assert f"FIXED, good news (1):\n  alpha: {CASES[0].id}: value_mismatch -> pass" in completed.stdout


def test_gate_fails_on_missing_cases_unfinished_runs_and_new_unexplained_outcomes(two_frameworks, tmp_path):
    baseline = _baseline(two_frameworks, tmp_path / "baseline.json")
    write_run(two_frameworks / "alpha", "alpha", CASES[:-1], outcomes={CASES[3].id: "rejected"}, mix=(("pass", 1),))
    write_run(two_frameworks / "beta", "beta", CASES + MODE_CASES + [curated()[12]], finish=False,
              outcomes={curated()[12].id: "shape_mismatch"}, mix=(("pass", 1.0),))  # fmt: skip
    verdict = gate.gate(baseline, load([two_frameworks]))
    assert not verdict.passed
    assert verdict.failures["missing case"] == [f"alpha: {CASES[-1].id} (was pass)"]
    assert any("no end line" in line for line in verdict.failures["run did not finish"])
    assert f"beta: {curated()[12].id}: shape_mismatch (new case)" in verdict.failures["new unexplained outcome"]
    assert f"alpha: {CASES[3].id}: passed, now rejected" in verdict.failures["regression"]


def test_gate_fails_when_a_divergence_no_longer_reproduces(tmp_path):
    write_run(tmp_path, "alpha", CASES, outcomes={CASES[0].id: "xfail"}, mix=(("pass", 1.0),))
    baseline = gate.baseline_from(load([tmp_path]))
    write_run(tmp_path, "alpha", CASES, mix=(("pass", 1.0),))
    verdict = gate.gate(baseline, load([tmp_path]))
    assert verdict.failures == {
        "divergence no longer reproduces": [
            f"alpha: {CASES[0].id}: made-up-xfail was xfail, now pass; update the register entry"
        ]
    }


def test_gate_refuses_other_framework_versions_and_update_writes_a_new_baseline(tmp_path):
    write_run(tmp_path / "run", "alpha", CASES, mix=(("pass", 1.0),))
    _baseline(tmp_path / "run", tmp_path / "baseline.json")
    write_run(tmp_path / "run", "alpha", CASES, versions={"alpha": "2.0"}, mix=(("pass", 1.0),))
    completed = _cli("gate", "--baseline", tmp_path / "baseline.json", tmp_path / "run")
    assert completed.returncode == 1 and "other framework versions" in completed.stdout
    assert _cli("gate", "--baseline", tmp_path / "new.json", "--update-baseline", tmp_path / "run").returncode == 0
    assert gate.read_baseline(tmp_path / "new.json")["adapters"]["alpha"]["framework_versions"] == {"alpha": "2.0"}
    assert _cli("gate", "--baseline", tmp_path / "new.json", tmp_path / "run").returncode == 0


def test_gate_lists_suite_errors_apart_and_says_what_the_new_outcomes_mean(tmp_path):
    write_run(tmp_path, "alpha", CASES, outcomes={CASES[0].id: "dtype_mismatch"}, mix=(("pass", 1.0),))
    baseline = gate.baseline_from(load([tmp_path]))
    planted = {CASES[0].id: "suite_error", CASES[1].id: "accepted_invalid", CASES[2].id: "dtype_mismatch"}
    write_run(tmp_path, "alpha", CASES, outcomes=planted, violates={CASES[1].id: "negative_pad"}, mix=(("pass", 1),))
    baseline["adapters"]["alpha"]["cases"][must_reject(CASES[1], "negative_pad").id] = {
        "outcome": "pass",
        "divergence": None,
    }
    verdict = gate.gate(baseline, load([tmp_path]))
    assert verdict.failures.pop("missing case") == [f"alpha: {CASES[1].id} (was pass)"]
    assert verdict.failures == {
        "regression": [
            f"alpha: {must_reject(CASES[1], 'negative_pad').id}: passed, now accepted_invalid "
            "(returned an output for a case that must be rejected: negative_pad)",
            f"alpha: {CASES[2].id}: passed, now dtype_mismatch (output dtype float32, the case's is float64)",
        ],
        "suite error, not the framework's": [
            f"alpha: {CASES[0].id}: suite_error (the suite's own failure: Traceback: the suite's <comparison> failed)"
        ],
    }
    with pytest.raises(ValueError, match="1 suite errors"):
        gate.baseline_from(load([tmp_path]))
    completed = _cli("gate", "--baseline", tmp_path / "new.json", "--update-baseline", tmp_path)
    assert completed.returncode == 2 and "no baseline written" in completed.stderr
    assert not (tmp_path / "new.json").exists()


def test_committed_baseline_matches_the_smoke_profile_and_the_register():
    """The baseline CI gates against: every case it names is in the smoke profile, every divergence it
    names is in the register (the gate itself runs on CI after the framework envs)."""
    import adapters
    from conformance.divergences import capability_entries, load_register

    baseline = gate.read_baseline(ROOT / "baselines" / "pinned-smoke.json")
    smoke = {case.id for case in profile("smoke")}
    known = set()
    for name in adapters.BUILTIN:
        adapter = adapters.load(name)  # no framework is imported to load one
        derived = capability_entries(name, adapters.capabilities(adapter), adapters.modes(adapter))
        known |= {entry.id for entry in load_register(name, framework=adapters.framework(adapter)).entries + derived}
    assert set(baseline["adapters"]) >= {"torch", "onnxruntime", "onnx-reference", "jax", "tf-nn"}
    for adapter, expected in baseline["adapters"].items():
        assert expected["profile"] == "smoke"
        assert set(expected["cases"]) <= smoke, adapter
        for entry in expected["cases"].values():
            assert entry["divergence"] is None or entry["divergence"] in known


# The site.


def test_site_shows_two_versions_side_by_side_with_history(tmp_path):
    old = {CASES[4].id: "value_mismatch"}
    write_run(tmp_path / "set1" / "a", "alpha", CASES, versions={"alpha": "0.9"}, outcomes=old, mix=(("pass", 1),))
    write_run(tmp_path / "set1" / "b", "alpha", CASES, versions={"alpha": "1.0"}, mix=(("pass", 1.0),))
    write_run(tmp_path / "set2", "alpha", CASES, versions={"alpha": "1.0"}, outcomes={CASES[2].id: "unsupported"},
              mix=(("pass", 1.0),))  # fmt: skip
    data = site.collect([tmp_path / "set1", tmp_path / "set2"])
    site.save(data, tmp_path / "data.json")
    index = site.build(site.collect([tmp_path / "data.json"]), tmp_path / "site")
    page = index.read_text(encoding="utf-8")
    assert page.count('<tr class="several" data-adapter="alpha">') == 2 and "alpha 0.9" in page and "alpha 1.0" in page
    adapter_page = (tmp_path / "site" / "adapters" / "alpha.html").read_text(encoding="utf-8")
    history = adapter_page.split('id="history"')[1]
    assert history.count("<tr><td>alpha") == 3  # each set's run of alpha, in release order
    assert "1 cases changed since alpha 0.9" in history and "1 cases changed since alpha 1.0" in history
    assert CASES[4].id in history and CASES[2].id in history  # 0.9's mismatch, and 1.0's newest set
    run = {"outcomes": {"a": "pass", "b": "suite_error", "c": "unsupported", "d": "xfail"},
           "raw_outcomes": {"d": "value_mismatch"}, "divergences": {"c": "cannot", "d": "wrong"}}  # fmt: skip
    counted = site.tally(run)  # "c" cannot be expressed: counted apart, as the suite error is
    assert counted["conforms_share"] == 1 / 2 and counted["registered"] == 1 and counted["cannot express"] == 1
    divergences = (tmp_path / "site" / "divergences.html").read_text(encoding="utf-8")
    assert "made-up-divergence" in divergences and "https://example.org/issue/1" in divergences
    assert "&lt;made-up&gt;" in divergences


def test_the_previous_onnxruntime_env_pins_everything_else_as_the_main_constraints():
    def pins(name):
        lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))

    main = pins("constraints.txt")
    names = sorted(path.name for path in ROOT.glob("constraints-onnxruntime-*.txt"))
    assert "constraints-onnxruntime-previous.txt" in names and len(names) >= 3  # the site's older releases too
    releases = set()
    for name in names:
        previous = pins(name)
        releases.add(previous.pop("onnxruntime"))
        assert previous == {package: main[package] for package in previous}, name
    assert len(releases) == len(names) and main["onnxruntime"] not in releases


@pytest.mark.parametrize(
    ("outcome", "raw", "kind", "mark"),
    [
        ("pass", "pass", None, ""),
        ("value_mismatch", "value_mismatch", None, ""),
        ("xfail", "value_mismatch", "xfail", "registered"),
        ("unsupported", "unsupported", "unsupported", "registered"),
        ("pass", "pass", "xfail", ""),  # a non-strict entry matched a pass: it explained nothing
        ("pass", "pass", "tolerance", "registered"),  # the pass needed the entry's wider bound
        ("xpass", "pass", "xfail", "xpass"),
    ],
)
def test_a_cells_mark_says_how_the_register_is_involved(outcome, raw, kind, mark):
    record = {"outcome": outcome, "raw_outcome": raw, "divergence": kind and {"id": "x", "kind": kind}}
    record["explained"] = outcome != "xpass" and (outcome in ("pass", "xfail") or kind is not None)
    assert html.mark(record) == mark
    assert html.cell_code(record) == html.CODES[html.RAW.index(raw) + len(html.RAW) * html.MARKS.index(mark)]


def _line(a, b, agree=0, differ=0, one_refuses=0):
    counts = {"agree": agree, "values differ": differ, "one refuses": one_refuses}
    return {"family": "same", "a": a, "b": b, "points": agree + differ + one_refuses, "counts": counts,
            "agree_everywhere": not differ and not one_refuses, "smallest_disagreement": None}  # fmt: skip


@pytest.mark.parametrize(
    ("other_numbers", "folded"),
    [((5, 2, 1), True), ((5, 3, 1), False)],  # the variant relates to "b" as the plain one does, or not
)
def test_one_adapters_data_formats_are_one_row_where_they_never_differ(other_numbers, folded):
    plain, variant, other = "k: keras 'same'", "k-channels-first: keras 'same'", "b: tf 'SAME'"
    lines = [_line(plain, variant, agree=8), _line(plain, other, 5, 2, 1), _line(variant, other, *other_numbers)]
    results = type("Results", (), {"equivalence": lines, "runs": []})()
    (same, _) = html.equivalence_tables(results)
    if folded:
        assert same["members"] == [other, f"{plain} (also channels-first)"]
        cell = same["grid"][0]["cells"][1]
        assert (cell["agree"], cell["differ"], cell["one_refuses"], cell["kind"]) == (5, 2, 1, "differ")
    else:
        assert same["members"] == [other, variant, plain] or same["members"] == [other, plain, variant]


def test_error_size_counts_each_compared_case_in_its_bin(two_frameworks):
    sizes = html.error_sizes(load([two_frameworks]))
    value_mismatches = {
        run.label: Counter(record["case"]["dtype"] for record in run.records if record["outcome"] == "value_mismatch")
        for run in load([two_frameworks]).runs
    }
    for row in sizes["rows"]:
        for dtype, cell in zip(sizes["dtypes"], row["cells"]):
            over_ten = value_mismatches[row["label"]][dtype]  # the synthetic mismatches are 1e4 times the bound
            assert (cell["bars"][-1]["count"] if cell else 0) == over_ten
            if cell:
                assert cell["fails"] == over_ten and f"{over_ten} in > 10 (fails)" in cell["text"]
    assert html._error_bin(1.0) == 4 and html._error_bin(1.0000001) == 5 and html._error_bin(0.0) == 0


def test_a_model_layers_case_is_named_in_the_report_and_filtered_as_its_own_family(tmp_path):
    from conformance import models

    layer = models.cases("smoke")[0]
    write_run(tmp_path / "alpha", "alpha", [layer, CASES[0]], mix=(("pass", 1.0),))
    table = html.case_table(load([tmp_path]))
    assert table[layer.id]["family"] == html.MODEL_FAMILY and table[layer.id]["fields"]["model"] == models.name_of(
        layer.id
    )
    assert table[CASES[0].id]["family"] != html.MODEL_FAMILY and "model" not in table[CASES[0].id]["fields"]


def test_a_baseline_keeps_no_series_of_an_adapter_that_could_not_run(two_frameworks, tmp_path):
    # torch-cuda cannot run here (no torch in the tests env, or no CUDA): its file holds only why.
    ran = _cli(
        "run", "--adapter", "torch-cuda", "--allow-unavailable", "torch-cuda", "--results", two_frameworks / "cuda"
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = load([two_frameworks])
    assert "torch-cuda" in {run.adapter for run in results.runs}
    assert set(gate.baseline_from(results)["adapters"]) == {"alpha", "beta"}
