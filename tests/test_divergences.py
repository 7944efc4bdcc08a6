"""The divergence register: every file valid, every rule enforced, outcomes settled as documented."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from adapters import BUILTIN, DEFAULT_CAPABILITIES
from adapters.capabilities import Capabilities
from conformance.case import Case
from conformance.divergences import (
    REGISTER_DIR,
    Divergence,
    RegisterError,
    capability_entries,
    is_explained,
    load_register,
    promotions,
    settle,
    widening,
)
from conformance.grid import profile

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("adapter", sorted(BUILTIN))
def test_every_committed_register_is_valid_and_scoped(adapter):
    register = load_register(adapter, framework=load_adapter_info(adapter)["framework"])
    for entry in register.entries:
        assert entry.reason and (entry.links or "no upstream report found" in entry.upstream)
        assert entry.versions, f"{entry.id} names no framework version range"
        if entry.kind in ("xfail", "unsupported"):
            assert entry.outcomes, f"{entry.id} names no outcomes"
        report = (
            entry.upstream.split("ready-to-file report: ")[-1].split(" ")[0]
            if "ready-to-file" in entry.upstream
            else ""
        )
        assert not report or (ROOT / report).is_file(), f"{entry.id}: {report} is missing"


def load_adapter_info(name):
    """The framework name of a built-in adapter without importing its framework."""
    module, _, attribute = BUILTIN[name].partition(":")
    adapter = getattr(importlib.import_module(module), attribute)
    return {"framework": getattr(adapter, "framework", adapter.name)}


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
outcomes = ["value_mismatch"]
reason = "because"
links = ["https://example.org/issue/1"]
[divergence.versions]
vendor-sdk = ">=1.2,<1.3"
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
        (('outcomes = ["value_mismatch"]', ""), "must name the outcomes it explains"),
        (('outcomes = ["value_mismatch"]', 'outcomes = ["suite_error"]'), "outcomes must be a list among"),
        (('kind = "xfail"', 'kind = "unsupported"'), "explains only"),
        (('outcomes = ["value_mismatch"]', 'outcomes = ["rejected"]\nstrict = false'), "needs a message pattern"),
        (('outcomes = ["value_mismatch"]', 'outcomes = ["rejected"]\nmessage = "(unclosed"'), "regular expression"),
        (('">=1.2,<1.3"', '"one point two"'), "is not a version range"),
        (('kind = "xfail"', 'kind = "promotion"'), "needs output_dtype"),
        (('dtype = "float16"', 'dtype = "float16"\n[[divergence.bad'), "not valid TOML"),
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


def test_entries_apply_only_within_their_scope(tmp_path):
    scoped = GOOD.replace('reason = "because"', 'reason = "because"\ndevices = ["cpu"]')
    (tmp_path / "vendor.toml").write_text(scoped)
    assert [
        e.id for e in load_register("vendor", tmp_path, device="cpu", versions={"vendor-sdk": "1.2.5"}).entries
    ] == ["x"]
    assert load_register("vendor", tmp_path, device="cpu", versions={"vendor-sdk": "1.3.0"}).entries == []
    assert load_register("vendor", tmp_path, device="cuda", versions={"vendor-sdk": "1.2.5"}).entries == []
    with pytest.raises(RegisterError, match="does not report"):
        load_register("vendor", tmp_path, device="cpu", versions={"other": "1.0"})
    unscoped = GOOD.replace('[divergence.versions]\nvendor-sdk = ">=1.2,<1.3"\n', "")
    (tmp_path / "vendor.toml").write_text(unscoped)
    assert load_register("vendor", tmp_path, device="cpu", versions={}).entries  # nothing to scope by
    with pytest.raises(RegisterError, match="needs a \\[divergence.versions\\] table"):
        load_register("vendor", tmp_path, device="cpu", versions={"vendor-sdk": "1.2.5"})


def test_an_entry_meets_must_reject_cases_only_where_it_selects_them():
    case = Case(input_size=(5,), kernel=3, stride=2, padding=-1, in_channels=2, out_channels=2, violates="negative_pad")
    assert not Divergence("a", "v", "xfail", "r", {"rank": 1}, outcomes=("accepted_invalid",)).matches(case)
    assert Divergence("a", "v", "xfail", "r", {"violates": "negative_pad"}, outcomes=("accepted_invalid",)).matches(
        case
    )


def test_selectors_match_fields_derived_facts_and_lists(tmp_path):
    entry = _write(tmp_path, GOOD)().entries[0]
    assert entry.matches(Case(input_size=(3,), kernel=2, dtype="float16"))
    assert not entry.matches(Case(input_size=(3,), kernel=2, dtype="float32"))
    derived = Divergence("d", "v", "xfail", "r", {"asymmetric_padding": True, "groups": [2, 3]})
    assert derived.matches(Case(input_size=(3,), kernel=2, padding=((1, 0),), in_channels=2, out_channels=2, groups=2))
    assert not derived.matches(Case(input_size=(3,), kernel=2, padding=1, in_channels=2, out_channels=2, groups=2))


XFAIL = Divergence("a", "v", "xfail", "r", {"rank": 1}, outcomes=("rejected",))
UNSUPPORTED = Divergence("b", "v", "unsupported", "r", {"rank": 1}, outcomes=("unsupported",))
WORDED = Divergence("w", "v", "xfail", "r", {"rank": 1}, outcomes=("rejected",), message="NOT_IMPLEMENTED")
ANY_WRONG = Divergence("c", "v", "xfail", "r", {"rank": 1}, outcomes=("value_mismatch", "shape_mismatch"))


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
        ("value_mismatch", [XFAIL, ANY_WRONG], "xfail", ANY_WRONG, True),
        ("rejected", [UNSUPPORTED], "rejected", None, False),  # an unsupported entry explains what it names only
        ("suite_error", [XFAIL, ANY_WRONG, UNSUPPORTED], "suite_error", None, False),  # never explained
        ("accepted_invalid", [ANY_WRONG], "accepted_invalid", None, False),
    ],
)
def test_settle(outcome, entries, settled, entry, explained):
    result, matched = settle(outcome, entries)
    assert result == settled
    if entry is not None:
        assert matched is entry
    assert is_explained(result, matched) is explained


@pytest.mark.parametrize(
    ("message", "settled"),
    [("Fail: [ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : no kernel", "xfail"), ("INVALID_ARGUMENT: pads", "rejected")],
)
def test_a_message_pattern_narrows_what_an_entry_explains(message, settled):
    assert settle("rejected", [WORDED], message)[0] == settled


def test_a_promotion_entry_accepts_its_dtype_and_never_turns_a_pass_into_an_xpass():
    promoted = Divergence("p", "v", "promotion", "r", {"rank": 1}, output_dtype="float32")
    assert promotions([promoted, XFAIL]) == ("float32",)
    assert settle("pass", [promoted]) == ("pass", promoted)


def test_capability_entries_derive_from_the_table_and_explain_only_unsupported():
    limited = Capabilities(groups=False, pads="symmetric")
    entries = {e.id: e for e in capability_entries("vendor", limited, ("explicit",))}
    assert set(entries) == {"vendor-cannot-express-groups", "vendor-cannot-express-asymmetric-pads"}
    grouped = Case(input_size=(4,), kernel=2, in_channels=2, out_channels=2, groups=2)
    lopsided = Case(input_size=(4,), kernel=2, padding=((1, 0),))
    assert entries["vendor-cannot-express-groups"].matches(grouped)
    assert not entries["vendor-cannot-express-groups"].matches(lopsided)
    assert entries["vendor-cannot-express-asymmetric-pads"].matches(lopsided)
    assert settle("unsupported", [entries["vendor-cannot-express-groups"]])[1] is not None
    assert settle("pass", [entries["vendor-cannot-express-groups"]])[0] == "xpass"  # the table would be wrong
    assert capability_entries("vendor", DEFAULT_CAPABILITIES, ("explicit",)) == []


def test_widening_takes_the_largest_matching_tolerance_entry():
    loose = Divergence("t1", "v", "tolerance", "r", {"rank": 1}, widen=4.0)
    looser = Divergence("t2", "v", "tolerance", "r", {"rank": 1}, widen=16.0)
    assert widening([]) == 1.0
    assert widening([XFAIL, loose]) == 4.0
    assert widening([loose, looser, UNSUPPORTED]) == 16.0
    assert settle("pass", [loose]) == ("pass", loose)  # a tolerance entry never turns a pass into an xpass
