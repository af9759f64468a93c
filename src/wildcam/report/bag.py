"""The bag loader: a recorded run (rosbag2 bag, ground truth, gateway listing, baseline)
into :class:`~wildcam.report.data.RunData`.

The topics read are the node table's (:data:`TOPICS`, found by message type), so a renamed
topic is followed. Every time is in scene seconds from the first camera frame: the k-th
``camera/small/camera_info`` message is scene frame k, a message with a frame's header stamp
maps to that frame exactly, any other is placed by its receive time between the frames around
it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wildcam.camera.scene import SceneConfig
from wildcam.camera.truth import GroundTruth
from wildcam.errors import InputError, WildcamError
from wildcam.graph import NODES
from wildcam.power.sources import charging_from_status
from wildcam.report.data import (
    Baseline,
    BatterySample,
    DetectionRecord,
    EnergySample,
    GatewayItem,
    ModeSwitch,
    MotionSpan,
    RunData,
    StageJoules,
    Timebase,
    UploadSample,
    load_baseline,
    load_gateway_listing,
    truth_from_scene,
    truth_scene,
)
from wildcam.report.metrics import estimate_baseline
from wildcam.types import NOT_ANIMALS

__all__ = ["TOPICS", "frame_indices", "load_run", "published", "read_topics", "stamp_ns"]


def published(msgtype: str) -> str:
    """The bag topic name of the node table's first publisher of ``msgtype``."""
    for spec in NODES:
        for topic, kind in spec.publishes:
            if kind == msgtype:
                return "/" + topic.lstrip("/")
    raise LookupError(f"no node of the table publishes {msgtype}")


TOPICS = {
    "state": published("wildcam/PowerState"),
    "battery": published("sensor_msgs/BatteryState"),
    "motion": published("wildcam/MotionEvent"),
    "detections": published("wildcam/DetectionArray"),
    "energy": published("wildcam/EnergyReport"),
    "upload": published("wildcam/UploadStatus"),
    "info": published("sensor_msgs/CameraInfo"),
}
"""The topics a run records (bag topic names) and the report reads."""

_FRAME_KEY = re.compile(r"^(\d{10,})-")


class _Clock:
    """Maps header stamps and bag times to scene seconds through the camera frames."""

    def __init__(self, frames: Sequence[tuple[int, int]], fps: float, t0_ns: int) -> None:
        # frames: (header stamp ns, bag time ns) of each camera_info, in bag order
        self.fps = fps
        index = frame_indices([stamp for stamp, _ in frames])
        self.by_stamp: dict[int, int] = {}
        for k, (stamp, _) in enumerate(frames):
            self.by_stamp.setdefault(stamp, int(index[k]))
        self._bag = np.array([b for _, b in frames], dtype=np.float64)
        self._scene = index.astype(np.float64) / fps
        self.last_index = int(index[-1]) if len(index) else -1
        self._t0 = t0_ns

    def at_bag(self, bag_ns: int) -> float:
        """Scene seconds of a message received at bag time ``bag_ns`` (after the last frame:
        at the frames' average rate, the scene goes on while the camera is closed)."""
        if len(self._bag) >= 2:
            if bag_ns > self._bag[-1] and self._bag[-1] > self._bag[0]:
                rate = (self._scene[-1] - self._scene[0]) / (self._bag[-1] - self._bag[0])
                return float(self._scene[-1] + (bag_ns - self._bag[-1]) * rate)
            return float(np.interp(bag_ns, self._bag, self._scene))
        return max(0.0, (bag_ns - self._t0) / 1e9)

    def at_stamp(self, stamp_ns: int | None, bag_ns: int | None = None) -> float | None:
        """Scene seconds of the frame stamped ``stamp_ns`` (else by bag time, else None)."""
        if stamp_ns is not None and stamp_ns in self.by_stamp:
            return self.by_stamp[stamp_ns] / self.fps
        return None if bag_ns is None else self.at_bag(bag_ns)


def frame_indices(stamps: Sequence[int]) -> npt.NDArray[np.int64]:
    """Scene frame index of each captured frame from the capture stamps.

    The camera reads the scene frame due at each capture (:class:`wildcam.camera.capture.
    SceneClock`), so consecutive frames are one capture period apart, and a gap (the camera
    closed in watch or sleep, or late) skips the frames it spans: the steps are the gaps in
    units of the usual (median) period, at least one.
    """
    if len(stamps) < 2:
        return np.zeros(len(stamps), dtype=np.int64)
    gaps = np.diff(np.asarray(stamps, dtype=np.float64))
    positive = gaps[gaps > 0]
    period = float(np.median(positive)) if len(positive) else 1.0
    steps = np.maximum(1, np.rint(gaps / period)).astype(np.int64)
    return np.concatenate([[0], np.cumsum(steps)])


