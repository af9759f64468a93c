"""Camera sources: one Protocol, a backend per file, a registry keyed by name.

``base`` holds :class:`Frame` and :class:`CameraSource` (boxes are :mod:`wildcam.types`);
``device``, ``video``, ``folder``, ``synthetic`` and ``fake`` are the backends; ``registry``
opens one by name from node parameters. ``synthetic`` renders a deterministic camera-trap scene
(``scene`` configures it, ``presets`` names a few) with exact ground truth (``truth``). Nothing
here imports rclpy; each name is imported from its module when first used.
"""

from __future__ import annotations

from wildcam.lazy_exports import lazy_exports

_EXPORTS = {
    "base": ("CameraSource", "Frame", "SourceBase"),
    "device": ("V4L2Source",),
    "fake": ("FakeSource",),
    "folder": ("IMAGE_SUFFIXES", "ImageFolderSource"),
    "held": ("FakeController", "HeldBurstSource"),
    "presets": (
        "PRESETS",
        "day_scene",
        "default_scene",
        "empty_scene",
        "nuisance_scene",
        "scene_preset",
    ),
    "registry": ("SOURCE_KINDS", "make_source"),
    "scene": (
        "Interval",
        "SceneConfig",
        "Visit",
        "load_scene",
        "scene_from_dict",
        "scene_to_dict",
    ),
    "synthetic": ("SyntheticScene", "SyntheticSource"),
    "truth": ("FrameTruth", "GroundTruth", "load_ground_truth", "write_ground_truth"),
    "video": ("VideoFileSource",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(name for names in _EXPORTS.values() for name in names)
