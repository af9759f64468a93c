"""From CascadeConfig to checked models: ids, defaults, disabled stages, what a change reloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx_fakes import write_fake_manifest  # test-local helper

from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.loader import load_stages, stages_to_reload
from wildcam.errors import ConfigError, ModelError


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_fake_manifest(tmp_path_factory.mktemp("models")))


def test_defaults_and_disabled_stages(manifest: str) -> None:
    models = load_stages(CascadeConfig(manifest=manifest))
    assert models[2] is None  # the manifest names no default for stage 2
    assert (models[1].model_id, models[3].model_id) == ("tiny_unsure", "large")  # type: ignore[union-attr]
    only = load_stages(
        CascadeConfig(manifest=manifest, stage1_model="", stage3_model="large"), {1, 3}
    )
    assert only[1] is None and set(only) == {1, 3}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stage1_model": "large"}, "stage 3 model"),
        ({"stage1_model": "tiny_truncated"}, "sha256"),
        ({"stage3_model": "large_mismatch"}, "does not match"),
        ({"stage2_model": "ghost"}, "no model 'ghost'"),
    ],
)
def test_bad_models_raise_model_error(
    manifest: str, changes: dict[str, str], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        load_stages(CascadeConfig(manifest=manifest, **changes))


def test_missing_manifest_and_unknown_provider(tmp_path: Path, manifest: str) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_stages(CascadeConfig(manifest=str(tmp_path / "none.json")))
    with pytest.raises(ConfigError, match="not available"):
        load_stages(CascadeConfig(manifest=manifest, execution_provider="NoSuchProvider"))


def test_what_a_change_reloads() -> None:
    base = CascadeConfig()
    assert stages_to_reload(base, CascadeConfig(stage2_model="x")) == {2}
    assert stages_to_reload(base, CascadeConfig(onnx_threads=2)) == {1, 2, 3}
    assert stages_to_reload(base, CascadeConfig(max_stage=1)) == set()
    with pytest.raises(ConfigError):
        base.model_id(4)
