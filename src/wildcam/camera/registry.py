"""The camera backends by name, and :func:`make_source` to open one from node parameters.

Each backend's module is imported when a source of its kind is opened (a camera on a real
device never loads the synthetic renderer).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from wildcam.camera.base import CameraSource
from wildcam.camera.presets import PRESETS, default_scene
from wildcam.camera.scene import SceneConfig, load_scene
from wildcam.errors import ConfigError
from wildcam.types import SOURCE_KINDS

if TYPE_CHECKING:
    from wildcam.camera.synthetic import SyntheticScene

__all__ = ["DEFAULT_DEVICE", "SOURCE_KINDS", "make_source", "synthetic_config"]

DEFAULT_DEVICE = "/dev/video0"


def synthetic_config(uri: str, seed: int) -> SceneConfig:
    """The scene a synthetic ``uri`` names: "" (default), a preset name, or a YAML/JSON file.

    ``seed`` seeds the default scene and the presets; a scene file carries its own seed.
    """
    if not uri:
        return default_scene(seed)
    if uri in PRESETS:
        return PRESETS[uri](seed)
    if not Path(uri).is_file():
        raise ConfigError(
            f"synthetic uri {uri!r} is neither a preset {sorted(PRESETS)} nor a scene file"
        )
    return load_scene(uri)


@functools.lru_cache(maxsize=1)
def _scene(config: SceneConfig) -> SyntheticScene:
    """The rendered scene of ``config``, kept: a camera that was released reopens in
    milliseconds (drawing the scene's layers takes a large part of a second)."""
    from wildcam.camera.synthetic import SyntheticScene

    return SyntheticScene(config)


def make_source(
    kind: str, *, uri: str, width: int, height: int, fps: float, seed: int, loop: bool
) -> CameraSource:
    """Open the backend ``kind`` (one of :data:`SOURCE_KINDS`).

    ``uri`` is the device path or number, video file, image folder or synthetic scene (see
    :func:`synthetic_config`). ``width`` and ``height`` of 0 keep the source's native size.
    ``fps`` sets the device rate and the folder's stamps; a video file stamps by its own rate
    and a synthetic scene by the scene's (reading faster plays the scene faster, it does not
    make more frames). Raises ConfigError for an unknown kind or bad setting and SourceError
    when the device, file or folder cannot be opened.
    """
    sized = width > 0 and height > 0
    source: CameraSource
    if kind == "synthetic":
        from wildcam.camera.synthetic import SyntheticSource

        config = synthetic_config(uri, seed)
        if sized:
            config = replace(config, width=width, height=height)
        return SyntheticSource(_scene(config), loop=loop)
    if kind == "device":
        from wildcam.camera.device import V4L2Source

        return V4L2Source(uri or DEFAULT_DEVICE, width, height, fps)
    if kind == "file":
        from wildcam.camera.video import VideoFileSource

        source = VideoFileSource(uri, loop=loop)
    elif kind == "folder":
        from wildcam.camera.folder import ImageFolderSource

        source = ImageFolderSource(uri, fps, loop=loop)
    else:
        raise ConfigError(f"unknown source kind {kind!r}; expected one of {SOURCE_KINDS}")
    if sized:
        source.set_resolution(width, height)
    return source
