"""Framework modes: their documented meanings, hand-checked, and their tokens."""

from __future__ import annotations

import pytest

from conformance import modes
from conformance.case import Case


@pytest.mark.parametrize(
    ("token", "n", "k", "s", "padding", "output_padding"),
    [
        ("keras_same", 5, 3, 2, (0, 1), 0),  # length n*s = 10 of full 11: the odd crop at the end
        ("keras_same", 5, 2, 3, (0, 0), 1),  # stride beyond the kernel: 15 of full 14, one zero appended
        ("keras_valid", 5, 2, 3, (0, 0), 1),  # n*s + max(k - s, 0)
        ("keras_valid_op0", 5, 2, 3, (0, 0), 0),  # output_padding=0 is not None: (n-1)*s + k
        ("keras_same_op1", 5, 4, 2, (1, 2), 0),  # (n-1)*s + k - 2*(k//2) + 1 = 9 of 12
        ("tf_same_o9", 5, 4, 2, (1, 2), 0),
        ("tf_valid_o13", 5, 4, 2, (0, 0), 1),
        ("jax_same", 5, 4, 2, (1, 1), 0),
        ("jax_valid", 5, 1, 3, (0, 0), 2),
        ("onnx_same_upper", 5, 4, 1, (1, 2), 0),  # total 3: begin total/2
        ("onnx_same_lower", 5, 4, 1, (2, 1), 0),  # begin total - total/2
        ("onnx_notset_o9", 5, 4, 2, (2, 1), 0),
        ("onnx_same_upper_o9_op1", 5, 4, 2, (2, 1), 0),  # total 4 with the output_padding counted: (2, 2) + 1
        ("onnx_valid_op1", 5, 4, 2, (0, 0), 1),
        ("nnx_same", 5, 4, 2, (3, 4), 0),  # the input's length, 5 of full 12 (not lax's n*s = 10)
        ("nnx_valid", 5, 1, 3, (0, 0), 0),  # the full output, 13 (not lax's n*s = 15)
    ],
)
def test_documented_meanings(token, n, k, s, padding, output_padding):
    case = Case(input_size=(n,), kernel=k, stride=s, mode=token)
    assert case.padding == (padding,) and case.output_padding == (output_padding,)
    assert Case.from_id(case.id) == case and case.id.endswith(f"-m{token}")


def test_rules_the_frameworks_state_are_enforced():
    with pytest.raises(ValueError, match="accepts output lengths 9..10"):
        Case(input_size=(5,), kernel=4, stride=2, mode="tf_same_o8")
    with pytest.raises(ValueError, match="needs an output size"):
        Case(input_size=(5,), kernel=4, mode="tf_same")
    with pytest.raises(ValueError, match="has no output_padding"):
        Case(input_size=(5,), kernel=4, mode="jax_same_op1")
    with pytest.raises(ValueError, match="one per spatial axis"):
        Case(input_size=(5, 5), kernel=4, mode="keras_same_op1")
    with pytest.raises(ValueError, match="leave them out"):
        Case(input_size=(5,), kernel=4, stride=2, padding=3, mode="keras_same")


def test_normal_form_keeps_one_of_end_crop_and_output_padding():
    assert modes.normal_form(((1, 2),), (1,)) == (((1, 1),), (0,))
    assert modes.normal_form(((1, 0),), (2,)) == (((1, 0),), (2,))


def test_explicit_pads_translate_to_a_keras_setting_only_where_one_means_them():
    found = modes.keras_equivalent(Case(input_size=(5,), kernel=4, stride=2, padding=((1, 2),)))
    assert found is not None and found.token == "keras_same_op1"
    assert modes.keras_equivalent(Case(input_size=(5,), kernel=4, stride=2, padding=((2, 1),))) is None
    one_zero_appended = Case(input_size=(5,), kernel=4, stride=2, output_padding=1)
    assert modes.tf_string_equivalent(one_zero_appended).token == "tf_valid_o13"
