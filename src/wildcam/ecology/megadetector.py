"""MegaDetector batch-output JSON: the per-image results Timelapse, AddaxAI and EcoAssist read.

The format (``megadetector-output-format.md`` in agentmorris/MegaDetector): ``info`` with a
string ``format_version`` (the project's validator accepts 1.3 and later; videos need 1.4+),
``detection_categories`` mapping string ids to names ("1" animal, "2" person, "3" vehicle),
and ``images``: one entry per file with ``detections`` — ``{category, conf, bbox}``, bbox
normalised ``[x_min, y_min, width, height]`` from the top-left corner — an empty list when
nothing was found, or ``failure`` (a string) and ``detections: null`` when the file could not
be read. Videos (and bags) add ``frame_rate``, ``frames_processed`` and per-detection
``frame_number``.

:func:`batch_output` builds the document, :func:`check_batch_output` lists where a document
breaks those rules (the tests run it on everything wildcam writes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeGuard

from wildcam.cascade.runner import FrameDecision
from wildcam.errors import StorageError
from wildcam.types import Box

__all__ = [
    "CATEGORIES",
    "FORMAT_VERSION",
    "MIN_CONF",
    "MdDetection",
    "MdImage",
    "batch_output",
    "cascade_detector_info",
    "category_id",
    "check_batch_output",
    "frame_detections",
    "normalised_box",
    "write_batch_output",
]

FORMAT_VERSION = "1.4"
"""The format version written: 1.4 is the first with video fields the validator checks."""

CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
"""MegaDetector's detection categories; other class names get ids from 4 on."""

MIN_CONF = 0.05
"""Boxes scored below this are left out (``wildcam detect --min-conf``, ``wildcam eval``)."""

VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".avi",
        ".mov",
        ".mkv",
        ".asf",
        ".wmv",
        ".m4v",
        ".mpg",
        ".mpeg",
        ".webm",
        ".mts",
        ".m2ts",
    }
)


@dataclass(frozen=True)
class MdDetection:
    """One box: class name, confidence, normalised ``(x, y, w, h)``, video frame number."""

    class_name: str
    conf: float
    bbox: tuple[float, float, float, float]
    frame_number: int | None = None


@dataclass(frozen=True)
class MdImage:
    """One file's result. ``failure`` set: the file could not be read (no detections)."""

    file: str
    detections: tuple[MdDetection, ...] = ()
    failure: str | None = None
    frame_rate: float | None = None
    frames_processed: tuple[int, ...] | None = None


