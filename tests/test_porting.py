"""Porting: each framework's spellings of one layer, hand-computed, and the cases that prove them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.capabilities import limits
from conformance import modes, porting
from conformance.__main__ import main
from conformance.records import read_result_file

ROOT = Path(__file__).resolve().parent.parent


def check(source, params, geometry, target, meaning, expected):
    """The central check: the source's meaning (output length, begin and end crops, appended zeros per
    axis) and the target's spellings, both as computed by hand."""
    found = porting.translate(source, params, geometry, target)
    described = found["source"]["meaning"]
    assert {key: described[key] for key in meaning} == meaning
    # The reference's output-length rule: full - begin - end + appended.
    lengths = [f - b - e + a for f, b, e, a in zip(*(described[k] for k in ("full_size", "begin", "end", "appended")))]
    assert lengths == described["output_size"]
    if isinstance(expected, str):  # the target cannot express it, and says why
        assert found["spellings"] == [] and expected in found["cannot"]
    else:
        assert [spelling["text"] for spelling in found["spellings"]] == expected
        assert found["cannot"] is None


# keras 'same', kernel 4, stride 2, 16 long: n*s = 32 of the full (16-1)*2 + 4 = 34, the even crop of 2 split.
KERAS_SAME_K4 = ("keras", {"padding": "same"}, {"input_size": 16, "kernel": 4, "stride": 2})
K4_MEANING = {"output_size": [32], "full_size": [34], "begin": [1], "end": [1], "appended": [0]}
# keras 'same', odd kernel 3, stride 2, 5 long: 10 of the full 11, the odd crop at the end.
KERAS_SAME_K3 = ("keras", {"padding": "same"}, {"input_size": 5, "kernel": 3, "stride": 2})
K3_MEANING = {"output_size": [10], "full_size": [11], "begin": [0], "end": [1], "appended": [0]}


