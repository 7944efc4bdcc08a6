"""One test per (adapter, case): run it, compare with the reference, record it, judge it."""

from __future__ import annotations

import json

import pytest


def test_case(conformance, adapter_name, case):
    run = conformance.adapters[adapter_name]
    if run.info["unavailable"]:
        pytest.skip(f"{adapter_name} unavailable: {run.info['unavailable']}")
    attempt = conformance.attempts[adapter_name].take(case.id)
    if attempt is None:
        pytest.skip(f"recorded by the run this one resumes, in {run.file.path}")
    record = run.record(case, attempt).to_json()
    if record["explained"]:
        return
    details = {key: record[key] for key in ("outcome", "raw_outcome", "metrics", "divergence")}
    pytest.fail(
        f"{adapter_name} on {case.id}: {record['outcome']} is not explained by the divergence register\n"
        f"{json.dumps(details, indent=1)[:3000]}\nrepro:\n{record['repro']}",
        pytrace=False,
    )
