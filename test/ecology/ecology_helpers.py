"""Ecology test helpers: the MegaDetector project's validator (test-only, ``make test``
installs it into build/md-validator) and the Camtrap DP specification (../shared/specs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MD_VALIDATOR = REPO / "build" / "md-validator"

_VALIDATE = """
import json, sys
from megadetector.postprocessing.validate_batch_results import (
    ValidateBatchResultsOptions, validate_batch_results)
options = ValidateBatchResultsOptions()
options.check_image_existence = len(sys.argv) > 2
options.relative_path_base = sys.argv[2] if len(sys.argv) > 2 else None
print(json.dumps(validate_batch_results(sys.argv[1], options)["validation_results"],
                 default=dict))
"""


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """``wildcam ARGS`` in this process (quicker than a subprocess): exit code, out, err."""
    from wildcam.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def md_validate(path: Path, image_base: Path | None = None) -> dict[str, Any]:
    """The MegaDetector project's validator's verdict on ``path`` (errors, warnings)."""
    if not (MD_VALIDATOR / ".installed").is_file():
        pytest.skip(
            "the megadetector validator is not installed in build/md-validator "
            "(make test-extras installs it from PyPI)"
        )
    env = {**os.environ, "PYTHONPATH": str(MD_VALIDATOR)}
    args = [sys.executable, "-c", _VALIDATE, str(path)] + ([str(image_base)] if image_base else [])
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def jpeg(width: int, height: int, shade: int = 120) -> bytes:
    """A small real JPEG of the given size."""
    import cv2
    import numpy as np

    image = np.full((height, width, 3), shade, np.uint8)
    cv2.rectangle(image, (width // 4, height // 4), (width // 2, height // 2), (20, 200, 40), -1)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data)


DEVICE_A = {
    "id": "trap-a",
    "location": "51.5,4.7,30",
    "camera_model": "Pi Camera 3",
    "camera_height_m": 0.6,
    "setup_by": "Ann",
}
DEVICE_B = {
    "id": "trap-b",
    "location": "51.2,5.6",
    "camera_model": "Pi Camera 3",
    "camera_height_m": 0.0,
    "setup_by": "",
}
T0_NS = 1_782_000_000 * 10**9 + 6 * 3600 * 10**9  # 2026-06-21 06:00 UTC


def fill_store(directory: Path) -> None:
    """A gateway store as two traps' uploaders leave it: trap-a event 1 (three frames, the
    middle one with a 640x480 full frame) and event 2 (one frame), trap-b event 1."""
    import hashlib

    from wildcam.gateway.store import GatewayStore
    from wildcam.upload.items import DetectionInfo, FrameDetections, items_for_frame
    from wildcam.upload.wire import Record

    def det(score: float, box: tuple[float, float, float, float]) -> DetectionInfo:
        return DetectionInfo("0", "animal", score, 3, "large_int8", box)

    frames = [
        (DEVICE_A, 0, 1, (det(0.7, (320, 240, 160, 120)),), False),
        (DEVICE_A, 1, 1, (det(0.9, (320, 240, 160, 120)), det(0.6, (100, 100, 40, 40))), True),
        (DEVICE_A, 2, 1, (det(0.8, (330, 240, 160, 120)),), False),
        (DEVICE_A, 3600, 2, (det(0.55, (500, 400, 60, 50)),), False),
        (DEVICE_B, 10, 1, (det(0.95, (200, 200, 100, 100)),), True),
    ]
    records = []
    for device, offset_s, event, dets, full in frames:
        frame = FrameDetections(
            stamp_ns=T0_NS + offset_s * 10**9,
            frame_id="camera",
            event_id=event,
            detections=dets,
            thumbnail=jpeg(int(dets[0].box[2]), int(dets[0].box[3])),
            full_frame=jpeg(640, 480) if full else b"",
            extra={
                "device": device,
                "status": {
                    "battery": 0.8 - offset_s / 36000,
                    "mode": "normal",
                    "state": "warm",
                    "queue_depth": 3,
                    "projected_battery_h": 120.0,
                },
            },
        )
        for item in items_for_frame(frame, send_full_frames=True):
            records.append(
                Record(
                    {
                        "key": item.key,
                        "kind": item.kind,
                        "priority": 0,
                        "score": item.score,
                        "class_id": item.class_id,
                        "content_type": item.content_type,
                        "sha256": hashlib.sha256(item.payload).hexdigest(),
                        "meta": item.meta,
                    },
                    item.payload,
                )
            )
    store = GatewayStore(directory)
    try:
        results = store.ingest(records)
        assert all(r["status"] == "stored" for r in results), results
    finally:
        store.close()