@pytest.mark.parametrize(
    ("source", "params", "geometry", "target", "meaning", "expected"),
    [
        (*KERAS_SAME_K4, "torch", K4_MEANING, ["padding=1, output_padding=0"]),
        (
            *KERAS_SAME_K4,
            "onnx",
            K4_MEANING,
            [
                'auto_pad="SAME_UPPER"',
                'auto_pad="SAME_LOWER"',  # the crop (2) is even: lower and upper split it alike
                "pads=[1, 1], output_padding=[0]",
                'auto_pad="SAME_UPPER", output_padding=[1]',  # total 3 with it: (1, 2) + 1 appended = (1, 1)
                'auto_pad="SAME_UPPER", output_shape=[32]',
                'auto_pad="SAME_LOWER", output_shape=[32]',
                'auto_pad="VALID", output_shape=[32]',  # the spec's "otherwise" split: begin 2 - 2 // 2
                'auto_pad="NOTSET", output_shape=[32]',
                'auto_pad="SAME_UPPER", output_padding=[1], output_shape=[32]',
            ],
        ),
        (*KERAS_SAME_K4, "tf", K4_MEANING, ['padding="SAME", output_shape=[N, 32, C_out]']),
        (
            *KERAS_SAME_K4,
            "jax",
            K4_MEANING,
            [
                'padding="SAME"',  # the forward conv of an input n*s = 32 long
                "padding=[(1, 1)], use_consistent_padding=True",  # the forward conv's pads
                "padding=[(2, 2)], use_consistent_padding=False",  # the dilated input's: ke - 1 - 1
            ],
        ),
        # Odd kernel: the odd crop at the end, which torch's one padding cannot do, nor ONNX's SAME_LOWER.
        (*KERAS_SAME_K3, "torch", K3_MEANING, "torch cannot express begin 0, end 1"),
        (
            *KERAS_SAME_K3,
            "onnx",
            K3_MEANING,
            ['auto_pad="SAME_UPPER"', "pads=[0, 1], output_padding=[0]", 'auto_pad="SAME_UPPER", output_shape=[10]'],
        ),
        (
            *KERAS_SAME_K3,
            "jax",
            K3_MEANING,
            [
                'padding="SAME"',
                *[f"padding=[({b}, 1)], use_consistent_padding={c}" for b, c in ((0, True), (2, False))],
            ],
        ),
        # Stride 1: 'same' keeps the length, 5 of the full 7.
        (
            "keras",
            {"padding": "same"},
            {"input_size": 5, "kernel": 3, "stride": 1},
            "torch",
            {"output_size": [5], "begin": [1], "end": [1], "appended": [0]},
            ["padding=1, output_padding=0"],
        ),
        # Dilation 2: kernel 3 reaches 5; torch padding=2 crops 2 each end of the full 9 -> 5, keras 'same'.
        (
            "torch",
            {"padding": "2"},
            {"input_size": 5, "kernel": 3, "stride": 1, "dilation": 2},
            "keras",
            {"output_size": [5], "full_size": [9], "begin": [2], "end": [2], "appended": [0]},
            # output_padding 0 is not None in Keras: (n-1)*s + ke - 2*(ke//2) + 0 = 4 + 5 - 4, also 5.
            ['padding="same", output_padding=None', 'padding="same", output_padding=0'],
        ),
        # torch's output_padding below the begin crop: padding 2, output_padding 1 crops (2, 1) of the full 20.
        (
            "torch",
            {"padding": "2", "output_padding": "1"},
            {"input_size": 6, "kernel": 5, "stride": 3},
            "onnx",
            {"output_size": [17], "full_size": [20], "begin": [2], "end": [1], "appended": [0]},
            [
                "pads=[2, 1], output_padding=[0]",
                "pads=[2, 2], output_padding=[1]",  # torch's own spelling, in ONNX
                # output_shape 17: total = 20 + op - 17, UPPER begins at total // 2, the others at total - total // 2.
                'auto_pad="SAME_LOWER", output_shape=[17]',
                'auto_pad="VALID", output_shape=[17]',
                'auto_pad="NOTSET", output_shape=[17]',
                'auto_pad="SAME_UPPER", output_padding=[1], output_shape=[17]',  # total 4: (2, 2) + 1
                'auto_pad="SAME_UPPER", output_padding=[2], output_shape=[17]',  # total 5: (2, 3) + 2
                'auto_pad="SAME_LOWER", output_padding=[1], output_shape=[17]',
                'auto_pad="VALID", output_padding=[1], output_shape=[17]',
                'auto_pad="NOTSET", output_padding=[1], output_shape=[17]',
            ],
        ),
        # Keras output_padding: 'valid' with 1 is the full 12 and one zero appended; jax has no
        # output_padding, so its end pad goes below zero.
        (
            "keras",
            {"padding": "valid", "output_padding": "1"},
            {"input_size": 5, "kernel": 4, "stride": 2},
            "jax",
            {"output_size": [13], "full_size": [12], "begin": [0], "end": [0], "appended": [1]},
            ["padding=[(0, -1)], use_consistent_padding=True", "padding=[(3, 4)], use_consistent_padding=False"],
        ),
        (
            "keras",
            {"padding": "valid", "output_padding": "1"},
            {"input_size": 5, "kernel": 4, "stride": 2},
            "torch",
            {"output_size": [13], "appended": [1]},
            ["padding=0, output_padding=1"],
        ),
        # 2-D, anisotropic: axis 0 is 10 of 11 (0, 1), axis 1 (kernel 4, stride 1) 6 of 9 (1, 2).
        (
            "keras",
            {"padding": "same"},
            {"input_size": (5, 6), "kernel": (3, 4), "stride": (2, 1)},
            "tf",
            {"output_size": [10, 6], "full_size": [11, 9], "begin": [0, 1], "end": [1, 2], "appended": [0, 0]},
            [
                'padding="SAME", output_shape=[N, 10, 6, C_out]',
                "padding=[[0, 0], [0, 1], [1, 2], [0, 0]], output_shape=[N, 10, 6, C_out]",  # conv2d_transpose only
            ],
        ),
        (
            "keras",
            {"padding": "same"},
            {"input_size": (5, 6), "kernel": (3, 4), "stride": (2, 1)},
            "torch",
            {"begin": [0, 1], "end": [1, 2]},
            "torch cannot express axis 0: begin 0, end 1; axis 1: begin 1, end 2",
        ),
        # An asymmetric ONNX crop that Keras has no setting for.
        (
            "onnx",
            {"padding": "2.0"},
            {"input_size": 5, "kernel": 4, "stride": 2},
            "keras",
            {"output_size": [10], "begin": [2], "end": [0]},
            "none of its padding modes (keras) means pads ((2, 0),)",
        ),
        # jax's legacy pairs read back: (2, 2) of the dilated input is the forward conv's (1, 1).
        (
            "jax",
            {"padding": "2.2", "use_consistent_padding": False},
            {"input_size": 16, "kernel": 4, "stride": 2},
            "torch",
            K4_MEANING,
            ["padding=1, output_padding=0"],
        ),
    ],
)
def test_translations(source, params, geometry, target, meaning, expected):
    check(source, params, geometry, target, meaning, expected)


