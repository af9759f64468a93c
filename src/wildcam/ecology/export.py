"""From what the gateway holds to Camtrap DP, MegaDetector batch output and hard examples.

Camtrap DP (:func:`camtrap_package`):

- a deployment per device and deployment period: the facts the device's uploader sends
  (``location``, ``camera_model``, ``camera_height_m``, ``setup_by``); a change of them starts
  a new deployment, whose start and end are its first and last frame;
- a media row per frame with an image at the gateway (the full frame when it arrived, else the
  thumbnail crop), ``captureMethod: activityDetection``, UTC timestamps with their zone, file
  paths into the package's ``media/`` folder;
- media-level observations, one per box (normalised on the media file: the full frame, or the
  thumbnail, which is the crop of the best box), and one event-level observation per event:
  ``classificationMethod: machine``,
  ``classifiedBy`` the model id and the sha256 its manifest records,
  ``classificationProbability`` the score; a reviewed event's event-level observation is the
  person's (``classificationMethod: human``: correct keeps the class, wrong makes it blank,
  another species names it).

:func:`hard_examples` writes the reviewed events' frames with labels in the CSV form ``wildcam
eval --labels`` and the training data reader take (``path,animal,x,y,w,h`` plus the verdict).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wildcam.ecology.camtrap import CamtrapPackage, table_fields, write_package
from wildcam.ecology.frames import Event, Frame, events, jpeg_size, parse_location
from wildcam.ecology.megadetector import MIN_CONF, MdDetection, MdImage, batch_output
from wildcam.errors import InputError, StorageError
from wildcam.gateway.verdicts import Verdict

__all__ = ["ExportOptions", "camtrap_package", "hard_examples", "md_output", "write_camtrap"]

OBSERVATION_TYPES = {"animal": "animal", "person": "human", "human": "human", "vehicle": "vehicle"}


def _iso(ns: int | float) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(timespec="seconds")


def _hash(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:8]


class ExportOptions:
    """What the package says about itself and the models (see ``wildcam gateway export``)."""

    def __init__(
        self,
        title: str = "wildcam camera-trap detections",
        contributors: Sequence[str] = (),
        location: str = "",
        model_hashes: Mapping[str, str] | None = None,
        sampling_design: str = "opportunistic",
    ) -> None:
        self.title = title
        self.contributors = tuple(contributors)
        self.location = location
        self.model_hashes = dict(model_hashes or {})
        self.sampling_design = sampling_design

    def classified_by(self, model_id: str) -> str:
        """The model's id and the sha256 its manifest records (when known)."""
        sha = self.model_hashes.get(model_id)
        return f"wildcam {model_id}" + (f" (manifest sha256 {sha})" if sha else "")


def _deployment_id(frame: Frame) -> str:
    facts = {k: v for k, v in sorted(frame.deployment.items()) if k != "id"}
    return f"{frame.device}-{_hash(frame.device, facts)}"


def _deployments(frames: Sequence[Frame], options: ExportOptions) -> list[dict[str, Any]]:
    groups: dict[str, list[Frame]] = {}
    for frame in frames:
        groups.setdefault(_deployment_id(frame), []).append(frame)
    rows = []
    for dep_id, members in sorted(groups.items()):
        facts = members[0].deployment
        where = str(facts.get("location") or options.location)
        if not where:
            raise InputError(
                f"device {members[0].device!r} sent no location: set its "
                "uploader's location parameter, or give --location LAT,LON"
            )
        lat, lon, unc = parse_location(where)
        height = facts.get("camera_height_m")
        rows.append(
            {
                "deploymentID": dep_id,
                "locationID": _hash(round(lat, 5), round(lon, 5)),
                "latitude": lat,
                "longitude": lon,
                "coordinateUncertainty": unc,
                "deploymentStart": _iso(min(f.stamp_ns for f in members)),
                "deploymentEnd": _iso(max(f.stamp_ns for f in members)),
                "setupBy": str(facts.get("setup_by") or "") or None,
                "cameraID": members[0].device,
                "cameraModel": str(facts.get("camera_model") or "") or None,
                "cameraHeight": float(height)
                if isinstance(height, (int, float)) and height > 0
                else None,
                "deploymentComments": "wildcam motion gate and model cascade; deployment facts "
                "as the device's uploader sent them",
            }
        )
    return rows


