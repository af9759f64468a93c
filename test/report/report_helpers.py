"""Report-test helpers (imported by name: pytest puts this directory on sys.path): a recorded
run with known content, written with the rosbags writer and wildcam's typestore.

The scene is a one-minute compressed day (10 fps, 600 frames, 1 simulated day) with three
visits. The bag holds a message of every topic the report reads; the gateway listing holds
items for the detections of the first two visits and one for a frame with no animal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.rosbag2 import StoragePlugin, Writer

from wildcam.bags.typestore import typestore
from wildcam.camera.scene import Interval, SceneConfig, Visit

EPOCH_NS = 1_800_000_000 * 1_000_000_000
FPS = 10.0
FRAMES = 600
SCENE = SceneConfig(
    seed=0,
    duration_s=60.0,
    fps=FPS,
    day_length_s=60.0,
    day_start=0.25,
    visits=(Visit(5.0, 4.0, "deer"), Visit(20.0, 4.0, "fox"), Visit(40.0, 4.0, "bird")),
    rain=(Interval(30.0, 35.0, 0.5, "rain"),),
    ir_night=(Interval(50.0, 60.0),),
)
MOTION = {1: (52, 85), 2: (201, 238), 3: (300, 310)}  # event id -> first, last frame
DETECTION_FRAMES = {60: 1, 210: 2, 305: 3}  # frame -> event id (305: no animal there)
GATEWAY = [
    (60, "metadata", 200),
    (60, "thumbnail", 3000),
    (210, "metadata", 200),
    (305, "metadata", 250),
]  # frame, kind, size
MODES = [
    (0, 2, "normal", "start"),
    (300, 1, "low_power", "battery < 40 % & falling"),
    (450, 2, "normal", "manual override"),
]  # frame, mode, name, reason
CAPACITY_AH, VOLTAGE = 2.0, 3.7
STAGE_J = {"capture": 1.0, "motion": 0.5, "cascade_stage1": 0.2, "upload": 0.3}  # per report
STAGE3_J, STAGE3_FRAME = 0.9, 210


def frame_ns(index: int) -> int:
    """Header stamp (and bag time) of scene frame ``index``."""
    return EPOCH_NS + round(index * 1e9 / FPS)


def build(store: Any, msgtype: str, **values: Any) -> Any:
    """A message of ``msgtype`` with every field defaulted (zeros, empty) except ``values``."""
    _, fields = store.fielddefs[msgtype]
    kwargs = {}
    for name, (kind, detail) in fields:
        if name in values:
            kwargs[name] = values[name]
        elif kind == Nodetype.NAME:
            kwargs[name] = build(store, detail)
        elif kind == Nodetype.BASE:
            kwargs[name] = {"string": "", "bool": False}.get(detail[0], 0)
            if detail[0].startswith("float"):
                kwargs[name] = 0.0
        else:
            (sub_kind, sub), length = detail
            if sub_kind == Nodetype.NAME:
                kwargs[name] = [build(store, sub) for _ in range(length)]
            elif sub[0] == "string":
                kwargs[name] = [""] * length
            else:
                kwargs[name] = np.zeros(length, dtype=bool if sub[0] == "bool" else sub[0])
    return store.types[msgtype](**kwargs)


@dataclass(frozen=True)
class KnownRun:
    """Paths of the written run and what the report must compute from it."""

    bag: Path
    gateway: Path
    recall: float
    false_uploads: int
    false_upload_bytes: int
    total_j: float
    capacity_j: float


def write_known_run(directory: Path) -> KnownRun:
    """Write the bag and the gateway listing described in the module docstring."""
    store = typestore()

    def header(index: int) -> Any:
        sec, nanosec = divmod(frame_ns(index), 1_000_000_000)
        stamp = build(store, "builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec)
        return build(store, "std_msgs/msg/Header", stamp=stamp, frame_id="camera")

    messages: list[tuple[int, str, str, Any]] = []  # bag ns, topic, type, message

    def add(index: int, topic: str, msgtype: str, **values: Any) -> None:
        messages.append(
            (
                frame_ns(index) + 1000,
                topic,
                msgtype,
                build(store, msgtype, header=header(index), **values),
            )
        )

    for k in range(FRAMES):
        add(k, "/camera/small/camera_info", "sensor_msgs/msg/CameraInfo", width=640, height=480)
    for event, (first, last) in MOTION.items():
        for k in range(first, last + 1):
            add(
                k,
                "/motion/events",
                "wildcam/msg/MotionEvent",
                event_id=event,
                event_started=k == first,
                event_ended=k == last,
                frame_width=640,
                frame_height=480,
                changed_fraction=0.05,
            )
    for k, event in DETECTION_FRAMES.items():
        det = build(
            store,
            "wildcam/msg/Detection",
            id="0",
            class_id="animal",
            score=0.9,
            stage=1,
            model_id="tiny",
            size_x=50.0,
            size_y=40.0,
        )
        add(
            k, "/detections/events", "wildcam/msg/DetectionArray", event_id=event, detections=[det]
        )
    for k, mode, name, reason in MODES:
        add(
            k,
            "/power/state",
            "wildcam/msg/PowerState",
            mode=mode,
            mode_name=name,
            reason=reason,
            battery_percentage=0.5,
            temperature=float("nan"),
            manual_override=reason == "manual override",
        )
    for k in range(0, FRAMES, 50):
        add(
            k,
            "/power/battery",
            "sensor_msgs/msg/BatteryState",
            voltage=VOLTAGE,
            percentage=0.8 - 0.1 * k / FRAMES,
            capacity=CAPACITY_AH,
            design_capacity=CAPACITY_AH,
            power_supply_status=2,
            present=True,
            temperature=float("nan"),
            current=float("nan"),
            charge=float("nan"),
        )
        add(
            k,
            "/uploader/status",
            "wildcam/msg/UploadStatus",
            queue_depth=k // 100,
            bytes_sent=10 * k,
            items_sent=k // 50,
            link_up=True,
        )
    total = 0.0
    for k in range(100, FRAMES + 1, 100):
        stages = [
            build(store, "wildcam/msg/StageEnergy", stage=s, count=100, joules=j)
            for s, j in STAGE_J.items()
        ]
        total += sum(STAGE_J.values())
        if k == 300:
            stages.append(
                build(
                    store,
                    "wildcam/msg/StageEnergy",
                    stage="cascade_stage3",
                    count=1,
                    joules=STAGE3_J,
                )
            )
            total += STAGE3_J
        add(
            min(k, FRAMES - 1),
            "/energy",
            "wildcam/msg/EnergyReport",
            node="cascade_detector",
            profile="rpi4b",
            period_s=10.0,
            stages=stages,
        )

    bag = directory / "run_bag"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns: dict[str, Any] = {}
        for stamp, topic, msgtype, msg in sorted(messages, key=lambda m: m[0]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conns[topic], stamp, store.serialize_cdr(msg, msgtype))
    gateway = directory / "gateway.json"
    # as the gateway's GET /v1/items lists them: the frame's stamp is the key's prefix
    gateway.write_text(
        json.dumps(
            {
                "items": [
                    {
                        "seq": i + 1,
                        "key": f"{frame_ns(k)}-abcdef0123456789-{kind[0]}",
                        "sha256": "0" * 64,
                        "size": size,
                        "kind": kind,
                        "priority": 0,
                        "score": 0.9,
                        "class_id": "animal",
                        "content_type": "application/json",
                        "meta": {"frame": f"{frame_ns(k)}-abcdef01"},
                        "received": 1.8e9 + i,
                    }
                    for i, (k, kind, size) in enumerate(GATEWAY)
                ]
            }
        )
    )
    false_items = [(k, kind, size) for k, kind, size in GATEWAY if k == 305]
    return KnownRun(
        bag,
        gateway,
        recall=2 / 3,
        false_uploads=len(false_items),
        false_upload_bytes=sum(s for *_, s in false_items),
        total_j=total,
        capacity_j=CAPACITY_AH * 3600 * VOLTAGE,
    )