def read_topics(bag: Path, topics: Iterable[str]) -> dict[str, list[tuple[int, Any]]]:
    """Every message of ``topics`` (bag topic names), deserialized and in bag-time order:
    topic -> [(bag time, msg)]. Raises BagError for a bad bag, InputError for bad CDR."""
    from wildcam.bags.storage import messages, open_bag
    from wildcam.bags.typestore import typestore

    store = typestore()
    wanted = set(topics)
    out: dict[str, list[tuple[int, Any]]] = {t: [] for t in wanted}
    with open_bag(bag) as reader:
        conns = [c for c in reader.connections if c.topic in wanted]
        for conn, bag_ns, raw in messages(reader, conns):
            try:
                out[conn.topic].append((bag_ns, store.deserialize_cdr(raw, conn.msgtype)))
            except Exception as err:  # rosbags raises many kinds on bad CDR
                raise InputError(
                    f"{bag}: cannot decode a {conn.msgtype} message on {conn.topic}: {err}"
                ) from err
    for records in out.values():
        records.sort(key=lambda r: r[0])
    return out


def stamp_ns(stamp: Any) -> int:
    """A ``builtin_interfaces/Time`` in nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _float(value: float) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _motion_spans(
    records: Iterable[tuple[int, Any]], clock: _Clock, end_s: float
) -> tuple[MotionSpan, ...]:
    opened: dict[int, float] = {}
    spans: list[MotionSpan] = []
    for bag_ns, msg in records:
        if not msg.event_id:
            continue
        t = clock.at_stamp(stamp_ns(msg.header.stamp), bag_ns)
        assert t is not None
        if msg.event_id not in opened:  # a recording may start inside an event
            opened[msg.event_id] = t
        if msg.event_ended:
            spans.append(MotionSpan(msg.event_id, opened.pop(msg.event_id), t))
    spans += [MotionSpan(eid, start, max(start, end_s)) for eid, start in opened.items()]
    return tuple(sorted(spans, key=lambda s: s.start_s))


def _detection(bag_ns: int, msg: Any, clock: _Clock) -> DetectionRecord:
    animals = [d for d in msg.detections if d.class_id not in NOT_ANIMALS]
    best = max(animals, key=lambda d: d.score, default=None)
    stamp = stamp_ns(msg.header.stamp)
    t = clock.at_stamp(stamp, bag_ns)
    assert t is not None
    return DetectionRecord(
        t,
        stamp,
        int(msg.event_id),
        len(animals),
        float(best.score) if best else math.nan,
        int(best.stage) if best else 0,
        str(best.model_id) if best else "",
    )


def _gateway_item(item: Mapping[str, Any], clock: _Clock) -> GatewayItem:
    """An item of ``GET /v1/items``: its key starts with the frame's stamp (the uploader's
    ``<stamp ns>-<digest>-<kind>``); one without it is placed by when it was received."""
    named = _FRAME_KEY.match(str(item.get("key", "")))
    stamp = int(named.group(1)) if named else None
    t = clock.at_stamp(stamp)
    received = item.get("received")
    if t is None and isinstance(received, (int, float)):
        t = clock.at_bag(round(received * 1e9))
    size = item.get("size")
    return GatewayItem(
        key=str(item.get("key", "")),
        kind=str(item.get("kind", "item")),
        size=int(size) if isinstance(size, (int, float)) else 0,
        stamp_ns=stamp,
        t_s=t,
    )


def _idle_w(profile: str) -> float | None:
    from wildcam.power.profile import load_profile

    try:
        return load_profile(profile).idle_w
    except WildcamError:
        return None


def load_run(
    bag: str | Path,
    truth: GroundTruth | SceneConfig | str | Path | None,
    gateway: str | Path | Mapping[str, Any] | Sequence[Any] | None = None,
    baseline: Baseline | str | Path | Mapping[str, Any] | None = None,
    fps: float | None = None,
) -> RunData:
    """Load a recorded run.

    ``truth`` is the scene (its config, or a ground-truth JSON file; None for a real camera:
    no visits, no time of day); ``fps`` the camera's frame rate (default: the scene's).
    ``gateway`` is the gateway's listing (None: no gateway);
    ``baseline`` the always-on comparison (None: estimated from the run, see
    :func:`wildcam.report.metrics.estimate_baseline`). Raises BagError for a bad bag and
    InputError for malformed inputs.
    """
    scene = truth_scene(truth) if truth is not None else SceneConfig(fps=fps or 10.0)
    fps = fps or scene.fps
    topics = read_topics(Path(bag), TOPICS.values())
    info = topics[TOPICS["info"]]
    all_ns = [ns for records in topics.values() for ns, _ in records]
    clock = _Clock(
        [(stamp_ns(m.header.stamp), ns) for ns, m in info], fps, min(all_ns) if all_ns else 0
    )
    frames = len(info)
    duration = max((clock.at_bag(ns) for ns in all_ns), default=0.0)
    if frames:  # the scene goes on after the last frame while the camera is closed
        duration = max(
            (clock.last_index + 1) / fps,
            min(duration, scene.duration_s) if truth is not None else 0.0,
        )
    visits, nights, rain = truth_from_scene(scene)
    notes: list[str] = []
    if not frames:
        notes.append(
            "no camera/small/camera_info in the bag: times are bag seconds from the first message"
        )
    for name, topic in TOPICS.items():
        if name != "info" and not topics[topic]:
            notes.append(f"no {topic} messages in the bag")

    modes = tuple(
        ModeSwitch(
            clock.at_bag(ns),
            int(m.mode),
            str(m.mode_name),
            str(m.reason),
            _float(m.battery_percentage),
            bool(m.charging),
            bool(m.manual_override),
            str(getattr(m, "device_state", "")),
            str(getattr(m, "device_state_reason", "")),
        )
        for ns, m in topics[TOPICS["state"]]
    )
    battery = tuple(
        BatterySample(
            clock.at_bag(ns),
            _float(m.percentage),
            _float(m.voltage),
            _float(
                m.capacity if math.isfinite(m.capacity) and m.capacity > 0 else m.design_capacity
            ),
            charging_from_status(int(m.power_supply_status)) is True,
        )
        for ns, m in topics[TOPICS["battery"]]
    )
    energy = tuple(
        EnergySample(
            clock.at_bag(ns),
            str(m.node),
            str(m.profile),
            float(m.period_s),
            tuple(
                StageJoules(str(s.stage), int(s.count), float(s.cpu_seconds), float(s.joules))
                for s in m.stages
            ),
        )
        for ns, m in topics[TOPICS["energy"]]
    )
    uploads = tuple(
        UploadSample(
            clock.at_bag(ns),
            int(m.queue_depth),
            int(m.queue_bytes),
            int(m.items_sent),
            int(m.bytes_sent),
            int(m.retries),
            int(m.evictions),
            bool(m.link_up),
        )
        for ns, m in topics[TOPICS["upload"]]
    )
    profiles = Counter(e.profile for e in energy if e.profile)
    profile = profiles.most_common(1)[0][0] if profiles else ""
    idle_w = _idle_w(profile) if profile else None
    if idle_w is None:
        notes.append("no power profile known: idle power left out of the battery projection")
    items = None
    if gateway is not None:
        items = tuple(_gateway_item(i, clock) for i in load_gateway_listing(gateway))
    run = RunData(
        duration_s=duration,
        fps=fps,
        frames=frames,
        timebase=Timebase.for_scene(scene),
        has_truth=truth is not None,
        visits=tuple(v for v in visits if v.start_s < duration) if frames else visits,
        nights=nights,
        rain=rain,
        modes=modes,
        battery=battery,
        motion=_motion_spans(topics[TOPICS["motion"]], clock, duration),
        detections=tuple(_detection(ns, m, clock) for ns, m in topics[TOPICS["detections"]]),
        energy=energy,
        uploads=uploads,
        gateway=items,
        idle_w=idle_w,
        profile=profile,
        source=str(bag),
        notes=tuple(notes),
    )
    if isinstance(baseline, Baseline):
        chosen: Baseline | None = baseline
    elif baseline is not None:
        chosen = load_baseline(baseline)
    else:
        chosen = estimate_baseline(run)
    return dataclasses.replace(run, baseline=chosen)
