"""Camera sources: one Protocol, a backend per file, a registry keyed by name.

``base`` holds :class:`Frame`, :class:`CameraSource` and :class:`Box`; ``device``,
``video``, ``folder``, ``synthetic`` and ``fake`` are the backends; ``registry`` opens one by
name from node parameters. ``synthetic`` renders a deterministic camera-trap scene (``scene``
configures it, ``presets`` names a few) with exact ground truth (``truth``). Nothing here
imports rclpy.
"""

from __future__ import annotations

from wildcam.camera.base import Box, CameraSource, Frame, Image, SourceBase
from wildcam.camera.device import V4L2Source
from wildcam.camera.fake import FakeSource
from wildcam.camera.folder import IMAGE_SUFFIXES, ImageFolderSource
from wildcam.camera.presets import (
    PRESETS,
    day_scene,
    default_scene,
    empty_scene,
    nuisance_scene,
    scene_preset,
)
from wildcam.camera.registry import SOURCE_KINDS, make_source
from wildcam.camera.scene import (
    Interval,
    SceneConfig,
    Visit,
    load_scene,
    scene_from_dict,
    scene_to_dict,
)
from wildcam.camera.synthetic import SyntheticScene, SyntheticSource
from wildcam.camera.truth import FrameTruth, GroundTruth, load_ground_truth, write_ground_truth
from wildcam.camera.video import VideoFileSource

__all__ = [
    "Box",
    "CameraSource",
    "FakeSource",
    "Frame",
    "FrameTruth",
    "GroundTruth",
    "IMAGE_SUFFIXES",
    "Image",
    "ImageFolderSource",
    "Interval",
    "PRESETS",
    "SOURCE_KINDS",
    "SceneConfig",
    "SourceBase",
    "SyntheticScene",
    "SyntheticSource",
    "V4L2Source",
    "VideoFileSource",
    "Visit",
    "day_scene",
    "default_scene",
    "empty_scene",
    "load_ground_truth",
    "load_scene",
    "make_source",
    "nuisance_scene",
    "scene_from_dict",
    "scene_preset",
    "scene_to_dict",
    "write_ground_truth",
]
