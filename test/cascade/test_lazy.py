"""The lazy stage 3: checked at once, loaded on first need, dropped when capped or idle, and
deciding exactly what an eagerly loaded stage 3 decides."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx_fakes import write_fake_manifest  # test-local helper

from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.lazy import LazyModel, lazy_of
from wildcam.cascade.loader import load_stages, stages_to_reload
from wildcam.cascade.manifest import Manifest
from wildcam.cascade.objects import PeopleVehicles
from wildcam.cascade.onnx_models import RuntimeOptions
from wildcam.cascade.runner import Cascade
from wildcam.errors import ModelError
from wildcam.types import Box

IMAGE = np.full((240, 320, 3), 90, np.uint8)
ROIS = [Box(100, 80, 60, 50)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_manifest(tmp_path_factory.mktemp("models"))


def _lazy(manifest: Path, **changes: object) -> tuple[Cascade, LazyModel]:
    config = CascadeConfig(manifest=str(manifest), **changes)  # type: ignore[arg-type]
    models = load_stages(config)
    model = models[3]
    assert isinstance(model, LazyModel)
    return Cascade({s: m for s, m in models.items() if m is not None}, config), model


def test_stage3_loads_on_first_need_and_decides_as_the_eager_one(manifest: Path) -> None:
    capped, model = _lazy(manifest, max_stage=2)
    capped_decision = capped.run(IMAGE, ROIS)
    assert capped_decision.highest_stage == 1 and not model.loaded and model.loads == 0

    cascade, model = _lazy(manifest)
    eager_config = CascadeConfig(manifest=str(manifest), stage3_lazy=False)
    eager_models = load_stages(eager_config)
    assert not isinstance(eager_models[3], LazyModel)
    eager = Cascade({s: m for s, m in eager_models.items() if m is not None}, eager_config)
    for _ in range(2):
        lazy_decision, eager_decision = cascade.run(IMAGE, ROIS), eager.run(IMAGE, ROIS)
        assert lazy_decision == eager_decision and lazy_decision.highest_stage == 3
    assert model.loaded and model.loads == 1  # created once, kept between frames
    assert (model.model_id, model.stage, model.c_low, model.c_high) == ("large", 3, 0.3, 0.6)


def test_stage3_is_dropped_when_capped_or_idle_and_comes_back(manifest: Path) -> None:
    clock = Clock()
    loaded = Manifest.load(manifest)
    model = LazyModel(loaded.entry("large"), loaded.directory, RuntimeOptions(), clock)
    assert not model.unload_unneeded(max_stage=2, idle_unload_s=0.0)  # nothing loaded yet
    model.predict(IMAGE, ROIS)
    assert not model.unload_unneeded(max_stage=3, idle_unload_s=0.0)  # 0: never for idleness
    clock.now = 59.0
    assert not model.unload_unneeded(max_stage=3, idle_unload_s=60.0) and model.loaded
    clock.now = 60.0
    assert model.unload_unneeded(max_stage=3, idle_unload_s=60.0) and not model.loaded
    model.predict(IMAGE, ROIS)
    assert model.loads == 2 and model.idle_for() == 0.0
    assert model.unload_unneeded(max_stage=2, idle_unload_s=600.0) and not model.loaded


def test_a_bad_file_is_refused_at_once_and_a_replaced_one_at_first_use(
    manifest: Path, tmp_path: Path
) -> None:
    mismatch = CascadeConfig(manifest=str(manifest), stage3_model="large_mismatch")
    with pytest.raises(ModelError, match="does not match"):
        load_stages(mismatch)
    # a start-up checks the sha256 only; the inputs and outputs when the session is created
    model = load_stages(mismatch, {3}, check_lazy_io=False)[3]
    assert isinstance(model, LazyModel)
    with pytest.raises(ModelError, match="output 'boxes' missing"):
        model.predict(IMAGE, ROIS)
    folder = tmp_path / "models"
    shutil.copytree(manifest.parent, folder)
    model = load_stages(CascadeConfig(manifest=str(folder / manifest.name)), {3})[3]
    assert isinstance(model, LazyModel)
    (folder / "large.onnx").write_bytes((folder / "tiny_sure.onnx").read_bytes())
    with pytest.raises(ModelError, match="sha256"):
        model.predict(IMAGE, ROIS)
    assert not model.loaded


def test_changing_the_memory_settings_reloads() -> None:
    base = CascadeConfig()
    assert stages_to_reload(base, CascadeConfig(stage3_lazy=False)) == {3}
    assert stages_to_reload(base, CascadeConfig(onnx_mem_arena=True)) == {1, 2, 3}
    assert stages_to_reload(base, CascadeConfig(stage3_idle_unload_s=5.0)) == set()


def test_the_lazy_model_is_found_inside_the_people_and_vehicles_check(manifest: Path) -> None:
    _, model = _lazy(manifest)
    wrapped = PeopleVehicles(model, lambda image: [], 0.5)
    assert lazy_of(model) is model and lazy_of(wrapped) is model
    eager = load_stages(CascadeConfig(manifest=str(manifest), stage3_lazy=False))[3]
    assert lazy_of(eager) is None and lazy_of(None) is None
