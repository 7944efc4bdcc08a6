"""Each adapter's capability table: declared once, and everything derived from it agrees with it."""

from __future__ import annotations

from pathlib import Path

import pytest

import adapters
from adapters.capabilities import Capabilities, limits
from conformance.__main__ import capabilities_table
from conformance.divergences import capability_entries
from conformance.grid import must_reject_cases, profile
from conformance.invalid import RULES
from conformance.runner import given_to

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = {name: adapters.load(name) for name in adapters.BUILTIN}  # no framework is imported to load them


def test_the_readme_table_of_limits_is_the_derived_one():
    assert capabilities_table() in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_must_reject_rule_an_adapter_declares_reaches_it_with_a_citation(name):
    adapter = BUILTIN[name]
    declared = adapters.capabilities(adapter)
    assert set(declared.rejects) <= set(RULES)
    for rule, citation in declared.rejects.items():
        assert citation.startswith("https://"), f"{name}: {rule} cites no document"
        given = [
            c for c in must_reject_cases() if c.violates == rule and given_to(c, declared, adapters.modes(adapter))
        ]
        assert given, f"{name} documents {rule} but is given no must-reject case of it"
    undeclared = [c for c in must_reject_cases() if c.violates not in declared.rejects]
    assert not any(given_to(c, declared, adapters.modes(adapter)) for c in undeclared)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_declared_limit_meets_a_smoke_case_and_only_what_it_describes(name):
    adapter = BUILTIN[name]
    declared, framework_modes = adapters.capabilities(adapter), adapters.modes(adapter)
    smoke = [case for case in profile("smoke") if given_to(case, declared, framework_modes)]
    for entry in capability_entries(name, declared, framework_modes):
        met = [case for case in smoke if entry.matches(case)]
        assert met, f"{entry.id} meets no smoke case"
        facet = entry.id.split("-cannot-express-")[1].replace("-", "_")
        assert all(any(f == facet for f, _ in limits(declared, framework_modes, case)) for case in met)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_the_adapter_says_unsupported_exactly_where_its_table_does(name):
    adapter = BUILTIN[name]
    declared, framework_modes = adapters.capabilities(adapter), adapters.modes(adapter)
    for case in profile("smoke"):
        if not given_to(case, declared, framework_modes):
            continue
        found = limits(declared, framework_modes, case)
        if found:
            with pytest.raises(adapters.Unsupported, match=found[0][1].split("(")[0].strip()[:40]):
                adapter.run(case, None, None, None)  # refused before any framework or input is touched


def test_a_capability_table_refuses_unknown_values():
    with pytest.raises(ValueError, match="pads must be one of"):
        Capabilities(pads="sometimes")
    with pytest.raises(ValueError, match="dtypes must be among"):
        Capabilities(dtypes=("int8",))
