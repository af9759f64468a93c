"""Upload test helpers: items, frames, configs and engines."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from wildcam.params import build_config
from wildcam.upload.config import UploaderConfig
from wildcam.upload.engine import UploadEngine
from wildcam.upload.items import DetectionInfo, FrameDetections
from wildcam.upload.link import SimulatedLink
from wildcam.upload.queue import DurableQueue, NewItem
from wildcam.upload.transport import HttpTransport


def item(
    key: str, kind: str = "thumbnail", size: int = 100, score: float = 0.5, class_id: str = "deer"
) -> NewItem:
    """A queue item with a payload of ``size`` bytes."""
    return NewItem(
        key=key, kind=kind, payload=(key.encode() * size)[:size], score=score, class_id=class_id
    )


def frame(index: int, thumb: int = 500, full: int = 0, score: float = 0.8) -> FrameDetections:
    """A frame with one detection, a thumbnail and optionally a full frame."""
    return FrameDetections(
        stamp_ns=index * 1_000_000_000 + 1,
        frame_id="cam",
        event_id=index,
        detections=(DetectionInfo("0", "deer", score, 1, "m", (1.0, 2.0, 3.0, 4.0)),),
        thumbnail=bytes([index % 256]) * thumb,
        full_frame=bytes([(index + 1) % 256]) * full,
    )


def config(**values: Any) -> UploaderConfig:
    """An uploader config for tests: fast backoff, simulated perfect link."""
    base = {
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.2,
        "idle_period_s": 0.02,
        "link_backend": "simulated",
        "link_profile": "3600:1.0",
    }
    return build_config(UploaderConfig, {**base, **values})


def engine(queue: DurableQueue, url: str, token: Path | str, **values: Any) -> UploadEngine:
    """An engine posting to ``url`` with a zero-joule radio, seeded jitter."""
    cfg = config(gateway_url=url, token_file=str(token), **values)
    transport = HttpTransport(
        cfg.gateway_url,
        cfg.token_file,
        timeout_s=cfg.request_timeout_s,
        compression=cfg.compression,
    )
    return UploadEngine(
        queue,
        transport,
        SimulatedLink(cfg.link_profile),
        cfg,
        energy=lambda n: n / 1e6,
        rng=random.Random(0),
    )


def drain(eng: UploadEngine, max_steps: int = 1000) -> int:
    """Step until the engine has nothing to send or backs off; the number of steps."""
    for n in range(1, max_steps + 1):
        if eng.step() > 0.0:
            return n
    raise AssertionError("engine never went idle")
