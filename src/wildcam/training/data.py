"""The real frames the models are built from, and their split into train and evaluation.

Sources under the data folder (see its README): camera-trap stills (ENA24, misc, burrowing owls;
an animal in every one), cats-vs-dogs photos (animal in every one), camera-trap
clips (animal in some frames: the teacher decides), road clips from bgslibrary (no animals), and
frames of the synthetic scene (exact truth: animals, wind, rain, snow, IR switches).
The boxes shipped with ENA24 (``coco_annotations.json``, ``md_annotations.json``) are placeholders
(fixed boxes near the image centre, nowhere near the animals), so only its presence labels are
used; the teacher finds the boxes.

Every frame belongs to a *group* (a still's file, a clip's file, a synthetic preset);
:func:`wildcam.cascade.splits.training_split` (a stable hash of the group) puts about 30 % of
groups in the evaluation split, so no clip is on both sides. Half of those groups later calibrate
the cascade and half are held back for testing (:mod:`wildcam.cascade.splits`); the held-back
sources there (Serengeti, squirrels, Camtrap DP, OpenCV clips) are never read here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from wildcam.camera.synthetic import SyntheticScene, default_scene, empty_scene, nuisance_scene
from wildcam.cascade.splits import TRAIN_HOLDOUT_PERCENT, Role, role, training_split
from wildcam.types import Box, Image

__all__ = ["EVAL_PERCENT", "Frame", "load_frames"]

EVAL_PERCENT = TRAIN_HOLDOUT_PERCENT
"""Share of groups (percent) in the evaluation split (:mod:`wildcam.cascade.splits`)."""

MAX_SIDE = 1280
"""Stills are scaled down to this longest side on loading (boxes scaled with them)."""
UNREADABLE = {"demo.avi"}
"""bgslibrary's 48x48 demo clip crashes OpenCV's AVI reader; it is skipped."""


@dataclass(frozen=True)
class Frame:
    """One frame: BGR pixels, where it came from, and what is known about it beforehand.

    ``animal`` is the known truth (``None`` where only the teacher can tell); ``boxes`` the known
    animal boxes (synthetic truth only).
    """

    key: str
    group: str
    source: str
    image: Image
    animal: bool | None
    boxes: tuple[Box, ...] = ()

    @property
    def split(self) -> str:
        return training_split(self.group)

    @property
    def role(self) -> Role:
        """``train``, ``calib`` or ``test`` (:func:`wildcam.cascade.splits.role` of the group)."""
        return role(self.group)


def _shrink(image: Image) -> Image:
    scale = min(1.0, MAX_SIDE / max(image.shape[:2]))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image


def _read(path: Path) -> Image | None:
    data = np.fromfile(path, np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _stills(root: Path) -> Iterator[Frame]:
    traps = root / "camera_traps"
    for folder in ("ena24", "misc", "buow"):
        for path in sorted((traps / folder).glob("*")):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
                continue
            image = _read(path)
            if image is None:
                continue
            key = f"camera_traps/{folder}/{path.name}"
            yield Frame(key, key, folder, _shrink(image), True)
    for cls in ("Cat", "Dog"):
        for path in sorted((root / "cats_vs_dogs" / cls).glob("*.jpg")):
            image = _read(path)
            if image is not None:
                key = f"cats_vs_dogs/{cls}/{path.name}"
                yield Frame(key, key, "cats_dogs", _shrink(image), True)


def _clip(path: Path, every: int, limit: int) -> Iterator[tuple[int, Image]]:
    cap = cv2.VideoCapture(str(path))
    try:
        index = 0
        taken = 0
        while taken < limit:
            ok, image = cap.read()
            if not ok:
                break
            if index % every == 0:
                taken += 1
                yield index, image
            index += 1
    finally:
        cap.release()


def _clips(root: Path) -> Iterator[Frame]:
    for path in sorted((root / "videos" / "zamba").glob("*")):
        big = path.name == "chimp_waterhole.mp4"
        for index, image in _clip(path, 45 if big else 6, 10):
            key = f"videos/zamba/{path.name}#{index}"
            yield Frame(key, f"videos/zamba/{path.name}", "clip", image, None)
    for path in sorted((root / "videos" / "bgslibrary").glob("*.avi")):
        if path.name in UNREADABLE:
            continue
        for index, image in _clip(path, 60, 12):
            key = f"videos/bgslibrary/{path.name}#{index}"
            yield Frame(key, f"videos/bgslibrary/{path.name}", "road", image, False)


def _synthetic(seed: int) -> Iterator[Frame]:
    for name, config, step in (
        ("default", default_scene(seed), 3.0),
        ("nuisance", nuisance_scene(seed), 4.0),
        ("empty", empty_scene(40.0, seed), 8.0),
    ):
        scene = SyntheticScene(config)
        fps = scene.n_frames / config.duration_s
        for k in range(int(config.duration_s / step)):
            index = min(int(k * step * fps), scene.n_frames - 1)
            truth = scene.truth(index)
            key = f"synthetic/{name}#{index}"
            yield Frame(
                key,
                f"synthetic/{name}/{k // 5}",
                "synthetic",
                scene.render(index),
                bool(truth.boxes),
                tuple(truth.boxes),
            )


def load_frames(root: Path, seed: int = 0) -> list[Frame]:
    """Every frame the pipeline uses, in a fixed order."""
    return [*_stills(root), *_clips(root), *_synthetic(seed)]