def test_a_wrong_rule_is_caught(monkeypatch):
    """A planted fault: ONNX's SAME_UPPER and SAME_LOWER splits swapped. The central check must fail."""
    right = modes._onnx

    def swapped(mode, n, ke, s, op, length):
        flipped = {"same_upper": "same_lower", "same_lower": "same_upper"}.get(mode.padding, mode.padding)
        return right(modes.Mode(mode.framework, flipped, mode.output_size, mode.output_padding), n, ke, s, op, length)

    monkeypatch.setattr(modes, "_onnx", swapped)
    porting._axis_meaning.cache_clear()
    porting._case.cache_clear()
    try:
        with pytest.raises(AssertionError):
            check(
                *KERAS_SAME_K3,
                "onnx",
                K3_MEANING,
                [
                    'auto_pad="SAME_UPPER"',
                    "pads=[0, 1], output_padding=[0]",
                    'auto_pad="SAME_UPPER", output_shape=[10]',
                ],
            )
    finally:
        porting._axis_meaning.cache_clear()
        porting._case.cache_clear()


def test_spellings_the_frameworks_refuse():
    point = porting.geometry_point({"input_size": 16, "kernel": 4, "stride": 2})
    refused = [
        ("keras", {"padding": "causal"}, "keras has no padding 'causal'"),
        ("torch", {"padding": "same"}, "torch has no padding words"),
        ("torch", {"padding": "1.2"}, "not begin.end pairs"),
        ("torch", {"padding": "1", "output_padding": "2"}, "output_padding must be smaller than stride or dilation"),
        ("keras", {"padding": "same", "output_padding": "2"}, "is not below 2"),
        ("tf", {"padding": "SAME"}, "needs the output size"),
        ("tf", {"padding": "SAME", "output_size": "40"}, "accepts output lengths 31..32"),
        ("tf", {"padding": "1.1"}, "no explicit pads in 1-D"),
        ("jax", {"padding": "same_lower"}, "jax has no padding 'same_lower'"),
        ("jax", {"padding": "1.1"}, "say which"),
        ("onnx", {"padding": "-1.0"}, "takes no negative pads"),
    ]
    for framework, params, message in refused:
        with pytest.raises(ValueError, match=message):
            case = porting.source_case(framework, params, point)
            porting.source_spelling(framework, case)


