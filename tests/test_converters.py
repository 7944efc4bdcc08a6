"""Round trips through converters: the stages a refusal is recorded at, what the converter wrote, the target
runtime's register entries, the report's placement; then each converter's own adapters, which skip (saying
why) where the converter is not installed and run in its own tox env.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adapters
from adapters import load
from conformance.case import Case, make_inputs
from conformance.compare import compare
from conformance.divergences import load_register
from conformance.records import read_results
from conformance.runner import expected
from reports.results import Run, _place

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = "tests.plugin_adapters"


def _run(tmp_path, *args):
    results = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--results", str(results), "--profile", "smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return completed, {path.stem: read_results(path) for path in results.glob("*.jsonl")}


def test_a_round_trip_records_its_path_and_what_the_converter_wrote(tmp_path):
    completed, files = _run(tmp_path, "--adapter", f"{PLUGINS}:RoundTripCorrect", "-k", "1d")
    assert completed.returncode == 0, completed.stdout[-2000:]
    envelope, records = files["vendor-round-trip"]
    assert envelope["conversion"] == {
        "source": "vendor-framework",
        "converter": "vendor-converter",
        "target": "vendor-runtime",
    }
    computed = [r for r in records if not r["case"]["violates"]]
    assert computed and {r["outcome"] for r in computed} == {"pass"}
    assert all(r["metrics"]["converted"]["ops"] == ["ConvTranspose"] for r in computed)
    assert "converting..." not in completed.stdout + completed.stderr  # the converter's chatter is kept out


def test_a_converter_that_drops_an_attribute_shows_as_a_mismatch_with_what_it_wrote(tmp_path):
    completed, files = _run(tmp_path, "--adapter", f"{PLUGINS}:RoundTripDropsOutputPadding", "-k", "1d and not -x")
    assert completed.returncode == 1
    (_, records), = files.values()  # fmt: skip
    padded = [r for r in records if any(r["case"]["output_padding"])]
    # Short by the output_padding; where that leaves no output at all, the runtime refuses instead.
    assert "shape_mismatch" in {r["raw_outcome"] for r in padded}
    assert {r["raw_outcome"] for r in padded} <= {"shape_mismatch", "rejected"}
    assert all(r["metrics"]["converted"]["output_padding"] == [0] for r in padded)
    assert {r["raw_outcome"] for r in records if not any(r["case"]["output_padding"])} == {"pass"}


@pytest.mark.parametrize(
    ("adapter", "stage", "refused", "converted"),
    [
        ("RoundTripUnloadable", "load", lambda case: case["groups"] > 1, True),
        ("RoundTripRefused", "conversion", lambda case: max(case["dilation"]) > 1, False),
    ],
)
def test_each_stage_of_a_round_trip_refuses_in_its_own_name(tmp_path, adapter, stage, refused, converted):
    completed, files = _run(tmp_path, "--adapter", f"{PLUGINS}:{adapter}", "-k", "not -x")
    assert completed.returncode == 1
    (_, records), = files.values()  # fmt: skip
    rejected = [r for r in records if r["raw_outcome"] == "rejected"]
    assert rejected and all(refused(r["case"]) for r in rejected)
    assert {r["metrics"]["stage"] for r in rejected} == {stage}
    assert all(("converted" in r["metrics"]) == converted for r in rejected)
    assert {r["raw_outcome"] for r in records if not refused(r["case"])} == {"pass"}


def _target_register(tmp_path) -> Path:
    register = tmp_path / "register"
    register.mkdir()
    (register / "vendor-runtime.toml").write_text(
        '[[divergence]]\nid = "vendor-runtime-no-groups"\nkind = "xfail"\noutcomes = ["rejected"]\n'
        'message = "INVALID_GRAPH"\nreason = "the runtime has no grouped kernel"\nlinks = []\n'
        'upstream = "no upstream report found"\n[divergence.select]\ngrouped = true\n\n'
        '[[divergence]]\nid = "vendor-runtime-other-bug"\nkind = "xfail"\noutcomes = ["value_mismatch"]\n'
        'reason = "a bug no converted model reaches"\nlinks = []\nupstream = "no upstream report found"\n'
        "[divergence.select]\nbatch = 99\n"
    )
    return register


def test_a_round_trip_is_given_its_target_runtimes_entries_not_strict_and_not_required(tmp_path):
    register = _target_register(tmp_path)
    completed, files = _run(tmp_path, "--adapter", f"{PLUGINS}:RoundTripUnloadable", "-k", "not -x",
                            "--register", str(register))  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-2000:]  # the unmatched runtime entry is not required
    (_, records), = files.values()  # fmt: skip
    grouped = [r for r in records if r["case"]["groups"] > 1]
    assert grouped and {r["outcome"] for r in grouped} == {"xfail"}
    assert {r["divergence"]["id"] for r in grouped} == {"vendor-runtime-no-groups"}
    assert all(r["divergence"]["strict"] is False for r in grouped)
    # The same entries, for the runtime's own adapter: strict, and required to match.
    entries = load_register("vendor-runtime", [register]).entries
    assert all(entry.strict and not entry.inherited_from for entry in entries)


@pytest.mark.parametrize(
    ("adapter", "framework", "inherits", "inherited"),
    [
        ("vendor-round-trip", "vendor-converter", ["vendor-runtime"], {"vendor-runtime-no-groups", "vendor-runtime-other-bug"}),  # noqa: E501
        ("vendor-round-trip", "vendor-converter", ["vendor-source", "vendor-runtime"], {"vendor-runtime-no-groups", "vendor-runtime-other-bug"}),  # noqa: E501
        ("vendor-round-trip", "vendor-converter", [], set()),
        ("vendor-runtime", "vendor-runtime", ["vendor-runtime"], set()),  # a runtime is not its own round trip
    ],
)  # fmt: skip
def test_which_entries_a_round_trip_inherits(tmp_path, adapter, framework, inherits, inherited):
    entries = load_register(adapter, [_target_register(tmp_path)], framework=framework, inherits=inherits).entries
    assert {entry.id for entry in entries if entry.inherited_from} == inherited


def test_the_report_places_round_trips_after_their_source_frameworks_paths():
    def run(adapter, framework, source=None):
        conversion = {"source": source, "converter": "c", "target": "t"} if source else None
        envelope = {"adapter": adapter, "framework": framework, "conversion": conversion}
        return Run(Path(f"{adapter}.jsonl"), envelope, [], None)

    runs = [
        run("torch-onnx-dynamo", "torch-onnx", "torch"),
        run("onnxruntime", "onnxruntime"),
        run("torch", "torch"),
        run("onnx2torch", "onnx2torch", "onnxruntime"),
        run("torch-module", "torch"),
        run("tf2onnx-keras", "tf2onnx", "keras"),
        run("keras-jax", "keras"),
    ]
    assert [r.adapter for r in sorted(runs, key=_place)] == [
        "keras-jax",
        "tf2onnx-keras",
        "onnxruntime",
        "onnx2torch",
        "torch",
        "torch-module",
        "torch-onnx-dynamo",
    ]
    assert Run(Path("x"), {"adapter": "x", "conversion": {"source": "torch", "converter": "c", "target": "t"}},
               [], None).round_trip == "torch → c → t"  # fmt: skip


def test_every_converter_adapter_declares_its_round_trip_and_a_framework_of_its_own():
    converters = {name: path for name, path in adapters.BUILTIN.items() if path.startswith("adapters.converters.")}
    assert converters
    for name, path in converters.items():
        module, _, attribute = path.partition(":")
        adapter = getattr(__import__(module, fromlist=[attribute]), attribute)
        assert adapter.conversion is not None, name
        assert adapter.framework not in (adapter.conversion.source, adapter.conversion.target), name


# --- each converter, where it is installed --------------------------------------------------------------

GROUPED = dict(batch=2, in_channels=4, out_channels=6, groups=2, bias=True, dtype="float32")
TORCH_CASES = [
    Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), padding=1, output_padding=(1, 0), **GROUPED),
    Case(input_size=(3, 2, 2), kernel=2, stride=2, dilation=(1, 2, 1), output_padding=(1, 0, 1), **GROUPED),
    Case(input_size=(6,), kernel=4, stride=3, padding=1, output_padding=2, **GROUPED),
    Case(input_size=(6,), kernel=4, stride=3, padding=1, output_padding=2, mode="torch_output_size", **GROUPED),
]


def _round_trip(name: str, case: Case):
    adapter = load(name)
    reason = adapters.availability(adapter)
    if reason:
        pytest.skip(f"{name}: {reason}")
    x, w, bias = make_inputs(case)
    answer = adapter.run(case, x, w, bias)
    reference, tolerance = expected(case)
    return compare(case, reference, tolerance, answer.output), answer.converted


@pytest.mark.parametrize("name", ["torch-onnx-dynamo", "torch-onnx-torchscript"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda case: case.id)
def test_torch_onnx_round_trips_match_the_reference_and_record_the_exported_node(name, case):
    pytest.importorskip("torch", reason="torch is not installed here (tox -e torch-onnx runs this)")
    result, converted = _round_trip(name, case)
    assert result.outcome == "pass", result.metrics
    (node,) = converted["ConvTranspose"]
    assert node["group"] == case.groups and node["strides"] == list(case.stride)
    assert node["pads"] == [begin for begin, _ in case.padding] + [end for _, end in case.padding]
    assert node.get("output_padding", [0] * case.rank) == list(case.output_padding)


ONNX_CASES = [
    Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), padding=1, output_padding=(1, 0), **GROUPED),
    Case(input_size=(6,), kernel=4, stride=3, padding=((2, 1),), **GROUPED),  # asymmetric
    Case.from_id("1d-n1-ci2-co3-i1-g1-k2-s3-p1.0-op0-d1-b-f32-monnx_valid_o1"),  # output_shape 1 of a full 2
]


@pytest.mark.parametrize("name", ["onnx2torch-opset11"])
def test_onnx2torch_computes_symmetric_pads_and_records_the_module_it_made(name):
    case = ONNX_CASES[0]
    result, converted = _round_trip(name, case)
    assert result.outcome == "pass", result.metrics
    assert converted["ConvTranspose2d"] == {
        "padding": [1, 1], "output_padding": [1, 0], "stride": [2, 1], "dilation": [1, 1], "groups": 2,
        "weight_dtype": "torch.float32",
    }  # fmt: skip


def test_onnx2torch_ignores_output_shape_and_the_record_shows_it():
    case = ONNX_CASES[2]  # VALID with output_shape 1, where the full output is 2 long
    assert case.output_shape[-1] == 1 and case.geometry.full_size[-1] == 2
    result, converted = _round_trip("onnx2torch-opset11", case)
    assert result.outcome == "shape_mismatch" and result.metrics["actual_shape"][-1] == 2
    assert converted["ConvTranspose1d"]["padding"] == [0]


@pytest.mark.parametrize("name", ["tf2onnx-tf-nn", "tf2onnx-keras", "keras-onnx-tensorflow"])
def test_tf2onnx_round_trips_compute_a_valid_case_and_record_the_node(name):
    pytest.importorskip("tf2onnx", reason="tf2onnx is not installed here (tox -e tf2onnx runs this)")
    case = Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), bias=True, batch=2, in_channels=3, out_channels=2,
                dtype="float32")  # fmt: skip
    result, converted = _round_trip(name, case)
    assert result.outcome == "pass", result.metrics
    (node,) = converted["ConvTranspose"]
    assert node["strides"] == [2, 1] and node["kernel_shape"] == [3, 2]


@pytest.mark.parametrize("name", ["keras-onnx-jax", "keras-onnx-torch"])
def test_keras_onnx_exports_on_jax_and_torch_compute_a_valid_case(name):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed here (tox -e keras-onnx-* runs this)")
    backend = name.rsplit("-", 1)[1]
    if adapters.availability(load(name)):
        pytest.skip(f"Keras's {backend} backend or its exporter is not installed here")
    case = Case(input_size=(5, 3), kernel=3, stride=2, output_padding=(1, 0), bias=True, dtype="float32")
    result, converted = _round_trip(name, case)
    assert result.outcome == "pass", result.metrics
    assert converted["ops"]


def test_tflite_round_trips_compute_in_float32_and_keep_float32_io_for_float16_weights():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed here (tox -e litert runs this)")
    case = Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), bias=True, batch=2, in_channels=3, out_channels=2,
                dtype="float32")  # fmt: skip
    result, converted = _round_trip("tflite-keras", case)
    assert result.outcome == "pass", result.metrics
    assert "TRANSPOSE_CONV" in converted["ops"] and converted["output_dtype"] == "float32"
    half = Case(input_size=(5, 4), kernel=(3, 2), stride=(2, 1), bias=True, batch=2, in_channels=3, out_channels=2,
                dtype="float16")  # fmt: skip
    adapter = load("tflite-keras-float16")
    answer = adapter.run(half, *make_inputs(half))
    assert answer.output.dtype == np.float32 and "DEQUANTIZE" in answer.converted["ops"]


@pytest.mark.parametrize("name", ["onnx2tf-saved-model", "onnx2tf-tflite"])
def test_onnx2tf_round_trips_compute_a_three_channel_image_case_offline(name, monkeypatch):
    pytest.importorskip("onnx2tf", reason="onnx2tf is not installed here (tox -e onnx2tf runs this)")
    import requests

    from adapters.converters import onnx2tf_convert

    def no_network(*args, **kwargs):
        raise AssertionError(f"onnx2tf reached for the network: {args}")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(onnx2tf_convert, "CACHE", str(Path(pytest.importorskip("tempfile").mkdtemp())))
    # A 4-D input of 3 channels and batch <= 20: where onnx2tf wants its sample images.
    case = Case(input_size=(4, 5), kernel=3, stride=2, bias=True, batch=2, in_channels=3, out_channels=2,
                dtype="float32")  # fmt: skip
    result, converted = _round_trip(name, case)
    assert result.outcome == "pass", result.metrics
    assert converted


def test_the_site_orders_its_columns_as_the_report_does():
    from reports.site import versions_by_adapter

    def run(adapter, framework, source=None):
        conversion = {"source": source, "converter": "c", "target": "t"} if source else None
        return {"adapter": adapter, "framework": framework, "conversion": conversion, "profile": "smoke",
                "version_text": "v"}  # fmt: skip

    data = {"sets": [{"name": "s", "runs": [run("torch-onnx-dynamo", "torch-onnx", "torch"), run("onnx2tf-tflite",
            "onnx2tf", "onnx"), run("torch", "torch"), run("onnxruntime", "onnxruntime"), {"adapter": "old-run",
            "profile": "smoke", "version_text": "v"}]}]}  # fmt: skip
    assert list(versions_by_adapter(data)) == ["old-run", "onnx2tf-tflite", "onnxruntime", "torch", "torch-onnx-dynamo"]


def _pins(path: Path) -> dict[str, str]:
    """A constraints file's pins, following its ``-c`` lines; names normalized as pip does."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-c"):
            pins.update(_pins(path.parent / line[2:].strip()))
        elif "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_the_readme_lists_every_converter_adapter_with_the_versions_its_env_pins():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| adapter | source → converter → target | tox env | converter and runtime versions |")[1]
    rows = [line for line in table.split("\n\n")[0].splitlines()[2:]]
    listed = {}
    for row in rows:
        names, _, env, versions = (cell.strip() for cell in row.strip("|").split("|"))
        for name in names.replace("`", "").split(", "):
            listed[name] = (env.strip("`"), versions)
    converters = {name for name, path in adapters.BUILTIN.items() if path.startswith("adapters.converters.")}
    assert set(listed) == converters
    for name, (env, versions) in listed.items():
        pins = _pins(ROOT / f"constraints-{env}.txt")
        for package_version in versions.split(", "):
            package, version = package_version.rsplit(" ", 1)
            assert pins.get(package.lower().replace("_", "-")) == version, (name, env, package_version)


