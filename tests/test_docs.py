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


_OUTSIDE = re.compile(r"\.\./shared|DESIGN\.md|/work/")  # the team's notes and this machine's folders


def _outside_pointers(files) -> list[str]:
    return [
        f"{path.name}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if _OUTSIDE.search(line)
    ]


def test_nothing_in_the_repository_points_outside_it():
    assert _outside_pointers(path for path in _tracked_text_files() if path.name != "test_docs.py") == []


def test_a_planted_pointer_outside_is_found(tmp_path):
    planted = tmp_path / "notes.md"
    planted.write_text("fine\nsee ../shared/DESIGN.md section 3\n", encoding="utf-8")
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