def _event_observation(
    event: Event, dep_id: str, verdict: Verdict | None, options: ExportOptions
) -> dict[str, Any]:
    best = event.best
    top = max(best.detections, key=lambda d: d.score, default=None)
    row: dict[str, Any] = {
        "observationID": f"{event.device}-{event.key}",
        "deploymentID": dep_id,
        "eventID": f"{event.device}-{event.key}",
        "eventStart": _iso(event.start_ns),
        "eventEnd": _iso(event.end_ns),
        "observationLevel": "event",
    }
    if verdict is not None:
        kind = (
            "blank"
            if verdict.verdict == "wrong"
            else (
                "animal"
                if verdict.verdict == "species" or top is None
                else OBSERVATION_TYPES.get(top.class_id, "unclassified")
            )
        )
        row.update(
            observationType=kind,
            classificationMethod="human",
            classifiedBy=verdict.reviewer or "gateway reviewer",
            classificationTimestamp=_iso(verdict.at * 1e9),
            scientificName=verdict.species or None,
            count=None if kind == "blank" else 1,
            observationComments=f"review verdict: {verdict.verdict}",
        )
    elif top is None:
        row.update(observationType="blank", classificationMethod="machine")
    else:
        row.update(
            observationType=OBSERVATION_TYPES.get(top.class_id, "unclassified"),
            classificationMethod="machine",
            classifiedBy=options.classified_by(top.model_id),
            classificationProbability=round(event.score, 4),
            count=1,
        )
    return row


