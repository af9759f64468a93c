"""What one analysed frame becomes in the queue: metadata, thumbnail, full frame.

Each :class:`FrameDetections` (the content of a ``wildcam/DetectionArray``) gives up to three
items that share a frame id: the metadata (JSON: stamp, event, boxes, scores, and the keys of
its images), the thumbnail JPEG and, when allowed, the full-frame JPEG. Every item's gateway
metadata carries the frame's stamp and event id (the day report places items by them). Keys are
derived from the frame and the content, so the same message stored twice is one item, and the
gateway can deduplicate a resend after a crash.

A detection that breaks the wire limits (a non-finite score or box, a class, model or id longer
than :data:`~wildcam.upload.wire.MAX_TEXT`) is left out of its frame on its own
(:func:`detection_problem` says why; the node counts it): one bad detection never costs the
frame, and never yields a record the gateway refuses.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wildcam.types import NOT_ANIMALS
from wildcam.upload.queue import NewItem
from wildcam.upload.wire import MAX_TEXT

__all__ = [
    "DetectionFields",
    "DetectionInfo",
    "DeviceStatus",
    "FrameDetections",
    "detection_infos",
    "detection_problem",
    "items_for_frame",
]


@dataclass(frozen=True)
class DetectionInfo:
    """One detection (box centre/size in pixels, class, score, deciding stage and model)."""

    id: str
    class_id: str
    score: float
    stage: int
    model_id: str
    box: tuple[float, float, float, float]


class DetectionFields(Protocol):
    """What a ``wildcam/Detection`` message carries (its box as centre and size in pixels)."""

    id: str
    class_id: str
    score: float
    stage: int
    model_id: str
    center_x: float
    center_y: float
    size_x: float
    size_y: float


def detection_infos(detections: Iterable[DetectionFields]) -> tuple[DetectionInfo, ...]:
    """Detections (``wildcam/Detection`` messages) as plain values."""
    return tuple(
        DetectionInfo(
            d.id,
            d.class_id,
            float(d.score),
            int(d.stage),
            d.model_id,
            (float(d.center_x), float(d.center_y), float(d.size_x), float(d.size_y)),
        )
        for d in detections
    )


@dataclass
class DeviceStatus:
    """The device's last known status, sent with each frame (the review page shows it)."""

    values: dict[str, object] = field(default_factory=dict)

    def power(self, battery: float, mode: str, state: str, charging: bool) -> None:
        """What the power manager's ``power/state`` says (a non-finite battery is unknown)."""
        self.values.update(
            battery=battery if math.isfinite(battery) else None,
            mode=mode,
            state=state,
            charging=charging,
        )

    def diagnostics(self, pairs: Iterable[tuple[str, str]]) -> None:
        """The projected battery life among diagnostics ``(key, value)`` pairs."""
        for key, value in pairs:
            if key == "projected_battery_h":
                try:
                    self.values["projected_battery_h"] = float(value)
                except ValueError:
                    pass


@dataclass(frozen=True)
class FrameDetections:
    """Everything the uploader keeps of one analysed frame."""

    stamp_ns: int
    frame_id: str
    event_id: int
    detections: tuple[DetectionInfo, ...]
    thumbnail: bytes = b""
    full_frame: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


def detection_problem(det: DetectionInfo) -> str:
    """Why ``det`` cannot be uploaded ('' when it can)."""
    for name in ("id", "class_id", "model_id"):
        value = getattr(det, name)
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            return f"{name} longer than {MAX_TEXT} characters"
    if not math.isfinite(det.score):
        return "score is not finite"
    if len(det.box) != 4 or not all(math.isfinite(v) for v in det.box):
        return "box is not four finite numbers"
    return ""


def items_for_frame(frame: FrameDetections, send_full_frames: bool) -> list[NewItem]:
    """The queue items of ``frame``: metadata always, thumbnail and full frame when present (the
    full frame only with ``send_full_frames``); detections with a :func:`detection_problem` are
    left out."""
    detections = tuple(d for d in frame.detections if not detection_problem(d))
    # the frame is its best animal's (its people and vehicles travel along in the metadata)
    animals = [d for d in detections if d.class_id not in NOT_ANIMALS] or detections
    best = max(animals, key=lambda d: d.score, default=None)
    score = best.score if best else 0.0
    class_id = best.class_id if best else ""
    digest = hashlib.sha256()
    for part in (
        str(frame.stamp_ns),
        frame.frame_id,
        str(frame.event_id),
        repr([(d.id, d.score, d.box) for d in detections]),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    base = f"{frame.stamp_ns}-{digest.hexdigest()[:16]}"
    tag = {"frame": base, "stamp_ns": frame.stamp_ns, "event_id": frame.event_id}
    images = {"thumbnail": frame.thumbnail}
    if send_full_frames:
        images["full_frame"] = frame.full_frame
    items = [
        NewItem(
            key=f"{base}-{kind[0]}",
            kind=kind,
            payload=data,
            score=score,
            class_id=class_id,
            content_type="image/jpeg",
            meta=tag,
        )
        for kind, data in images.items()
        if data
    ]
    meta = {
        "frame": base,
        "stamp_ns": frame.stamp_ns,
        "frame_id": frame.frame_id,
        "event_id": frame.event_id,
        "images": {it.kind: it.key for it in items},
        "detections": [
            {
                "id": d.id,
                "class_id": d.class_id,
                "score": d.score,
                "stage": d.stage,
                "model_id": d.model_id,
                "box": list(d.box),
            }
            for d in detections
        ],
        **frame.extra,
    }
    payload = json.dumps(meta, separators=(",", ":")).encode()
    return [
        NewItem(
            key=f"{base}-m",
            kind="metadata",
            payload=payload,
            score=score,
            class_id=class_id,
            content_type="application/json",
            meta=tag,
        ),
        *items,
    ]