REPRO_CASES = {
    "float32": "2d-n1-ci2-co3-i4x4-g1-k3x3-s2x2-p0.0x0.0-op0x0-d1x1-b-f32",
    "float16": "2d-n1-ci2-co3-i4x4-g1-k3x3-s2x2-p0.0x0.0-op0x0-d1x1-b-f16",
}


@pytest.mark.parametrize(
    "name", sorted(name for name, path in adapters.BUILTIN.items() if path.startswith("adapters.converters."))
)
def test_round_trip_repros_reproduce_the_adapters_output(name, tmp_path):
    adapter = load(name)
    if adapters.availability(adapter):
        pytest.skip(f"{name}: {adapters.availability(adapter)}")
    dtype = adapter.capabilities.dtypes[0] if "float32" not in adapter.capabilities.dtypes else "float32"
    case = Case.from_id(REPRO_CASES[dtype])
    script = adapter.repro(case) + "\nimport numpy\nnumpy.save('y.npy', numpy.asarray(y, dtype=numpy.float64))\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    try:
        answer = adapter.run(case, *make_inputs(case))
    except Exception as refusal:  # a refusal is reproduced as the same error
        assert done.returncode != 0 and type(refusal).__name__ in done.stderr, done.stderr[-2000:]
        return
    assert done.returncode == 0, done.stderr[-2000:]
    assert np.array_equal(np.load(tmp_path / "y.npy"), np.asarray(answer.output, dtype=np.float64))