def normalised_box(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """``box`` (pixels) as ``(x_min, y_min, w, h)`` fractions of the frame, clipped to it."""
    clipped = box.clipped(width, height)
    return (
        round(clipped.x / width, 4),
        round(clipped.y / height, 4),
        round(clipped.w / width, 4),
        round(clipped.h / height, 4),
    )


def category_id(name: str, categories: dict[str, str]) -> str:
    """The id of class ``name`` in ``categories``, added (from "4" on) when new."""
    for key, value in categories.items():
        if value == name:
            return key
    key = str(max([3, *(int(k) for k in categories)]) + 1)
    categories[key] = name
    return key


def batch_output(
    images: Iterable[MdImage],
    detector: str,
    detector_metadata: Mapping[str, Any] | None = None,
    completed: datetime | None = None,
) -> dict[str, Any]:
    """The batch-output document of ``images`` (``detector`` names the cascade and models)."""
    categories = dict(CATEGORIES)
    entries = []
    for image in images:
        entry: dict[str, Any] = {"file": image.file}
        if image.failure is not None:
            entry.update(failure=image.failure, detections=None)
        else:
            dets = []
            for det in sorted(image.detections, key=lambda d: (d.frame_number or 0, -d.conf)):
                item: dict[str, Any] = {
                    "category": category_id(det.class_name, categories),
                    "conf": round(float(det.conf), 4),
                    "bbox": [float(v) for v in det.bbox],
                }
                if det.frame_number is not None:
                    item["frame_number"] = int(det.frame_number)
                dets.append(item)
            entry["detections"] = dets
        if image.frame_rate is not None:
            entry["frame_rate"] = float(image.frame_rate)
            entry["frames_processed"] = list(image.frames_processed or ())
        entries.append(entry)
    when = (completed or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S")
    info: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "detector": detector,
        "detection_completion_time": when,
    }
    if detector_metadata:
        info["detector_metadata"] = dict(detector_metadata)
    return {"info": info, "detection_categories": categories, "images": entries}


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_detection(
    det: Any, where: str, categories: Mapping[str, Any], video: bool
) -> list[str]:
    if not isinstance(det, dict):
        return [f"{where}: a detection is not an object"]
    problems = []
    if det.get("category") not in categories:
        problems.append(
            f"{where}: category {det.get('category')!r} is not in detection_categories"
        )
    conf = det.get("conf")
    if not isinstance(conf, float) or not 0.0 <= conf <= 1.0:
        problems.append(f"{where}: conf {conf!r} is not a float in [0, 1]")
    bbox = det.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
        problems.append(f"{where}: bbox {bbox!r} is not four numbers")
    else:
        x, y, w, h = bbox
        if min(x, y, w, h) < 0 or x + w > 1.0001 or y + h > 1.0001:
            problems.append(
                f"{where}: bbox {bbox} is not normalised [x_min, y_min, w, h] inside the image"
            )
    if video:
        number = det.get("frame_number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            problems.append(f"{where}: video detection without a frame_number >= 0")
    return problems


def check_batch_output(doc: Any) -> list[str]:
    """Where ``doc`` breaks the batch-output rules (empty: it follows them)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    problems = []
    info = doc.get("info")
    try:
        if (
            not isinstance(info, dict)
            or not isinstance(info.get("format_version"), str)
            or float(info["format_version"]) < 1.3
        ):
            problems.append("info.format_version must be a string-formatted float >= 1.3")
    except ValueError:
        problems.append("info.format_version is not a string-formatted float")
    categories = doc.get("detection_categories")
    if not isinstance(categories, dict):
        return [*problems, "detection_categories is missing"]
    for key, name in categories.items():
        if not (key.isdigit() and isinstance(name, str) and name.strip()):
            problems.append(
                f"detection category {key!r}: {name!r} is not a non-negative "
                "string-formatted int with a name"
            )
    images = doc.get("images")
    if not isinstance(images, list):
        return [*problems, "images is not a list"]
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if not isinstance(image, dict) or not isinstance(image.get("file"), str):
            problems.append(f"{where}: no file name")
            continue
        where = f"{where} ({image['file']})"
        video = Path(image["file"]).suffix.lower() in VIDEO_SUFFIXES or "frame_rate" in image
        failure, dets = image.get("failure"), image.get("detections")
        if failure is not None:
            if not isinstance(failure, str) or dets is not None:
                problems.append(f"{where}: a failure must be a string with detections null")
            continue
        if not isinstance(dets, list):
            problems.append(f"{where}: detections must be a list when the file was read")
            continue
        if video:
            rate = image.get("frame_rate")
            if not _number(rate) or rate <= 0:
                problems.append(f"{where}: a video needs frame_rate > 0")
            frames = image.get("frames_processed")
            if not isinstance(frames, list) or not all(isinstance(f, int) for f in frames):
                problems.append(f"{where}: a video needs frames_processed (a list of ints)")
        for det in dets:
            problems += _check_detection(det, where, categories, video)
    return problems


def write_batch_output(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` to ``path`` (parent folders created; StorageError on failure)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        raise StorageError(f"cannot write {path}: {err}") from err


def frame_detections(
    decision: FrameDecision,
    width: int,
    height: int,
    min_conf: float,
    frame_number: int | None = None,
) -> list[MdDetection]:
    """Every box the deciding stages scored at or above ``min_conf``, normalised: animals, then
    the people and vehicles the people-and-vehicles check found (MegaDetector's categories)."""
    out = []
    for region in decision.regions:
        boxes = region.boxes or ()
        pairs = [(b.box, b.score) for b in boxes] or [(region.region, region.score)]
        for box, score in pairs:
            if score >= min_conf and Box(*box).clipped(width, height).area > 0:
                out.append(
                    MdDetection(
                        "animal",
                        float(score),
                        normalised_box(Box(*box), width, height),
                        frame_number,
                    )
                )
    for other in decision.others:
        if other.score >= min_conf:
            bbox = normalised_box(other.box, width, height)
            out.append(MdDetection(other.label, float(other.score), bbox, frame_number))
    return out


def cascade_detector_info(
    model_ids: Sequence[str], manifest_sha: str, threshold: float, min_conf: float = MIN_CONF
) -> tuple[str, dict[str, Any]]:
    """``info.detector`` (the cascade's model ids and its manifest's hash) and
    ``info.detector_metadata`` (the decision threshold and the lowest score kept)."""
    name = f"wildcam-cascade[{'+'.join(model_ids)}]@manifest-sha256:{manifest_sha[:12]}"
    return name, {
        "typical_detection_threshold": threshold,
        "conservative_detection_threshold": min_conf,
        "models": list(model_ids),
        "manifest_sha256": manifest_sha,
    }
