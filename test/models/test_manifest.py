"""The committed models agree with models/manifest.json, and bad files or entries are refused."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import onnx
import pytest

from wildcam.cascade.manifest import (
    OBJECTS_STAGE,
    Manifest,
    ModelEntry,
    OutputSpec,
    default_manifest_path,
)
from wildcam.cascade.objects import load_objects
from wildcam.cascade.onnx_models import RuntimeOptions, load_model
from wildcam.errors import ConfigError, ModelError

MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.json"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.load(MANIFEST)


def test_default_manifest_path_is_the_repository_one() -> None:
    assert default_manifest_path() == MANIFEST


def test_every_stage_has_a_default_and_every_file_matches_its_hash(manifest: Manifest) -> None:
    assert {manifest.default_for(s).stage for s in (0, 1, 2, 3)} == {0, 1, 2, 3}
    assert len(manifest.entries) == 8  # int8 + fp32 of the students and the large model,
    # the coarse look (int8) and stage 0
    for entry in manifest.entries.values():
        data = (manifest.directory / entry.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.model_id
        assert len(data) == entry.info["file_bytes"], entry.model_id


def test_graph_inputs_and_outputs_match_the_manifest(manifest: Manifest) -> None:
    """Checked on the ONNX graph itself (not through the loader that also checks them)."""
    for entry in manifest.entries.values():
        graph = onnx.load(str(manifest.directory / entry.file)).graph

        def dims(value: onnx.ValueInfoProto) -> tuple[int | str, ...]:
            return tuple(d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim)

        inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
        assert [i.name for i in inputs] == [entry.input.name]
        assert dims(inputs[0]) == entry.input.shape
        assert [(o.name, dims(o)) for o in graph.output] == [
            (o.name, o.shape) for o in entry.outputs
        ]


def test_bands_and_model_card_figures_are_present(manifest: Manifest) -> None:
    for entry in manifest.entries.values():
        assert 0.0 <= entry.c_low <= entry.c_high <= 1.0
        for key in ("params", "macs", "latency_ms", "metrics", "provenance", "licence"):
            assert key in entry.info, (entry.model_id, key)
    assert manifest.entry("tiny_int8").info["params"] <= 70_000
    assert manifest.entry("medium_int8").info["params"] <= 1_000_000
    card = (manifest.directory / "README.md").read_text()
    assert "zamba" in card and "MIT" in card


def test_stage_two_is_the_coarse_look_with_a_band_and_a_quarter_of_the_cost(
    manifest: Manifest,
) -> None:
    coarse, large = manifest.default_for(2), manifest.default_for(3)
    assert coarse.decoding == large.decoding == "yolox"
    assert coarse.input.size == (320, 320) and large.input.size == (640, 640)
    assert coarse.c_low < coarse.c_high < 1.0  # it decides both ways and escalates the rest
    assert coarse.info["sure_side_px"] >= 8  # not sure of what its finest grid cannot resolve
    assert coarse.info["macs"] * 4 == large.info["macs"]  # same network, a quarter the pixels
    assert manifest.entry("medium_int8").stage == 2  # the student stays selectable
    card = (manifest.directory / "README.md").read_text()
    assert "<!-- coarse:start -->" in card and "`coarse_int8`" in card


def test_every_model_loads(manifest: Manifest) -> None:
    for entry in manifest.entries.values():
        load = load_objects if entry.stage == OBJECTS_STAGE else load_model
        model = load(entry, manifest.directory, RuntimeOptions(threads=1))
        assert (model.model_id, model.stage) == (entry.model_id, entry.stage)


@pytest.fixture
def tiny_copy(tmp_path: Path, manifest: Manifest) -> tuple[ModelEntry, Path]:
    entry = manifest.entry("tiny_int8")
    shutil.copy(manifest.directory / entry.file, tmp_path / entry.file)
    return entry, tmp_path


def test_truncated_file_is_refused(tiny_copy: tuple[ModelEntry, Path]) -> None:
    entry, folder = tiny_copy
    path = folder / entry.file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelError, match="sha256"):
        load_model(entry, folder)


def test_missing_file_is_refused(tmp_path: Path, manifest: Manifest) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model(manifest.entry("tiny_int8"), tmp_path)


def test_corrupt_file_whose_hash_is_in_the_manifest_is_refused(
    tiny_copy: tuple[ModelEntry, Path],
) -> None:
    entry, folder = tiny_copy
    path = folder / entry.file
    data = bytearray(path.read_bytes()[:4000]) + b"\x00garbage" * 50
    path.write_bytes(bytes(data))
    forged = dataclasses.replace(entry, sha256=hashlib.sha256(bytes(data)).hexdigest())
    with pytest.raises(ModelError, match="ONNX Runtime cannot load"):
        load_model(forged, folder)


def test_inputs_or_outputs_unlike_the_manifest_are_refused(
    tiny_copy: tuple[ModelEntry, Path],
) -> None:
    entry, folder = tiny_copy
    renamed = dataclasses.replace(entry, input=dataclasses.replace(entry.input, name="pixels"))
    with pytest.raises(ModelError, match="inputs"):
        load_model(renamed, folder)
    resized = dataclasses.replace(
        entry, input=dataclasses.replace(entry.input, shape=("N", 3, 64, 64))
    )
    with pytest.raises(ModelError, match="input shape"):
        load_model(resized, folder)
    extra = dataclasses.replace(entry, outputs=(*entry.outputs, OutputSpec("box", ("N", 4))))
    with pytest.raises(ModelError, match="output 'box' missing"):
        load_model(extra, folder)


def test_runtime_options_refuse_unknown_settings() -> None:
    with pytest.raises(ConfigError, match="not available"):
        RuntimeOptions(execution_provider="CUDAExecutionProvider")
    with pytest.raises(ConfigError, match="graph_optimization"):
        RuntimeOptions(graph_optimization="max")
    with pytest.raises(ConfigError, match="threads"):
        RuntimeOptions(threads=-1)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def test_bad_manifests_are_refused(tmp_path: Path, manifest: Manifest) -> None:
    good = json.loads(MANIFEST.read_text())
    with pytest.raises(ModelError, match="cannot read"):
        Manifest.load(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read"):
        Manifest.load(tmp_path / "broken.json")
    with pytest.raises(ModelError, match="not a wildcam-models"):
        Manifest.load(_write(tmp_path, {"models": []}))
    bad_band = json.loads(json.dumps(good))
    bad_band["models"][0]["c_low"] = 0.9
    bad_band["models"][0]["c_high"] = 0.1
    with pytest.raises(ModelError, match="c_low"):
        Manifest.load(_write(tmp_path, bad_band))
    escaping = json.loads(json.dumps(good))
    escaping["models"][0]["file"] = "../outside.onnx"
    with pytest.raises(ModelError, match="plain name"):
        Manifest.load(_write(tmp_path, escaping))
    shrinking = json.loads(json.dumps(good))
    shrinking["models"][0]["input"]["max_upscale"] = -1.0
    with pytest.raises(ModelError, match="max_upscale"):
        Manifest.load(_write(tmp_path, shrinking))
    wrong_default = json.loads(json.dumps(good))
    wrong_default["defaults"]["1"] = "large_int8"
    with pytest.raises(ModelError, match="default for stage 1"):
        Manifest.load(_write(tmp_path, wrong_default))
    with pytest.raises(ModelError, match="no model 'nope'"):
        manifest.entry("nope")
    only_large = json.loads(json.dumps(good))
    only_large["defaults"] = {"3": "large_int8"}
    with pytest.raises(ModelError, match="no default model for stage 1"):
        Manifest.load(_write(tmp_path, only_large)).default_for(1)