def test_cli_translates_and_points_at_a_profile_case(capsys):
    code = main(["translate", "--from", "keras", "--padding", "same", "--kernel", "3", "--stride", "2", "--input", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith('keras: keras.layers.Conv1DTranspose(padding="same", output_padding=None)\n')
    assert "means: output length 10 of the full 11: crop 0 at the begin, 1 at the end" in out
    assert "torch cannot express begin 0, end 1" in out
    # The default profile's mode grid holds n=5, k=3, s=2 with its plain variant (2 in, 3 out, float32).
    proving = "1d-n1-ci2-co3-i5-g1-k3-s2-p0.1-op0-d1-b-f32-mjax_same"
    assert f"to prove it: python -m conformance run --adapter jax --case {proving}\n" in out
    # Its explicit twin asks jax's pairs there too; the legacy reading of the pairs no profile asks here.
    assert "--adapter jax --case 1d-n1-ci2-co3-i5-g1-k3-s2-p0.1-op0-d1-b-f32\n" in out
    assert (
        "(no case of the smoke or default profile asks it here): python -m conformance run --adapter jax --case " in out
    )
    assert "\ntf: tf.nn.conv1d_transpose\n" in out and '\n  padding="SAME", output_shape=[N, 10, C_out]\n' in out


def test_cli_with_results(capsys, smoke_records_dir):
    code = main(
        ["translate", "--from", "torch", "--padding", "1", "--kernel", "3", "--input", "5", "--to", "keras"]
        + ["--to", "onnx", "--results", str(smoke_records_dir)]
    )
    out = capsys.readouterr().out
    assert code == 0
    # torch padding=1 itself: the explicit twin of the modes' 'same' at this point.
    assert "  proved by torch: 1d-n1-ci2-co3-i5-g1-k3-s1-p1.1-op0-d1-b-f32\n" in out
    assert "    proved by keras-jax: 1d-n1-ci2-co3-i5-g1-k3-s1-p1.1-op0-d1-b-f32-mkeras_same\n" in out
    assert "    proved by onnx-reference: 1d-n1-ci2-co3-i5-g1-k3-s1-p1.1-op0-d1-b-f32-monnx_same_upper\n" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "caffe", "--padding", "same"], "unknown framework 'caffe'"),
        (["--from", "keras", "--padding", "full"], "keras has no padding 'full'"),
        (["--from", "keras", "--padding", "same", "--to", "mxnet"], "unknown framework 'mxnet'"),
        (["--from", "torch", "--padding", "1", "--output-padding", "2"], "output_padding must be smaller"),
        (["--from", "keras", "--padding", "same", "--stride", "0"], "must be at least 1"),
        (["--from", "keras", "--padding", "same", "--stride", "2x2"], "one per spatial axis"),
        (["--from", "keras", "--padding", "same", "--stride", "two"], "must be an int"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(capsys, arguments, message):
    code = main(["translate", "--kernel", "4", "--input", "16", *arguments])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_cli_in_a_process():
    ran = subprocess.run(
        [sys.executable, "-m", "conformance", "translate", "--from", "onnx", "--padding", "same_lower", "--kernel", "4"]
        + ["--stride", "2", "--input", "16", "--to", "torch"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ran.returncode == 0, ran.stderr
    assert "\ntorch: torch.nn.functional.conv_transpose1d\n  padding=1, output_padding=0\n" in ran.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "conformance", "translate", "--from", "torch", "--padding", "same", "--kernel", "4"]
        + ["--input", "16"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    said = "python -m conformance translate: error: torch has no padding words ('same'): give one padding per axis"
    assert refused.stderr == said + " (an int)\n"


@pytest.fixture(scope="module")
def smoke_records_dir(tmp_path_factory) -> Path:
    """Records of torch, ONNX's reference and Keras on JAX at the smoke grid's point n=5, k=3, s=1: each
    adapter given the cases the runner gives it (its capability table and modes) and refusing what its table
    cannot express; every other case passes but onnx-reference's NOTSET and VALID with an output_shape below
    the full output, which it refuses and its register explains (the real adapters' outcomes there, checked
    on a real run). Written without the frameworks, so that the tests env (which has none) runs these tests."""
    import adapters
    from conformance.grid import profile
    from conformance.runner import given_to
    from tests.synthetic_results import write_run

    results = tmp_path_factory.mktemp("porting-results")
    point = [c for c in profile("smoke") if "i5-g1-k3-s1-p" in c.id and c.direction == "forward" and not c.violates]
    for name in ("torch", "onnx-reference", "keras-jax"):
        adapter = adapters.load(name)
        table, asked = adapters.capabilities(adapter), adapters.modes(adapter)
        given = [c for c in point if given_to(c, table, asked, False)]
        refused = {c.id: "unsupported" for c in given if limits(table, asked, c)}
        shorter = [c for c in given if c.mode_spec.output_size and c.mode_spec.output_size < c.geometry.full_size]
        if name == "onnx-reference":
            refused |= {c.id: "xfail" for c in shorter if c.mode_spec.padding in ("notset", "valid")}
        write_run(results, name, given, outcomes=refused, mix=(("pass", 1.0),))
    return results


def test_porting_table_on_real_records(smoke_records_dir):
    records = [r for path in sorted(smoke_records_dir.glob("*.jsonl")) for r in read_result_file(path).records]
    table = porting.porting_table(records)
    assert [point["geometry"] for point in table] == [
        {"input_size": [5], "kernel": [3], "stride": [1], "dilation": [1]}
    ]
    rows = {tuple(row["meaning"]["begin"] + row["meaning"]["end"]): row["frameworks"] for row in table[0]["meanings"]}
    # The meanings the records spell there: no crop, 'same' (1, 1), ONNX's output_shape 6 split either way, and
    # the crops of ONNX's and jax's other spellings there, which their explicit twins ask of torch and ONNX's pads.
    assert sorted(rows) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (3, 0)]

    def entry(meaning, framework, text):
        return next(e for e in rows[meaning][framework]["spellings"] if e["text"] == text)

    zero = entry((0, 0), "torch", "padding=0, output_padding=0")
    assert zero["status"] == "backed" and zero["backed_by"] == [
        {"adapter": "torch", "case_id": "1d-n1-ci2-co3-i5-g1-k3-s1-p0.0-op0-d1-b-f32"}
    ]
    same = entry((1, 1), "torch", "padding=1, output_padding=0")  # keras 'same' in torch: its explicit twin
    assert same["status"] == "backed" and same["backed_by"] == [
        {"adapter": "torch", "case_id": "1d-n1-ci2-co3-i5-g1-k3-s1-p1.1-op0-d1-b-f32"}
    ]
    jax_same = entry((1, 1), "jax", 'padding="SAME"')  # jax did not run here
    assert jax_same["status"] == "not run here" and jax_same["backed_by"] == []
    assert jax_same["would_prove"] == [
        {"case_id": "1d-n1-ci2-co3-i5-g1-k3-s1-p1.1-op0-d1-b-f32-mjax_same", "adapters": ["jax"]}
    ]
    upper = entry((1, 1), "onnx", 'auto_pad="SAME_UPPER"')
    assert upper["status"] == "backed" and upper["recorded"]
    assert entry((1, 1), "keras", 'padding="same", output_padding=None')["status"] == "backed"
    # ONNX's VALID with an output_shape splits the crop as NOTSET does; onnx-reference does otherwise (xfail).
    valid_o5 = entry((1, 1), "onnx", 'auto_pad="VALID", output_shape=[5]')
    assert valid_o5["status"] == "not passing" and valid_o5["not_passing"][0]["outcome"] == "xfail"
    assert "torch cannot express begin 0, end 1" in rows[(0, 1)]["torch"]["cannot"]
    assert porting.table_counts(table) == {"backed": 20, "not passing": 4, "not run here": 24, "cannot": 11}
    assert porting.porting_table(reversed(records)) == table  # the order of the records does not matter


def test_the_reports_quick_table_agrees_with_the_full_one_on_what_ran(smoke_records_dir):
    """The report's table (recorded spellings, and the adapters' own refusals as the reason a framework cannot
    express a meaning) says what the full table says, for the frameworks that ran: torch, ONNX, Keras."""
    records = [r for path in sorted(smoke_records_dir.glob("*.jsonl")) for r in read_result_file(path).records]
    full, quick = porting.porting_table(records), porting.porting_table(records, every_spelling=False)

    def cells(table, framework):
        return {
            (tuple(row["meaning"]["begin"] + row["meaning"]["end"]), framework): (
                sorted(e["text"] for e in row["frameworks"][framework]["spellings"] if e["status"] != "not run here"),
                row["frameworks"][framework]["cannot"] is not None,
            )
            for point in table
            for row in point["meanings"]
        }

    for framework in ("torch", "onnx", "keras"):
        assert cells(quick, framework) == cells(full, framework)
    assert any(cannot for _, cannot in cells(quick, "torch").values())  # torch refuses the asymmetric crops
