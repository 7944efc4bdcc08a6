"""The model layers (conformance/models.py): valid cases, unique names and ids, a source for each, the
profiles that hold them, and the architectures' own facts, which a planted fault breaks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conformance import models
from conformance.case import Case
from conformance.grid import PROFILES, composition, profile


def test_every_layer_builds_a_valid_case_in_each_dtype():
    for entry in models.LAYERS:
        for dtype in models.DTYPES:
            case = entry.case(dtype)
            assert Case.from_id(case.id) == case and case.dtype == dtype
            assert case.mode == "explicit" and not case.violates and case.direction == "forward"
        assert entry.at_model_size().input_size == entry.model_input_size


def test_names_and_ids_are_unique_and_name_of_round_trips():
    names = [entry.name for entry in models.LAYERS]
    assert len(set(names)) == len(names)
    ids = [case.id for case in models.cases("default")]
    assert len(set(ids)) == len(ids) == len(models.LAYERS) * len(models.DTYPES)
    for entry in models.LAYERS:
        for dtype in models.DTYPES:
            assert models.name_of(entry.case(dtype).id) == entry.name
    assert models.name_of(profile("default")[0].id) is None
    assert models.name_of("not a case id") is None


def test_every_layer_has_a_link_and_a_name_by_architecture_and_layer():
    for entry in models.LAYERS:
        assert entry.source.startswith("https://") and " " in entry.source  # the address, then file or config
        assert entry.name.count(".") >= 1 and entry.name == entry.name.lower()
        assert entry.note


def test_smoke_holds_a_few_and_default_and_full_every_layer():
    smoke = {case.id for case in models.cases("smoke")}
    default = {case.id for case in models.cases("default")}
    assert smoke < default and len(smoke) == len(models.SMOKE) * len(models.DTYPES) <= 15
    assert {case.id for case in models.cases("full")} == default
    assert {models.name_of(case_id) for case_id in smoke} == set(models.SMOKE)


def test_the_model_cases_are_in_each_profile_last_and_counted_apart():
    for name in PROFILES:
        ids = [case.id for case in profile(name)]
        wanted = [case.id for case in models.cases(name)]
        assert ids[-len(wanted) :] == wanted  # last, after every other case, none of them a duplicate
        counts = composition(name)
        assert counts["models"] == len(wanted)
        assert sum(counts.values()) == len(ids)  # no case counted twice, as explicit and as a model layer


def test_the_input_sizes_stay_within_the_models_and_the_channels_are_real():
    for entry in models.LAYERS:
        case, real = entry.case("float32"), entry.at_model_size()
        assert all(n <= m for n, m in zip(case.input_size, real.input_size))
        assert (case.in_channels, case.out_channels, case.groups) == (real.in_channels, real.out_channels, real.groups)
        assert 1 <= case.batch <= 2


def test_the_architectures_facts_hold():
    assert models.problems() == []
    # A few stated outright, as the issue names them.
    dcgan = [models.layer(f"dcgan.generator.up{i}").at_model_size() for i in range(1, 5)]
    assert [c.in_channels for c in dcgan] + [dcgan[-1].out_channels] == [512, 256, 128, 64, 3]
    assert all(c.output_shape[2:] == tuple(2 * n for n in c.input_size) for c in dcgan)
    hifigan = [models.layer(f"hifigan.ups.{i}").case("float32") for i in range(4)]
    assert [c.stride[0] for c in hifigan] == [8, 8, 2, 2] and [c.kernel[0] for c in hifigan] == [16, 16, 4, 4]
    assert hifigan[0].stride[0] * hifigan[1].stride[0] * hifigan[2].stride[0] * hifigan[3].stride[0] == 256
    encodec = [models.layer(f"encodec.decoder.block{i}").case("float32") for i in range(4)]
    assert [c.stride[0] for c in encodec] == [8, 5, 4, 2] and all(c.kernel[0] == 2 * c.stride[0] for c in encodec)
    assert encodec[0].stride[0] * encodec[1].stride[0] * encodec[2].stride[0] * encodec[3].stride[0] == 320
    fcn = {entry.name: entry.case("float32") for entry in models.LAYERS if entry.name.startswith("fcn")}
    assert {(c.kernel[0], c.stride[0]) for c in fcn.values()} == {(4, 2), (16, 8), (64, 32)}
    assert all(c.groups == 2 and c.batch == 1 for c in (models.layer(n).case("float32") for n in models._by_name()
               if n.startswith("stylegan2")))  # fmt: skip
    depthwise = [entry.case("float32") for entry in models.LAYERS if entry.name.startswith("centernet")]
    assert depthwise and all(c.groups == c.in_channels == c.out_channels for c in depthwise)
    assert {c.rank for c in (entry.case("float32") for entry in models.LAYERS)} == {1, 2, 3}


def _planted(name: str, **fields) -> tuple:
    """The table with one layer's fields changed."""
    return tuple(
        replace(entry, fields={**entry.fields, **fields}) if entry.name == name else entry for entry in models.LAYERS
    )


@pytest.mark.parametrize(
    ("name", "fields", "found"),
    [
        ("hifigan.ups.1", dict(padding=3), "hifigan.ups.1: padding (k - u) // 2"),
        ("dcgan.generator.up2", dict(padding=0), "dcgan.generator.up2: k4 s2 p1 doubles"),
        ("encodec.decoder.block1", dict(stride=4, kernel=8), "encodec: strides (8, 4, 4, 2)"),
        ("encodec.decoder.block2", dict(padding=2), "encodec.decoder.block2: kernel 2 x stride, no pad"),
        ("unet.up2", dict(out_channels=128), "unet.up2: halves the channels"),
        ("stylegan2.convs.0", dict(groups=1), "stylegan2.convs.0: batch 2 folded"),
        ("centernet.ida_up.up_2", dict(bias=True), "centernet.ida_up.up_2: x f"),
        ("fcn8s.upscore8", dict(kernel=17), "fcn8s.upscore8: k = 2s, no pad"),
        ("vnet.up_tr64", dict(batch=3), "vnet.up_tr64: batch 3, not 1 or 2"),
    ],
)
def test_a_planted_fault_breaks_a_fact(name, fields, found):
    problems = models.problems(_planted(name, **fields))
    assert any(problem.startswith(found) for problem in problems), problems


def test_a_layer_cut_beyond_its_model_or_without_a_link_is_found():
    table = tuple(
        replace(entry, source="see the paper") if entry.name == "unet.up1" else entry for entry in models.LAYERS
    )
    assert "unet.up1: no link to its source" in models.problems(table)
    assert any(p.startswith("dcgan.generator.up4: input (33, 33)") for p in models.problems(_planted(
        "dcgan.generator.up4", input_size=(33, 33))))  # fmt: skip


def test_an_unknown_layer_name_is_refused():
    with pytest.raises(ValueError, match="no model layer named"):
        models.layer("dcgan.generator.up9")
