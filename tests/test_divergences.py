"""The divergence register: every file valid, every rule enforced, outcomes settled as documented."""

from __future__ import annotations

import pytest

from adapters import BUILTIN
from conformance.case import Case
from conformance.divergences import (
    REGISTER_DIR,
    Divergence,
    RegisterError,
    is_explained,
    load_register,
    settle,
    widening,
)
from conformance.grid import profile


@pytest.mark.parametrize("adapter", sorted(BUILTIN))
def test_every_committed_register_is_valid(adapter):
    register = load_register(adapter)
    for entry in register.entries:
        assert entry.reason and (entry.links or "no upstream report found" in entry.upstream)


def test_every_registered_entry_meets_a_smoke_case():
    # The smoke profile is what CI runs: every known divergence must show there.
    smoke = profile("smoke")
    for path in sorted(REGISTER_DIR.glob("*.toml")):
        for entry in load_register(path.stem).entries:
            assert any(entry.matches(case) for case in smoke), f"{path.name}: {entry.id} meets no smoke case"


def _write(tmp_path, text):
    (tmp_path / "vendor.toml").write_text(text)
    return lambda: load_register("vendor", tmp_path)


GOOD = """
[[divergence]]
id = "x"
kind = "xfail"
reason = "because"
links = ["https://example.org/issue/1"]
[divergence.select]
dtype = "float16"
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('reason = "because"', 'reason = " "'), "needs a reason"),
        (('kind = "xfail"', 'kind = "maybe"'), "kind must be one of"),
        (('links = ["https://example.org/issue/1"]', "links = []"), "no upstream report found"),
        (('links = ["https://example.org/issue/1"]', 'links = ["see slack"]'), "https://"),
        (('dtype = "float16"', 'colour = "red"'), "unknown selector keys"),
        (('id = "x"', 'id = ""'), "needs an id"),
    ],
)
def test_register_rules(tmp_path, change, message):
    assert load_register("vendor", tmp_path).entries == []  # no file: an empty register
    load = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(RegisterError, match=message):
        load()


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(RegisterError, match="duplicate"):
        _write(tmp_path, GOOD + GOOD)()


def test_selectors_match_fields_derived_facts_and_lists(tmp_path):
    entry = _write(tmp_path, GOOD)().entries[0]
    assert entry.matches(Case(input_size=(3,), kernel=2, dtype="float16"))
    assert not entry.matches(Case(input_size=(3,), kernel=2, dtype="float32"))
    derived = Divergence("d", "v", "xfail", "r", {"asymmetric_padding": True, "groups": [2, 3]})
    assert derived.matches(Case(input_size=(3,), kernel=2, padding=((1, 0),), in_channels=2, out_channels=2, groups=2))
    assert not derived.matches(Case(input_size=(3,), kernel=2, padding=1, in_channels=2, out_channels=2, groups=2))


XFAIL = Divergence("a", "v", "xfail", "r", {"rank": 1}, outcomes=("rejected",))
UNSUPPORTED = Divergence("b", "v", "unsupported", "r", {"rank": 1})


@pytest.mark.parametrize(
    ("outcome", "entries", "settled", "entry", "explained"),
    [
        ("pass", [], "pass", None, True),
        ("value_mismatch", [], "value_mismatch", None, False),
        ("rejected", [XFAIL], "xfail", XFAIL, True),
        ("value_mismatch", [XFAIL], "value_mismatch", None, False),  # not what the entry explains
        ("pass", [XFAIL], "xpass", XFAIL, False),  # the divergence no longer reproduces
        ("unsupported", [UNSUPPORTED], "unsupported", UNSUPPORTED, True),
        ("pass", [UNSUPPORTED], "xpass", UNSUPPORTED, False),
        ("value_mismatch", [XFAIL, Divergence("c", "v", "xfail", "r", {"rank": 1})], "xfail", None, True),
    ],
)
def test_settle(outcome, entries, settled, entry, explained):
    result, matched = settle(outcome, entries)
    assert result == settled
    if entry is not None:
        assert matched is entry
    assert is_explained(result, matched) is explained


def test_widening_takes_the_largest_matching_tolerance_entry():
    loose = Divergence("t1", "v", "tolerance", "r", {"rank": 1}, widen=4.0)
    looser = Divergence("t2", "v", "tolerance", "r", {"rank": 1}, widen=16.0)
    assert widening([]) == 1.0
    assert widening([XFAIL, loose]) == 4.0
    assert widening([loose, looser, UNSUPPORTED]) == 16.0
    assert settle("pass", [loose]) == ("pass", loose)  # a tolerance entry never turns a pass into an xpass
