"""Opening sources by kind name, as the camera driver does from its parameters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam.camera import (
    SOURCE_KINDS,
    CameraSource,
    ImageFolderSource,
    SyntheticSource,
    make_source,
    nuisance_scene,
)
from wildcam.errors import ConfigError, SourceError


def open_source(
    kind: str, uri: str = "", width: int = 320, height: int = 240, seed: int = 0
) -> CameraSource:
    return make_source(kind, uri=uri, width=width, height=height, fps=10.0, seed=seed, loop=False)


def test_kinds() -> None:
    assert SOURCE_KINDS == ("synthetic", "file", "folder", "device")


def test_unknown_kind_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown source kind"):
        open_source("webcam")


def test_synthetic_default_and_preset_scenes_at_the_requested_size() -> None:
    source = open_source("synthetic")
    assert isinstance(source, SyntheticSource) and isinstance(source, CameraSource)
    frame = source.read()
    assert frame is not None and frame.image.shape == (240, 320, 3)
    assert len(source.scene.config.visits) == 4
    preset = open_source("synthetic", "nuisance", seed=5)
    assert isinstance(preset, SyntheticSource)
    assert preset.scene.config.visits == () and preset.scene.config.seed == 5
    assert preset.scene.config.wind == nuisance_scene(5).wind


def test_synthetic_scene_file_and_bad_uri(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text('{"seed": 9, "duration_s": 2, "width": 64, "height": 48}')
    source = open_source("synthetic", str(path), width=0, height=0)
    assert isinstance(source, SyntheticSource) and source.scene.config.seed == 9
    frame = source.read()
    assert frame is not None and frame.image.shape == (48, 64, 3)
    with pytest.raises(ConfigError):
        open_source("synthetic", "no-such-scene")


def test_folder_source_is_resized_to_the_parameters(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "one.png"), np.zeros((10, 20, 3), np.uint8))
    source = open_source("folder", str(tmp_path))
    assert isinstance(source, ImageFolderSource)
    frame = source.read()
    assert frame is not None and frame.image.shape == (240, 320, 3)


@pytest.mark.parametrize(
    ("kind", "uri"),
    [
        ("file", "/nonexistent/clip.mp4"),
        ("folder", "/nonexistent/frames"),
        ("device", "/dev/video99"),
    ],
)
def test_unopenable_sources_raise_source_error(kind: str, uri: str) -> None:
    with pytest.raises(SourceError):
        open_source(kind, uri)
