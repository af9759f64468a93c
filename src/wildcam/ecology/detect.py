"""``wildcam detect``: the cascade over a folder of images, a video or a bag, per image.

Every readable image (every sampled frame of a video, every image message of a bag) is one
whole-frame region for :meth:`~wildcam.cascade.runner.Cascade.run`, the same decision the
node makes; its boxes (the deciding stage's boxes, or the region for a classifier) with their
scores become the file's detections. Files that cannot be read become ``failure`` entries, never
fatal. The result is a MegaDetector batch-output document (:mod:`wildcam.ecology.megadetector`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from wildcam.camera.folder import IMAGE_SUFFIXES
from wildcam.cascade.base import StageModel
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.evaluate import read_image
from wildcam.cascade.objects import model_ids
from wildcam.cascade.runner import Cascade
from wildcam.ecology.megadetector import (
    MIN_CONF,
    VIDEO_SUFFIXES,
    MdDetection,
    MdImage,
    batch_output,
    cascade_detector_info,
    frame_detections,
)
from wildcam.errors import InputError, ModelError, WildcamError
from wildcam.types import Image

__all__ = ["Detector", "input_kind", "manifest_digest"]

UNREADABLE = "Failure image access"
"""MegaDetector's failure text for a file it could not open."""

IMAGE_TOPICS = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


def manifest_digest(path: Path) -> str:
    """SHA-256 of the model manifest file (names the exact models in exported results)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise InputError(f"cannot read model manifest {path}: {err}") from err


def input_kind(path: Path) -> str:
    """``bag``, ``folder``, ``video`` or ``image``; InputError when it is none of them."""
    if path.is_dir():
        if (path / "metadata.yaml").is_file():
            return "bag"
        return "folder"
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".mcap", ".db3"):
            return "bag"
        if suffix in VIDEO_SUFFIXES:
            return "video"
        if suffix in IMAGE_SUFFIXES:
            return "image"
        raise InputError(f"{path}: not an image, video or bag (suffix {suffix!r})")
    raise InputError(f"{path} does not exist")


@dataclass
class Detector:
    """The cascade (stage models + config) and what names it in the output."""

    models: Mapping[int, StageModel]
    config: CascadeConfig
    manifest_sha: str
    min_conf: float = MIN_CONF
    video_every: int = 0  # analyse every Nth video frame (0: about one per second)

    def __post_init__(self) -> None:
        self.cascade = Cascade(self.models, self.config)

    def _decide(self, image: Image, frame_number: int | None = None) -> list[MdDetection]:
        height, width = image.shape[:2]
        return frame_detections(
            self.cascade.run(image), width, height, self.min_conf, frame_number
        )

    def image(self, path: Path, name: str) -> MdImage:
        """One still image (a failure entry when it cannot be read or scored)."""
        image = read_image(path)
        if image is None:
            return MdImage(name, failure=UNREADABLE)
        try:
            return MdImage(name, tuple(self._decide(image)))
        except ModelError as err:
            return MdImage(name, failure=f"Failure inference: {err}")

    def video(self, path: Path, name: str) -> MdImage:
        """Sampled frames of a video, with frame numbers, rate and the frames analysed."""
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                return MdImage(name, failure=UNREADABLE)
            rate = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            rate = rate if rate > 0 else 1.0
            every = self.video_every or max(1, round(rate))
            detections: list[MdDetection] = []
            processed: list[int] = []
            number = 0
            while True:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                if number % every == 0:
                    detections += self._decide(frame, number)
                    processed.append(number)
                number += 1
        except ModelError as err:
            return MdImage(name, failure=f"Failure inference: {err}")
        finally:
            capture.release()
        if not processed:
            return MdImage(name, failure=UNREADABLE)
        return MdImage(name, tuple(detections), frame_rate=rate, frames_processed=tuple(processed))

    def bag(self, path: Path, name: str, topic: str = "") -> list[MdImage]:
        """Each image topic of a bag (or only ``topic``) as one video-like entry."""
        from wildcam.bags.storage import messages, open_bag
        from wildcam.bags.typestore import typestore

        store = typestore()
        out = []
        with open_bag(path) as reader:
            connections = [
                c
                for c in reader.connections
                if c.msgtype in IMAGE_TOPICS
                and (not topic or c.topic.lstrip("/") == topic.lstrip("/"))
            ]
            if not connections:
                raise InputError(
                    f"bag {path} has no image topic" + (f" {topic!r}" if topic else "")
                )
            for conn in connections:
                detections: list[MdDetection] = []
                stamps: list[int] = []
                for number, (_, stamp, raw) in enumerate(messages(reader, [conn])):
                    stamps.append(stamp)
                    image = _bag_image(store.deserialize_cdr(raw, conn.msgtype), conn.msgtype)
                    if image is not None:
                        detections += self._decide(image, number)
                span_s = (stamps[-1] - stamps[0]) * 1e-9 if len(stamps) > 1 else 0.0
                rate = (len(stamps) - 1) / span_s if span_s > 0 else 1.0
                out.append(
                    MdImage(
                        f"{name}#{conn.topic}",
                        tuple(detections),
                        frame_rate=rate,
                        frames_processed=tuple(range(len(stamps))),
                    )
                )
        return out

    def run(self, path: Path, topic: str = "") -> dict[str, Any]:
        """The batch-output document for ``path`` (folder, video, image or bag)."""
        kind = input_kind(path)
        if kind == "bag":
            images = self.bag(path, path.name, topic)
        elif kind == "folder":
            images = [self._one(f, f.relative_to(path).as_posix()) for f in _media(path)]
            if not images:
                raise InputError(f"{path} holds no images or videos")
        else:
            images = [self._one(path, path.name)]
        name, metadata = cascade_detector_info(
            model_ids(self.models),
            self.manifest_sha,
            self.config.decision_threshold,
            self.min_conf,
        )
        return batch_output(images, name, metadata)

    def _one(self, path: Path, name: str) -> MdImage:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return self.video(path, name)
        return self.image(path, name)


def _media(folder: Path) -> Iterator[Path]:
    wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    yield from sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in wanted)


def _bag_image(msg: Any, msgtype: str) -> Image | None:
    """Pixels of a deserialized bag image message (BGR), None when they cannot be decoded."""
    try:
        if msgtype.endswith("CompressedImage"):
            import numpy as np

            image = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
            return image if image is not None else None
        from wildcam.ros.convert import msg_to_image

        image = msg_to_image(msg)
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
    except (WildcamError, ValueError, cv2.error):
        return None
