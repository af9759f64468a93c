"""What the gateway holds, as frames, events and devices (the review page and the exports).

Each uploaded frame is a ``metadata`` item (JSON: stamp, event, detections in full-frame
pixels, the keys of its images and what the uploader adds: the device's deployment facts, its
last status, see :mod:`wildcam.upload.items`) plus the ``thumbnail`` and
``full_frame`` items it names, when they arrived. Frames group into events by device and
motion event (a frame outside any event is an event of its own).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wildcam.errors import InputError

__all__ = [
    "Detection",
    "DeviceStatus",
    "Event",
    "Frame",
    "collect",
    "devices",
    "events",
    "jpeg_size",
    "parse_location",
]

UNNAMED = "unnamed"
"""Device id of frames whose uploader sent none."""


class ItemSource(Protocol):
    """What :func:`collect` reads: :class:`~wildcam.gateway.store.GatewayStore`'s interface."""

    def items(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]: ...

    def blob(self, sha: str) -> bytes | None: ...


@dataclass(frozen=True)
class Detection:
    """One box of a frame (pixels, top-left and size), class, score and deciding model."""

    class_id: str
    score: float
    box: tuple[float, float, float, float]
    stage: int
    model_id: str


@dataclass(frozen=True)
class Frame:
    """One uploaded frame."""

    frame: str
    device: str
    stamp_ns: int
    event_id: int
    detections: tuple[Detection, ...]
    thumbnail: str = ""  # sha256 of the stored JPEG ("" when it did not arrive)
    full_frame: str = ""
    size: tuple[int, int] | None = None  # the full frame's width, height (when it arrived)
    deployment: dict[str, Any] = field(default_factory=dict, compare=False)
    status: dict[str, Any] = field(default_factory=dict, compare=False)
    received: float = 0.0

    @property
    def event_key(self) -> str:
        """The event this frame belongs to, unique per device."""
        return f"e{self.event_id}" if self.event_id else f"f{self.frame}"

    @property
    def score(self) -> float:
        """The best detection score (0 without detections)."""
        return max((d.score for d in self.detections), default=0.0)

    @property
    def media(self) -> str:
        """sha256 of the frame's image at the gateway: the full frame, else the thumbnail."""
        return self.full_frame or self.thumbnail

    def media_box(self, det: Detection) -> tuple[float, float, float, float] | None:
        """``det``'s box as fractions (top-left, size) of :attr:`media`, clipped to it.

        On a full frame, of the frame's size; on a thumbnail, of the best box (the thumbnail
        is that box's crop, so the best box is ``(0, 0, 1, 1)``). None when there is no
        image, its size is unknown, or the box lies outside it.
        """
        ox: float
        oy: float
        width: float
        height: float
        if self.full_frame and self.size is not None:
            ox, oy, (width, height) = 0.0, 0.0, self.size
        elif self.thumbnail and self.detections:
            best = max(self.detections, key=lambda d: d.score)
            ox, oy, width, height = best.box
        else:
            return None
        x, y, w, h = det.box
        x0, y0 = min(max(x - ox, 0.0), width), min(max(y - oy, 0.0), height)
        x1, y1 = min(max(x - ox + w, 0.0), width), min(max(y - oy + h, 0.0), height)
        if x1 <= x0 or y1 <= y0:
            return None
        return (
            round(x0 / width, 4),
            round(y0 / height, 4),
            round((x1 - x0) / width, 4),
            round((y1 - y0) / height, 4),
        )


@dataclass(frozen=True)
class Event:
    """The frames of one device's motion event, in time order."""

    device: str
    key: str
    frames: tuple[Frame, ...]

    @property
    def start_ns(self) -> int:
        return self.frames[0].stamp_ns

    @property
    def end_ns(self) -> int:
        return self.frames[-1].stamp_ns

    @property
    def score(self) -> float:
        """The best score over the event."""
        return max(f.score for f in self.frames)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names detected, sorted."""
        return tuple(sorted({d.class_id for f in self.frames for d in f.detections}))

    @property
    def best(self) -> Frame:
        """The frame with the best score (a full frame preferred on ties)."""
        return max(self.frames, key=lambda f: (f.score, bool(f.full_frame)))


@dataclass(frozen=True)
class DeviceStatus:
    """A device's last word: its latest frame's status, and when the gateway last heard."""

    device: str
    last_contact: float
    frames: int
    status: dict[str, Any]
    deployment: dict[str, Any]


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame header; None when it is not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return (width, height) if width and height else None
        pos += 2 + length
    return None


def parse_location(text: str) -> tuple[float, float, int | None]:
    """``"lat,lon[,uncertainty_m]"`` -> (lat, lon, uncertainty); InputError when malformed."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError("needs lat,lon[,uncertainty_m]")
        lat, lon = float(parts[0]), float(parts[1])
        unc = int(float(parts[2])) if len(parts) == 3 and parts[2] else None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (unc is not None and unc < 1):
            raise ValueError("out of range")
    except ValueError as err:
        raise InputError(f"location {text!r}: {err}") from err
    return lat, lon, unc


