"""The README and docs/ are the user's documentation: they point nowhere outside the repository, and
every repository path they name exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A path in backticks that starts with one of the repository's top-level folders or files.
_NAMED_PATH = re.compile(
    r"`((?:adapters|conformance|reference|reports|tests|docs|schemas|baselines|site-data|benchmarks)/[\w./-]*\w)`"
)


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    wanted = (".md", ".py", ".toml", ".ini", ".txt", ".j2", ".js", ".css", ".cfg", ".yml", ".yaml")
    return [ROOT / name for name in listed.split() if name.endswith(wanted)]


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


# The team's notes (a folder beside the checkout) and this machine's folders. The pattern is put together
# so that this file, which names no such place, does not spell one out itself.
_TEAM_NOTES = re.escape("../" + "shared")
_OUTSIDE = re.compile(rf"{_TEAM_NOTES}|DESIGN\.md|/work/")


def _outside_pointers(files) -> list[str]:
    return [
        f"{path.name}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]


def test_nothing_in_the_repository_points_outside_it():
    # This file names the patterns themselves.
    assert _outside_pointers(path for path in _tracked_text_files() if path.name != "test_docs.py") == []


def test_a_planted_pointer_outside_is_found(tmp_path):
    planted = tmp_path / "notes.md"
    planted.write_text("fine\nsee " + "../" + "shared/DESIGN.md section 3\n", encoding="utf-8")
    assert _outside_pointers([planted]) == ["notes.md:2"]


def _missing_paths(documents) -> list[str]:
    missing = []
    for document in documents:
        for named in _NAMED_PATH.findall(document.read_text(encoding="utf-8")):
            if "<" not in named and not (ROOT / named).exists() and not list(ROOT.glob(named)):
                missing.append(f"{document.name}: {named}")
    return missing


def test_every_repository_path_the_documents_name_exists():
    assert _missing_paths(_documents()) == []


def test_a_planted_missing_path_is_found(tmp_path):
    planted = tmp_path / "README.md"
    planted.write_text("See `docs/conventions.md` and `docs/no-such-page.md`.", encoding="utf-8")
    assert _missing_paths([planted]) == ["README.md: docs/no-such-page.md"]


def _conformance(*args, cwd=ROOT):
    import sys

    return subprocess.run(
        [sys.executable, "-m", "conformance", *map(str, args)], cwd=cwd, capture_output=True, text=True
    )


def test_the_readmes_walkthrough_of_a_new_adapter_runs_as_written(tmp_path):
    import json

    from conformance.case import Case

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### A new adapter's first run") : readme.index("## The canonical convention")]
    results = tmp_path / "results"
    adapter = ["--adapter", "docs.examples.my_npu:MyNPU", "--profile", "smoke", "--results", results]
    first = _conformance("run", *adapter)
    assert first.returncode == 1, first.stderr
    summary = first.stdout.splitlines()[0].replace(str(results), "results/my-npu")
    assert summary == "my-npu: 104 pass, 50 shape_mismatch, 88 unsupported -> results/my-npu/my-npu.jsonl"
    assert summary in section and "104 explained, 138 not explained" in first.stdout
    records = [json.loads(line) for line in (results / "my-npu.jsonl").read_text().splitlines()]
    for record in records[1:-1]:
        case = Case.from_id(record["case_id"])
        if record["raw_outcome"] == "shape_mismatch":
            assert any(case.output_padding) and case.groups == 1
        elif record["raw_outcome"] == "unsupported":
            assert case.groups > 1
    assert _conformance("report", results, "-o", tmp_path / "report").returncode == 0
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "<b>138 unexplained outcomes</b>:\nmy-npu 138" in page
    assert '"138 unexplained outcomes: my-npu 138"' in section

    second = _conformance("run", *adapter, "--register", "docs/examples/register", "--overwrite")
    assert second.returncode == 0, second.stdout + second.stderr
    summary = second.stdout.splitlines()[0].replace(str(results), "results/my-npu")
    assert summary == "my-npu: 104 pass, 88 unsupported, 50 xfail -> results/my-npu/my-npu.jsonl" and summary in section
    baseline = tmp_path / "my-npu-smoke.json"
    assert _conformance("gate", "--baseline", baseline, results, "--update-baseline").returncode == 0
    assert _conformance("gate", "--baseline", baseline, results).returncode == 0