def _media_rows(
    frame: Frame, dep_id: str, event_id: str, options: ExportOptions
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    stamp = _iso(frame.stamp_ns)
    media = {
        "mediaID": frame.frame,
        "deploymentID": dep_id,
        "captureMethod": "activityDetection",
        "timestamp": stamp,
        "filePath": f"media/{frame.frame}.jpg",
        "filePublic": False,
        "fileName": f"{frame.frame}.jpg",
        "fileMediatype": "image/jpeg",
        "mediaComments": "full frame" if frame.full_frame else "thumbnail: crop of the best box",
    }
    observations = []
    base = {
        "deploymentID": dep_id,
        "mediaID": frame.frame,
        "eventID": event_id,
        "eventStart": stamp,
        "eventEnd": stamp,
        "observationLevel": "media",
        "classificationMethod": "machine",
    }
    for index, det in enumerate(sorted(frame.detections, key=lambda d: -d.score)):
        box = frame.media_box(det)
        observations.append(
            {
                **base,
                "observationID": f"{frame.frame}-{index}",
                "observationType": OBSERVATION_TYPES.get(det.class_id, "unclassified"),
                "count": 1,
                "bboxX": box[0] if box else None,
                "bboxY": box[1] if box else None,
                "bboxWidth": box[2] if box else None,
                "bboxHeight": box[3] if box else None,
                "classifiedBy": options.classified_by(det.model_id),
                "classificationProbability": round(det.score, 4),
            }
        )
    if not observations:
        observations.append(
            {**base, "observationID": f"{frame.frame}-0", "observationType": "blank"}
        )
    return media, observations


def camtrap_package(
    frames: Sequence[Frame], verdicts: Mapping[tuple[str, str], Verdict], options: ExportOptions
) -> tuple[CamtrapPackage, dict[str, str]]:
    """The package of ``frames`` and the media files it needs (``filePath`` -> blob sha256)."""
    if not frames:
        raise InputError("the gateway holds no frames (for these filters): nothing to export")
    deployments = _deployments(frames, options)
    media_rows, observations, files = [], [], {}
    taxa: set[str] = set()
    for event in events(frames):
        dep_id = _deployment_id(event.frames[0])
        verdict = verdicts.get((event.device, event.key))
        if verdict is not None and verdict.species:
            taxa.add(verdict.species)
        observations.append(_event_observation(event, dep_id, verdict, options))
        for frame in event.frames:
            sha = frame.media
            if not sha:
                continue
            media, obs = _media_rows(
                frame, _deployment_id(frame), f"{event.device}-{event.key}", options
            )
            media_rows.append(media)
            observations += obs
            files[media["filePath"]] = sha
    lats = [d["latitude"] for d in deployments]
    lons = [d["longitude"] for d in deployments]
    ring = [
        [min(lons), min(lats)],
        [max(lons), min(lats)],
        [max(lons), max(lats)],
        [min(lons), max(lats)],
        [min(lons), min(lats)],
    ]
    spatial = (
        {"type": "Point", "coordinates": [lons[0], lats[0]]}
        if len(set(lats)) == 1 and len(set(lons)) == 1
        else {"type": "Polygon", "coordinates": [ring]}
    )
    people = sorted(
        {v.reviewer for v in verdicts.values() if v.reviewer} | set(options.contributors)
    )
    metadata = {
        "name": "wildcam-export",
        "id": str(
            uuid.uuid5(
                uuid.NAMESPACE_URL,
                "wildcam:" + ",".join(sorted(d["deploymentID"] for d in deployments)),
            )
        ),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "title": options.title,
        "description": "Detections of wildcam camera traps (motion gate and on-device model "
        "cascade) as received by the wildcam gateway, with reviewers' verdicts.",
        "contributors": [{"title": p, "role": "contributor"} for p in people]
        or [{"title": "wildcam gateway operator", "role": "contact"}],
        "project": {
            "title": options.title,
            "samplingDesign": options.sampling_design,
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media", "event"],
        },
        "spatial": spatial,
        "temporal": {
            "start": min(d["deploymentStart"] for d in deployments)[:10],
            "end": max(d["deploymentEnd"] for d in deployments)[:10],
        },
        "taxonomic": [{"scientificName": t} for t in sorted(taxa)],
        "sources": [{"title": "wildcam gateway"}],
    }
    tables = {"deployments": deployments, "media": media_rows, "observations": observations}
    return CamtrapPackage(metadata, tables), files


def write_camtrap(
    directory: Path,
    frames: Sequence[Frame],
    verdicts: Mapping[tuple[str, str], Verdict],
    options: ExportOptions,
    specs: Path,
    blob: Any,
) -> Path:
    """Write the package and its media (``blob(sha)`` -> bytes) into ``directory``."""
    package, files = camtrap_package(frames, verdicts, options)
    write_package(directory, package, {t: table_fields(specs, t) for t in package.tables})
    shutil.rmtree(directory / "media", ignore_errors=True)  # a previous export's files
    _copy_blobs(directory, files, blob)
    return directory / "datapackage.json"


def _copy_blobs(directory: Path, files: Mapping[str, str], blob: Any) -> None:
    for rel, sha in files.items():
        data = blob(sha)
        if data is None:
            raise StorageError(f"the gateway lost the payload {sha} of {rel}")
        path = directory / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as err:
            raise StorageError(f"cannot write {path}: {err}") from err


def hard_examples(
    directory: Path,
    frames: Iterable[Frame],
    verdicts: Mapping[tuple[str, str], Verdict],
    blob: Any,
) -> int:
    """Write the reviewed events' frames and ``labels.csv``; the number of rows written."""
    rows, files = [], {}
    for event in events(frames):
        verdict = verdicts.get((event.device, event.key))
        if verdict is None:
            continue
        for frame in event.frames:
            sha = frame.media
            if not sha:
                continue
            rel = f"images/{frame.frame}.jpg"
            files[rel] = sha
            common = {
                "path": rel,
                "verdict": verdict.verdict,
                "species": verdict.species,
                "event": f"{event.device}-{event.key}",
                "device": event.device,
            }
            boxes = (
                [b for b in (frame.media_box(d) for d in frame.detections) if b]
                if verdict.verdict != "wrong"
                else []
            )
            if not boxes:
                rows.append({**common, "animal": int(verdict.verdict != "wrong")})
            size = frame.size if frame.full_frame else None
            for box in boxes:  # pixels of the image written (a thumbnail's: fractions x side)
                scale = size or _thumb_size(blob(sha))
                x, y, w, h = (round(v * scale[i % 2]) for i, v in enumerate(box))
                rows.append({**common, "animal": 1, "x": x, "y": y, "w": w, "h": h})
    _copy_blobs(directory, files, blob)
    columns = ["path", "animal", "x", "y", "w", "h", "verdict", "species", "event", "device"]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    except OSError as err:
        raise StorageError(f"cannot write {directory / 'labels.csv'}: {err}") from err
    return len(rows)


def _thumb_size(data: bytes | None) -> tuple[int, int]:
    size = jpeg_size(data or b"")
    if size is None:
        raise StorageError("a stored thumbnail is not a JPEG")
    return size


def md_output(frames: Sequence[Frame], options: ExportOptions) -> dict[str, Any]:
    """The gateway's frames with an image as MegaDetector batch output; files are the Camtrap
    DP package's media paths (``media/<frame>.jpg``), boxes normalised on those files."""
    images = []
    for frame in frames:
        if not frame.media:
            continue
        dets = [
            MdDetection(d.class_id, d.score, box)
            for d in frame.detections
            if d.score >= MIN_CONF and (box := frame.media_box(d)) is not None
        ]
        images.append(MdImage(f"media/{frame.frame}.jpg", tuple(dets)))
    models = sorted({d.model_id for f in frames for d in f.detections})
    return batch_output(
        images,
        "wildcam-cascade[" + "+".join(models) + "]",
        {
            "model_sha256": {m: options.model_hashes.get(m, "") for m in models},
            "source": "wildcam gateway",
        },
    )