def _center_to_corner(box: Sequence[float]) -> tuple[float, float, float, float]:
    cx, cy, w, h = (float(v) for v in box)
    return (cx - w / 2, cy - h / 2, w, h)


def collect(store: ItemSource, since_ns: int = 0, device: str = "") -> list[Frame]:
    """Every frame in ``store`` (stamp at or after ``since_ns``; of ``device`` if given)."""
    raw: list[dict[str, Any]] = []
    after = 0
    while True:
        batch = store.items(after, 1000)
        if not batch:
            break
        raw += batch
        after = batch[-1]["seq"]
    images = {it["key"]: it["sha256"] for it in raw if it["kind"] != "metadata"}
    frames = []
    for item in raw:
        if item["kind"] != "metadata":
            continue
        payload = store.blob(item["sha256"])
        try:
            meta = json.loads(payload or b"")
            dets = tuple(
                Detection(
                    str(d["class_id"]),
                    float(d["score"]),
                    _center_to_corner(d["box"]),
                    int(d.get("stage", 0)),
                    str(d.get("model_id", "")),
                )
                for d in meta["detections"]
            )
            stamp_ns = int(meta["stamp_ns"])
        except (ValueError, KeyError, TypeError):
            continue  # not a frame's metadata
        deployment = meta.get("device") if isinstance(meta.get("device"), dict) else {}
        name = str(deployment.get("id") or UNNAMED)
        if stamp_ns < since_ns or (device and name != device):
            continue
        keys = meta.get("images") if isinstance(meta.get("images"), dict) else {}
        full = images.get(str(keys.get("full_frame", "")), "")
        frames.append(
            Frame(
                frame=str(meta.get("frame", item["key"])),
                device=name,
                stamp_ns=stamp_ns,
                event_id=int(meta.get("event_id", 0)),
                detections=dets,
                thumbnail=images.get(str(keys.get("thumbnail", "")), ""),
                full_frame=full,
                size=jpeg_size(store.blob(full) or b"") if full else None,
                deployment=deployment,
                status=meta.get("status") if isinstance(meta.get("status"), dict) else {},
                received=float(item["received"]),
            )
        )
    frames.sort(key=lambda f: (f.stamp_ns, f.device, f.frame))
    return frames


def events(frames: Iterable[Frame]) -> list[Event]:
    """Frames grouped by device and event, ordered by their first frame."""
    groups: dict[tuple[str, str], list[Frame]] = {}
    for frame in frames:
        groups.setdefault((frame.device, frame.event_key), []).append(frame)
    out = [
        Event(dev, key, tuple(sorted(fs, key=lambda f: f.stamp_ns)))
        for (dev, key), fs in groups.items()
    ]
    return sorted(out, key=lambda e: (e.start_ns, e.device, e.key))


def devices(frames: Iterable[Frame]) -> list[DeviceStatus]:
    """Each device's latest status (by frame stamp) and last contact (by arrival)."""
    latest: dict[str, Frame] = {}
    contact: dict[str, float] = {}
    counts: dict[str, int] = {}
    for frame in frames:
        if frame.device not in latest or frame.stamp_ns >= latest[frame.device].stamp_ns:
            latest[frame.device] = frame
        contact[frame.device] = max(contact.get(frame.device, 0.0), frame.received)
        counts[frame.device] = counts.get(frame.device, 0) + 1
    return [
        DeviceStatus(d, contact[d], counts[d], f.status, f.deployment)
        for d, f in sorted(latest.items())
    ]
