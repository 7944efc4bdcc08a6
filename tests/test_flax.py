"""Flax's ConvTranspose layers (flax.linen and flax.nnx, each with transpose_kernel False and True), proved on
the installed version: each adapter agrees with the reference within the suite's own bound, its kernel-layout
conversion is the one each transpose_kernel setting documents, its repro reproduces it, its gradients agree
with the reference's VJP, and a planted fault in the conversion is caught. Skips where flax is absent
(tox -e flax runs this)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters import Unsupported, load
from conformance.case import Case, make_inputs, make_upstream
from conformance.compare import compare, expected_and_tolerance, expected_gradients

pytest.importorskip("flax", reason="flax is not installed in this environment (tox -e flax runs this)")

import adapters.flax_layers as flax_layers  # noqa: E402
import adapters.jax_lax as jax_lax  # noqa: E402

NAMES = ("flax-linen", "flax-linen-transpose-kernel", "flax-nnx", "flax-nnx-transpose-kernel")

CASES = [
    Case(input_size=(4, 3), kernel=(3, 2), in_channels=2, out_channels=3, stride=2, padding=((1, 0), (0, 1)),
         output_padding=(1, 0), bias=True),  # strided, asymmetric pads, output_padding
    Case(input_size=(6,), kernel=3, in_channels=2, out_channels=3, dilation=2, padding=((2, 1),), batch=2),  # dilated
    Case(input_size=(5,), kernel=2, stride=3, padding=((3, 0),), bias=True),  # a begin crop past the kernel
    Case(input_size=(2, 3, 2), kernel=(2, 3, 2), in_channels=2, out_channels=2, stride=(1, 2, 1),
         dilation=(2, 1, 1), padding=((0, 1), (2, 0), (1, 1)), bias=True),  # 3-D, strided and dilated
    Case(input_size=(5, 4), kernel=3, in_channels=2, out_channels=3, stride=2, padding=1, bias=True,
         dtype="float32"),
]  # fmt: skip


def _check(case: Case, out) -> str:
    """The suite's own verdict on an output: its comparison's outcome."""
    x, w, bias = make_inputs(case)
    expected, tolerance = expected_and_tolerance(case, x, w, bias)
    return compare(case, expected, tolerance, out).outcome


def _run_repro(adapter, case: Case, names=("y",)) -> list:
    lines = [line for line in adapter.repro(case).splitlines() if not line.startswith("print(")]
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    return [None if namespace.get(name) is None else np.asarray(namespace[name]) for name in names]


@pytest.fixture(params=NAMES)
def adapter(request):
    return load(request.param)


def test_each_adapter_declares_its_framework_versions_and_is_available(adapter):
    assert adapter.availability() is None
    versions = adapter.versions()
    assert set(versions) == {"flax", "jax", "jaxlib"} and adapter.framework == "flax"
    assert adapter.capabilities.data_format == "channels_last" and not adapter.capabilities.groups


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_each_adapter_matches_the_reference(adapter, case):
    x, w, bias = make_inputs(case)
    out = adapter.run(case, x, w, bias)
    assert out.dtype.name == case.dtype  # x64 is on: float64 is not silently float32
    assert _check(case, out) == "pass"
    (repro,) = _run_repro(adapter, case)
    np.testing.assert_array_equal(repro, out)


def test_groups_are_not_expressible(adapter):
    case = Case(input_size=(4,), kernel=3, in_channels=4, out_channels=6, groups=2)
    with pytest.raises(Unsupported, match="no groups argument"):
        adapter.run(case, *make_inputs(case))


@pytest.mark.parametrize("transpose_kernel", [False, True])
def test_the_kernel_layout_is_the_documented_one_for_each_setting(transpose_kernel):
    w = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)  # (C_in, C_out, kH, kW)
    kernel = flax_layers.layer_kernel(w, transpose_kernel)
    if transpose_kernel:  # (*k, C_out, C_in): the layer flips it and swaps the channel axes itself
        assert kernel.shape == (4, 5, 3, 2)
        assert kernel[1, 2, 0, 1] == w[1, 0, 1, 2]
    else:  # (*k, C_in, C_out), spatially flipped: the layer convolves the dilated input with it as is
        assert kernel.shape == (4, 5, 2, 3)
        assert kernel[1, 2, 0, 1] == w[0, 1, 4 - 1 - 1, 5 - 1 - 2]


def test_both_settings_give_the_same_output_as_the_jax_adapter():
    case = CASES[0]
    x, w, bias = make_inputs(case)
    jax_out = load("jax").run(case, x, w, bias)
    for name in NAMES:
        np.testing.assert_allclose(load(name).run(case, x, w, bias), jax_out, rtol=1e-13, atol=1e-13)


def test_explicit_pads_go_in_as_the_documented_pairs_of_the_dilated_input():
    # ke = 2 * (3 - 1) + 1 = 5: the pairs are (ke - 1 - begin, ke - 1 - end + output_padding), and a begin
    # crop past the dilated kernel is a negative low pad, which lax takes as a crop.
    case = Case(input_size=(5,), kernel=3, dilation=2, stride=3, padding=((6, 1),), output_padding=2)
    assert flax_layers.flax_padding(case) == ((-2, 5),)
    assert flax_layers.flax_padding(Case(input_size=(5,), kernel=2, stride=3, mode="jax_same")) == "SAME"


@pytest.mark.parametrize("name", ["flax-linen", "flax-linen-transpose-kernel"])
@pytest.mark.parametrize("token", ["jax_same", "jax_valid", "jax_legacy"])
def test_linen_speaks_the_jax_modes(name, token):
    pads = {"padding": ((0, 1),)} if token == "jax_legacy" else {}  # the strings mean their own pads
    case = Case(input_size=(5,), kernel=2, stride=3, in_channels=2, out_channels=3, mode=token, **pads)
    adapter = load(name)
    assert _check(case, adapter.run(case, *make_inputs(case))) == "pass"


def test_nnx_is_given_its_documented_strings_and_computes_lax_lengths_instead():
    # nnx documents 'SAME' as "the output shape is the same as the input shape" and 'VALID' as adding
    # dilation * (kernel_size - 1) on both sides (the full output): the nnx modes mean those. The layer gives
    # lax's lengths instead, n * s for 'SAME' and n * s + max(ke - s, 0) for 'VALID', which the register says.
    from flax import nnx

    assert load("flax-nnx").modes == ("explicit", "nnx") and "nnx" not in load("flax-linen").modes
    same = Case(input_size=(5,), kernel=2, stride=2, in_channels=2, out_channels=3, dtype="float32", mode="nnx_same")
    valid = Case(input_size=(5,), kernel=2, stride=3, in_channels=2, out_channels=3, dtype="float32", mode="nnx_valid")
    assert same.output_shape[-1] == 5 and valid.output_shape[-1] == (5 - 1) * 3 + 2
    x = np.ones((1, 5, 2), np.float32)
    assert nnx.ConvTranspose(2, 3, (2,), 2, padding="SAME", rngs=nnx.Rngs(0))(x).shape[1] == 5 * 2
    assert nnx.ConvTranspose(2, 3, (2,), 3, padding="VALID", rngs=nnx.Rngs(0))(x).shape[1] == 5 * 3
    for case in (same, valid):
        assert _check(case, load("flax-nnx").run(case, *make_inputs(case))) == "shape_mismatch"


def test_a_weight_with_other_input_channels_is_refused(adapter):
    case = Case(input_size=(5,), kernel=3, in_channels=2, out_channels=3, violates="weight_channels")
    x, w, bias = make_inputs(case)
    assert w.shape[0] == x.shape[1] + 1
    with pytest.raises(Exception) as raised:
        adapter.run(case, x, w, bias)
    assert not isinstance(raised.value, Unsupported)


def test_a_planted_wrong_kernel_flip_fails_the_check(monkeypatch):
    case = CASES[0]
    x, w, bias = make_inputs(case)
    adapter = load("flax-linen")
    assert _check(case, adapter.run(case, x, w, bias)) == "pass"
    unflipped = lambda w, transpose_kernel, xp=np: xp.transpose(w, flax_layers.kernel_axes(w.ndim - 2, False))  # noqa: E731
    monkeypatch.setattr(flax_layers, "layer_kernel", unflipped)
    assert _check(case, adapter.run(case, x, w, bias)) == "value_mismatch"
    flipped_twice = lambda w, transpose_kernel, xp=np: xp.flip(  # noqa: E731
        xp.transpose(w, flax_layers.kernel_axes(w.ndim - 2, True)), axis=(0, 1)
    )
    monkeypatch.setattr(flax_layers, "layer_kernel", flipped_twice)
    assert _check(case, load("flax-linen-transpose-kernel").run(case, x, w, bias)) == "value_mismatch"


def test_planted_forward_pads_instead_of_the_documented_pairs_fail_the_check(monkeypatch):
    case = CASES[0]
    monkeypatch.setattr(flax_layers, "flax_padding", lambda case: tuple(case.padding))
    assert _check(case, load("flax-nnx").run(case, *make_inputs(case))) == "shape_mismatch"


@pytest.mark.parametrize("case", CASES[:4], ids=lambda case: case.id)
def test_each_adapters_gradients_match_the_reference(adapter, case):
    case = Case.from_id(case.id + "-bwd")
    x, w, bias = make_inputs(case)
    found = adapter.run_backward(case, x, w, bias, make_upstream(case))
    expected = expected_gradients(case, x, w, bias, make_upstream(case))
    assert (found[2] is None) == (bias is None)
    for name, value, repro in zip(("dx", "dw", "db"), found, _run_repro(adapter, case, ("dx", "dw", "db"))):
        if value is None:
            continue
        reference, tolerance = expected[name]
        assert value.shape == reference.shape and value.dtype.name == case.dtype, name
        assert (np.abs(value - reference) <= tolerance).all(), name
        np.testing.assert_allclose(repro, value, rtol=1e-13, atol=1e-13)


def test_compiled_programs_are_kept_on_disk_and_loaded_without_compiling(tmp_path, monkeypatch):
    monkeypatch.setattr(jax_lax, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(jax_lax, "_LOADED", {})
    case = Case(input_size=(7, 3), kernel=3, stride=2, padding=1, in_channels=2, out_channels=3, bias=True)
    adapter = load("flax-nnx")
    first = adapter.run(case, *make_inputs(case))
    assert len(list((tmp_path / "executables").glob("flax-*.pickle"))) == 1
    jax_lax._LOADED.clear()  # as a new process: only the file remains

    def no_compiling(api, backward):
        raise AssertionError("compiled again instead of loading the stored program")

    monkeypatch.setattr(flax_layers, "_compiled", no_compiling)
    np.testing.assert_array_equal(adapter.run(case, *make_inputs(case)), first)
