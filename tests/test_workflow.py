"""The GitHub Actions workflow (.github/workflows/conformance.yml) against tox.ini: what actionlint
cannot know.

actionlint (run by tox env ``tests``) checks the workflow's syntax, expressions, ``needs`` and matrix
keys. It cannot know that the matrix must hold every framework env of tox.ini, that the shard list and
the ``--shard K/N`` the job passes must agree, or that every shard's artifact needs a name of its own
that the merge job downloads. PyYAML is not a dependency, so the few lines read here are read as text:
the workflow writes each of them on one line.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "conformance.yml"
TOX_INI = ROOT / "tox.ini"

# The envs of tox.ini's env_list that are not a framework's conformance run. A new env in env_list is
# taken for a framework env (and so must be in the workflow's matrix) unless it is named here.
NOT_FRAMEWORK_ENVS = {"tests", "gate", "site", "report"}
# Framework envs that choose their own profiles and are not sharded: each runs in a job of its own.
OWN_JOB_ENVS = {"torch-compile"}


def framework_envs() -> list[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(TOX_INI.read_text(encoding="utf-8"))
    env_list = [name.strip() for name in config["tox"]["env_list"].split(",")]
    return [name for name in env_list if name not in NOT_FRAMEWORK_ENVS | OWN_JOB_ENVS]


def one(pattern: str, text: str) -> str:
    """The one match of a regular expression (its first group) in the workflow."""
    found = re.findall(pattern, text, re.MULTILINE)
    assert len(found) == 1, f"{WORKFLOW.name}: expected one line matching {pattern!r}, found {found}"
    return found[0]


def matrix(key: str, text: str) -> list[str]:
    """A matrix axis, written in flow style on one line: ``key: [a, b, c]``."""
    return [item.strip() for item in one(rf"^ +{key}: \[(.*)\] *$", text).split(",")]


def test_the_matrix_runs_every_framework_env_of_tox_ini():
    assert matrix("env", WORKFLOW.read_text(encoding="utf-8")) == framework_envs()


def test_the_envs_that_choose_their_own_profiles_run_in_a_job_of_their_own():
    text = WORKFLOW.read_text(encoding="utf-8")
    for env in OWN_JOB_ENVS:
        assert one(rf"^ +- run: python -m tox -e ({env})$", text) == env


def test_the_shards_in_the_matrix_are_the_shards_the_run_is_given():
    text = WORKFLOW.read_text(encoding="utf-8")
    total = int(one(r'--shard "\$SHARD/(\d+)"', text))
    assert total > 1
    assert matrix("shard", text) == [str(k) for k in range(1, total + 1)]
    # The job's name and the JUnit file's name say "K of N" too.
    assert set(re.findall(r"of[ -](\d+)", text)) == {str(total)}


def test_every_shard_uploads_an_artifact_of_its_own_that_the_merge_job_downloads():
    text = WORKFLOW.read_text(encoding="utf-8")
    name = one(r"^ +name: (results-.*)$", text)
    # Artifact names must be unique within a run: a second upload under one name fails.
    assert "${{ matrix.env }}" in name and "${{ matrix.shard }}" in name
    pattern = one(r"^ +pattern: (.*)$", text)
    envs, shards = matrix("env", text), matrix("shard", text)
    for env in envs:
        for shard in shards:
            uploaded = name.replace("${{ matrix.env }}", env).replace("${{ matrix.shard }}", shard)
            assert fnmatch.fnmatchcase(uploaded, pattern), f"the merge job does not download {uploaded}"
    # ... into one tree (results/<env>/), where the gate and the site look for each env's results.
    assert one(r"^ +merge-multiple: (.*)$", text) == "true"
