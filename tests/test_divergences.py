"""The divergence register: every file valid, every rule enforced, outcomes settled as documented."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from adapters import BUILTIN, DEFAULT_CAPABILITIES
from adapters.capabilities import Capabilities
from conformance.case import Case
from conformance.divergences import (
    DERIVED,
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
from conformance.errors import UserError
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


def _edited(*changes: tuple[str, str]) -> str:
    """GOOD with each (old, new) replacement made; each old text must be there."""
    text = GOOD
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


# GOOD's lines: 2 [[divergence]], 3 id, 4 kind, 5 outcomes, 6 reason, 7 links, 8 [divergence.versions],
# 9 vendor-sdk, 10 [divergence.select], 11 dtype.
TO_TOLERANCE = ('kind = "xfail"\noutcomes = ["value_mismatch"]', 'kind = "tolerance"')
NO_SELECT = ('[divergence.select]\ndtype = "float16"\n', "")
NO_VERSIONS = ('[divergence.versions]\nvendor-sdk = ">=1.2,<1.3"\n', "")
ENTRY = ":2: entry 1 (id 'x'): "  # what follows the path in an entry's message


def _selecting(line: str) -> tuple[str, str]:
    return ('dtype = "float16"', line)


def _adding(line: str) -> tuple[str, str]:
    return ('reason = "because"', f'reason = "because"\n{line}')


def _tolerance(widen: str) -> str:
    return _edited(TO_TOLERANCE, _adding(f"widen = {widen}"))


# (file content, what follows the path, the rule that names the field)
BAD_FILES = [
    # TOML itself
    pytest.param(_edited(('dtype = "float16"', 'dtype = "float16')), ":11:17: ", "not valid TOML", id="syntax"),
    pytest.param(_edited(('"because"', '"caf\xe9"')).encode("latin-1"), ":6: ", "not UTF-8", id="not-utf8"),
    pytest.param(_edited(("[[divergence]]", "[[divergnce]]")), ": ", "unknown top-level keys ['divergnce']", id="typo"),
    pytest.param('title = "mine"\n' + GOOD, ": ", "unknown top-level keys ['title']", id="top-level-key"),
    pytest.param('divergence = "x"\n', ": ", "divergence must be an array of tables", id="not-array"),
    pytest.param(_edited(("[[divergence]]", "[divergence]")), ": ", "divergence must be an array", id="one-table"),
    pytest.param('divergence = [{id = "x", kind = "maybe"}]', ": entry 1 (id 'x'): ", "kind must be", id="inline"),
    # the entry's own keys
    pytest.param(_edited(_adding("widdn = 4")), ENTRY, "unknown keys ['widdn']", id="unknown-key"),
    pytest.param(_edited(('id = "x"', "id = 5")), ":2: entry 1: ", "needs an id", id="id-int"),
    pytest.param(
        _edited(('id = "x"', 'id = "a b"')), ":2: entry 1 (id 'a b'): ", "id 'a b' may hold only", id="id-space"
    ),
    pytest.param(_edited(('id = "x"', 'id = "<b>"')), ":2: entry 1 (id '<b>'): ", "id '<b>' may hold", id="id-html"),
    pytest.param(_edited(('kind = "xfail"', "kind = 3")), ENTRY, "kind must be one of", id="kind-int"),
    pytest.param(_edited(('reason = "because"', "reason = 5")), ENTRY, "needs a reason", id="reason-int"),
    pytest.param(
        _edited(('links = ["https://example.org/issue/1"]', 'links = "https://x"')), ENTRY, "links must", id="links-str"
    ),
    pytest.param(
        _edited(('links = ["https://example.org/issue/1"]', "links = [5]")), ENTRY, "links must be", id="links-int"
    ),
    pytest.param(_edited(_adding("upstream = 5")), ENTRY, "upstream must be a string", id="upstream-int"),
    pytest.param(
        _edited(('links = ["https://example.org/issue/1"]', "")), ENTRY, 'upstream = "no upstream', id="no-links"
    ),
    pytest.param(
        _edited(('outcomes = ["value_mismatch"]', 'outcomes = "value_mismatch"')),
        ENTRY,
        "outcomes must",
        id="outcomes-str",
    ),
    pytest.param(
        _edited(('outcomes = ["value_mismatch"]', "outcomes = [{a = 1}]")), ENTRY, "outcomes must", id="outcomes-table"
    ),
    pytest.param(_edited(_adding('strict = "yes"')), ENTRY, "strict must be true or false", id="strict-str"),
    pytest.param(_edited(_adding("message = 5")), ENTRY, "message must be a string", id="message-int"),
    pytest.param(_edited(_adding('message = "a{99999999999}"')), ENTRY, "message is not a regular", id="message-huge"),
    pytest.param(_tolerance("inf"), ENTRY, "widen must be a finite number > 1, got inf", id="widen-inf"),
    pytest.param(_tolerance("nan"), ENTRY, "widen must be a finite number > 1, got nan", id="widen-nan"),
    pytest.param(_tolerance("0"), ENTRY, "widen must be a finite number > 1, got 0", id="widen-0"),
    pytest.param(_tolerance("1.0"), ENTRY, "widen must be a finite number > 1, got 1.0", id="widen-1"),
    pytest.param(_tolerance('"abc"'), ENTRY, "widen must be a finite number > 1, got 'abc'", id="widen-str"),
    pytest.param(_tolerance("true"), ENTRY, "widen must be a finite number > 1, got True", id="widen-bool"),
    pytest.param(_edited(TO_TOLERANCE), ENTRY, "a tolerance entry needs widen", id="widen-missing"),
    pytest.param(_edited(_adding("widen = 4.0")), ENTRY, "widen applies to tolerance entries only", id="widen-xfail"),
    pytest.param(
        _edited(_adding('output_dtype = "float32"')), ENTRY, "output_dtype applies to promotion", id="dtype-on-xfail"
    ),
    pytest.param(
        _edited(('kind = "xfail"\noutcomes = ["value_mismatch"]', 'kind = "promotion"\noutput_dtype = "int8"')),
        ENTRY,
        "output_dtype must be one of the case dtypes",
        id="output-dtype-unknown",
    ),
    pytest.param(
        _edited(('kind = "xfail"', 'kind = "tolerance"\nwiden = 4')),
        ENTRY,
        "outcomes applies to",
        id="outcomes-tolerance",
    ),
    pytest.param(_edited(_adding('devices = "cpu"')), ENTRY, "devices must be a list", id="devices-str"),
    pytest.param(_edited(_adding('devices = [""]')), ENTRY, "devices must be a list", id="devices-empty-name"),
    pytest.param(
        _edited(NO_VERSIONS, _adding('versions = ">=1.2"')), ENTRY, "versions must be a table", id="versions-str"
    ),
    pytest.param(
        _edited(('">=1.2,<1.3"', "1.2")), ENTRY, "versions.vendor-sdk must be a version range", id="spec-float"
    ),
    pytest.param(
        _edited(('">=1.2,<1.3"', '""')), ENTRY, "versions.vendor-sdk must be a version range", id="spec-empty"
    ),
    # the selector
    pytest.param(_edited(NO_SELECT, _adding('select = "x"')), ENTRY, "non-empty [select] table", id="select-str"),
    pytest.param(_edited(_selecting('groups = "two"')), ENTRY, "select.groups must be an integer", id="groups-str"),
    pytest.param(_edited(_selecting("groups = true")), ENTRY, "select.groups must be an integer", id="groups-bool"),
    pytest.param(_edited(_selecting("groups = [2, true]")), ENTRY, "select.groups must be", id="groups-list-bool"),
    pytest.param(_edited(_selecting("groups = []")), ENTRY, "select.groups must be", id="groups-empty"),
    pytest.param(_edited(_selecting("bias = 1")), ENTRY, "select.bias must be true or false", id="bias-int"),
    pytest.param(_edited(_selecting("grouped = 1")), ENTRY, "select.grouped must be true or false", id="derived-int"),
    pytest.param(_edited(_selecting("groups = 2.0")), ENTRY, "select.groups must be an integer", id="groups-float"),
    pytest.param(_edited(_selecting('dtype = "float8"')), ENTRY, "select.dtype values ['float8']", id="dtype-unknown"),
    pytest.param(
        _edited(_selecting('dtype = ["float16", 32]')), ENTRY, "select.dtype must be a string", id="dtype-int"
    ),
    pytest.param(_edited(_selecting('violates = "nonsense"')), ENTRY, "select.violates values", id="violates"),
    pytest.param(_edited(_selecting("input_size = 3")), ENTRY, "select.input_size must be a non-empty list", id="axes"),
    pytest.param(_edited(_selecting("padding = [1, 1]")), ENTRY, "select.padding must be a non-empty list", id="pads"),
]


@pytest.mark.parametrize(("content", "where", "rule"), BAD_FILES)
def test_a_bad_register_file_is_a_register_error_naming_file_entry_and_field(tmp_path, content, where, rule):
    path = tmp_path / "vendor.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RegisterError) as raised:
        load_register("vendor", [REGISTER_DIR, tmp_path])
    message = str(raised.value)
    assert message.startswith(f"{path}{where}"), message
    assert rule in message, message
    assert isinstance(raised.value, UserError) and isinstance(raised.value, ValueError)


def test_a_bad_register_directory_is_a_register_error_naming_it(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(RegisterError, match=f"^{re.escape(str(missing))}: register directory does not exist$"):
        load_register("vendor", [REGISTER_DIR, missing])
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(RegisterError, match=f"^{re.escape(str(a_file))}: is not a directory"):
        load_register("vendor", a_file)
    (tmp_path / "vendor.toml").mkdir()
    with pytest.raises(
        RegisterError, match=f"^{re.escape(str(tmp_path / 'vendor.toml'))}: cannot read the register file"
    ):
        load_register("vendor", tmp_path)


def test_an_id_defined_twice_is_an_error_naming_both_files(tmp_path):
    first, second = tmp_path / "built-in", tmp_path / "mine"
    first.mkdir()
    second.mkdir()
    (first / "vendor.toml").write_text(GOOD)
    (second / "vendor.toml").write_text(GOOD)
    with pytest.raises(RegisterError) as raised:
        load_register("vendor", [first, second])
    assert str(raised.value) == (
        f"{second / 'vendor.toml'}:2: entry 1 (id 'x'): duplicate entry id 'x', "
        f"first defined at {first / 'vendor.toml'}:2: entry 1 (id 'x')"
    )
    (first / "vendor-framework.toml").write_text(GOOD)  # a framework's file and an adapter's, in one directory
    with pytest.raises(RegisterError) as raised:
        load_register("vendor", first, framework="vendor-framework")
    assert str(raised.value) == (
        f"{first / 'vendor.toml'}:2: entry 1 (id 'x'): duplicate entry id 'x', "
        f"first defined at {first / 'vendor-framework.toml'}:2: entry 1 (id 'x')"
    )


def test_an_entry_without_a_report_may_leave_links_out(tmp_path):
    text = _edited(('links = ["https://example.org/issue/1"]', 'upstream = "no upstream report found"'))
    assert "links" not in text
    (entry,) = _write(tmp_path, text)().entries
    assert (entry.id, entry.links, entry.upstream) == ("x", (), "no upstream report found")


def test_tolerance_and_promotion_entries_load_their_factor_and_dtype(tmp_path):
    (tolerance,) = _write(tmp_path, _tolerance("4"))().entries
    assert (tolerance.kind, tolerance.widen) == ("tolerance", 4.0) and isinstance(tolerance.widen, float)
    promotion = _edited(
        ('kind = "xfail"\noutcomes = ["value_mismatch"]', 'kind = "promotion"\noutput_dtype = "float32"')
    )
    (promoted,) = _write(tmp_path, promotion)().entries
    assert (promoted.kind, promoted.output_dtype, promoted.widen) == ("promotion", "float32", 1.0)


def test_a_user_directory_adds_to_the_built_in_register(tmp_path):
    built_in = [entry.id for entry in load_register("onnxruntime").entries]
    assert "onnxruntime-cpu-no-float64-kernel" in built_in
    (tmp_path / "onnxruntime.toml").write_text(_edited(('id = "x"', 'id = "mine.float16_v2"')))
    combined = load_register("onnxruntime", [REGISTER_DIR, tmp_path])
    assert [entry.id for entry in combined.entries] == [*built_in, "mine.float16_v2"]
    # The built-in directory given again (as --register) is read once, not refused as a duplicate.
    assert [entry.id for entry in load_register("onnxruntime", [REGISTER_DIR, REGISTER_DIR]).entries] == built_in


def test_a_selector_matches_a_per_axis_field_written_as_toml_lists(tmp_path):
    entry = _write(tmp_path, _edited(_selecting("padding = [[1, 0]]\ninput_size = [3]")))().entries[0]
    assert entry.matches(Case(input_size=(3,), kernel=2, padding=((1, 0),)))
    assert not entry.matches(Case(input_size=(3,), kernel=2, padding=((0, 1),)))
    assert not entry.matches(Case(input_size=(4,), kernel=2, padding=((1, 0),)))


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


@pytest.mark.parametrize(
    ("input_size", "stride", "selected"),
    [((2, 4, 1), (1, 1, 2), True), ((2, 4, 1), (2, 2, 1), False), ((2, 4, 2), (1, 1, 2), False), ((1,), (3,), True)],
)
def test_innermost_input_one_strided(input_size, stride, selected):
    case = Case(input_size=input_size, kernel=2, stride=stride)
    assert Divergence("d", "v", "xfail", "r", {"innermost_input_one_strided": True}).matches(case) is selected


def test_the_readme_lists_every_derived_selector():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    listed = readme[readme.index("Selectors: the case's fields") :].split("\n\n")[0]
    assert [key for key in DERIVED if f"`{key}`" not in listed] == []


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


@pytest.mark.parametrize(
    ("select", "framework_modes", "reaches"),
    [
        ({}, ("explicit",), True),
        ({"dtype": "float64"}, ("explicit", "jax"), True),
        ({"mode_kind": "nnx_same"}, ("explicit", "nnx"), True),
        ({"mode_kind": "nnx_same"}, ("explicit", "jax"), False),  # flax.toml's nnx entry and a linen adapter
        ({"mode_kind": ["onnx_same_upper", "jax_same"]}, ("explicit", "jax"), True),
        ({"mode_kind": "explicit"}, ("explicit",), True),
        ({"mode_kind": "jax_legacy"}, ("explicit", "onnx"), False),
    ],
)
def test_an_entry_reaches_only_adapters_given_the_modes_it_selects(select, framework_modes, reaches):
    entry = Divergence(id="e", adapter="a", kind="xfail", reason="r", select=select, outcomes=("shape_mismatch",))
    assert entry.reaches(framework_modes) is reaches


def test_a_backward_entry_reaches_only_adapters_with_a_backward_pass():
    entry = Divergence(
        id="e", adapter="a", kind="xfail", reason="r", select={"direction": "backward"}, outcomes=("crash",)
    )
    assert entry.reaches(("explicit",), backward=True) and not entry.reaches(("explicit",), backward=False)
    forward = Divergence(
        id="f", adapter="a", kind="xfail", reason="r", select={"dtype": "float16"}, outcomes=("crash",)
    )
    assert forward.reaches(("explicit",), backward=False)


def test_value_bound_void_is_where_the_dtypes_bound_judges_no_value():
    layer = dict(input_size=(16,), kernel=16, stride=8, in_channels=256, out_channels=128, bias=True)
    assert DERIVED["value_bound_void"](Case(**layer, dtype="float16"))  # L = 256 * 16 + 1 > 2**11
    assert not DERIVED["value_bound_void"](Case(**layer, dtype="float32"))
    assert not DERIVED["value_bound_void"](
        Case(input_size=(4,), kernel=3, in_channels=4, out_channels=2, dtype="bfloat16")
    )
