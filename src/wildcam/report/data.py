"""What the day report is made of: :class:`RunData`, loaded from a recorded run.

A run is a rosbag2 bag of the graph's topics (read with rosbags through wildcam's typestore),
the scene's ground truth (animal visits, weather, nights), the gateway's listing of what it
received and the always-on baseline the energy is compared with.

Every time in :class:`RunData` is in **scene seconds** from the first camera frame. The k-th
``camera/camera_info`` message in the bag is scene frame k (the camera reads the scene frame by
frame), so a message that carries a frame's header stamp (motion events, detections, items at
the gateway) maps to that frame exactly; any other message is placed by its bag (receive) time,
interpolated between the frames received around it. With a compressed day, scene seconds turn
into a time of day through :class:`Timebase`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wildcam.camera.scene import SceneConfig
from wildcam.camera.truth import GroundTruth, load_ground_truth
from wildcam.errors import InputError, WildcamError
from wildcam.types import DAY_S

__all__ = [
    "Baseline",
    "BatterySample",
    "DetectionRecord",
    "EnergySample",
    "GatewayItem",
    "ModeSwitch",
    "MotionSpan",
    "RunData",
    "StageJoules",
    "TOPICS",
    "Timebase",
    "TruthVisit",
    "UploadSample",
    "load_baseline",
    "load_gateway_listing",
    "load_run",
    "truth_from_scene",
]

TOPICS = {
    "state": "/power/state",
    "battery": "/power/battery",
    "motion": "/motion/events",
    "detections": "/detections",
    "energy": "/energy",
    "upload": "/uploader/status",
    "info": "/camera/camera_info",
}
"""The topics a run records (bag topic names) and the report reads."""

_FRAME_KEY = re.compile(r"^(\d{10,})-")


@dataclass(frozen=True)
class Timebase:
    """Scene seconds to simulated time: ``time_scale`` simulated seconds per scene second.

    For a compressed day (``day_length_s`` set in the scene) ``time_scale`` is
    ``86400 / day_length_s`` and scene second 0 is ``day_start`` (fraction of a day after
    midnight); otherwise simulated time is scene time and there is no time of day.
    """

    time_scale: float = 1.0
    day_start: float | None = None

    @classmethod
    def for_scene(cls, scene: SceneConfig) -> Timebase:
        """The timebase of ``scene``."""
        if scene.day_length_s:
            return cls(DAY_S / scene.day_length_s, scene.day_start)
        return cls()

    @property
    def is_day(self) -> bool:
        """Whether scene times have a time of day."""
        return self.day_start is not None

    def simulated_s(self, scene_s: float) -> float:
        """Simulated seconds since the start of the run."""
        return scene_s * self.time_scale

    def hour_of_day(self, scene_s: float) -> float:
        """Hours since the midnight before the run (may exceed 24); scene seconds if no day."""
        if self.day_start is None:
            return scene_s
        return self.day_start * 24.0 + self.simulated_s(scene_s) / 3600.0

    def clock(self, scene_s: float) -> str:
        """``HH:MM`` of the simulated day (``123.4 s`` without a day)."""
        if self.day_start is None:
            return f"{scene_s:.1f} s"
        minutes = int(round(self.hour_of_day(scene_s) * 60)) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class TruthVisit:
    """One ground-truth animal visit, scene seconds."""

    start_s: float
    end_s: float
    species: str = ""


@dataclass(frozen=True)
class ModeSwitch:
    """One ``power/state`` message: the mode entered and why."""

    t_s: float
    mode: int
    mode_name: str
    reason: str
    battery: float  # 0..1, NaN when unknown
    charging: bool
    manual_override: bool
    device_state: str = ""  # warm / watch / sleep ("" in runs from before the states)
    device_state_reason: str = ""


@dataclass(frozen=True)
class BatterySample:
    """One ``power/battery`` message."""

    t_s: float
    percentage: float  # 0..1, NaN when unknown
    voltage: float  # V, NaN when unknown
    capacity_ah: float  # full-charge capacity, NaN when unknown
    charging: bool


@dataclass(frozen=True)
class MotionSpan:
    """One motion event from its first to its last message, scene seconds."""

    event_id: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class DetectionRecord:
    """One ``detections`` message (a frame the cascade decided "animal")."""

    t_s: float
    stamp_ns: int
    event_id: int
    count: int
    best_score: float
    stage: int  # stage that decided the best detection
    model_id: str


@dataclass(frozen=True)
class StageJoules:
    """Energy of one stage in one report."""

    stage: str
    count: int
    cpu_seconds: float
    joules: float


@dataclass(frozen=True)
class EnergySample:
    """One ``energy`` report of one node."""

    t_s: float
    node: str
    profile: str
    period_s: float
    stages: tuple[StageJoules, ...]


@dataclass(frozen=True)
class UploadSample:
    """One ``uploader/status`` message."""

    t_s: float
    queue_depth: int
    queue_bytes: int
    items_sent: int
    bytes_sent: int
    retries: int
    evictions: int
    link_up: bool


@dataclass(frozen=True)
class GatewayItem:
    """One item the gateway received, placed at its frame's scene time when known."""

    key: str
    kind: str
    size: int
    stamp_ns: int | None
    t_s: float | None


@dataclass(frozen=True)
class Baseline:
    """The always-on comparison: energy by stage for the same frames with no gating."""

    description: str
    joules_by_stage: Mapping[str, float]

    @property
    def total_j(self) -> float:
        """All stages together."""
        return float(sum(self.joules_by_stage.values()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as :func:`load_baseline` reads it."""
        return {"description": self.description, "joules_by_stage": dict(self.joules_by_stage)}


@dataclass(frozen=True)
class RunData:
    """Everything one report is drawn and counted from (scene seconds throughout)."""

    duration_s: float  # scene seconds the run covered (frames / fps)
    fps: float
    frames: int
    timebase: Timebase
    visits: tuple[TruthVisit, ...]
    has_truth: bool = True  # False: a real camera, no ground truth to score against
    nights: tuple[tuple[float, float], ...] = ()
    rain: tuple[tuple[float, float], ...] = ()
    modes: tuple[ModeSwitch, ...] = ()
    battery: tuple[BatterySample, ...] = ()
    motion: tuple[MotionSpan, ...] = ()
    detections: tuple[DetectionRecord, ...] = ()
    energy: tuple[EnergySample, ...] = ()
    uploads: tuple[UploadSample, ...] = ()
    gateway: tuple[GatewayItem, ...] | None = None  # None: no listing given
    baseline: Baseline | None = None
    idle_w: float | None = None  # the board's idle power under the run's power profile
    profile: str = ""  # the run's power profile
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def _stage_sums(self, name: str) -> dict[str, Any]:
        totals: dict[str, Any] = {}
        for sample in self.energy:
            for stage in sample.stages:
                totals[stage.stage] = totals.get(stage.stage, 0) + getattr(stage, name)
        return totals

    def joules_by_stage(self) -> dict[str, float]:
        """Energy of every stage over the run, all nodes together."""
        return {k: float(v) for k, v in self._stage_sums("joules").items()}

    def stage_counts(self) -> dict[str, int]:
        """Operations of every stage over the run."""
        return {k: int(v) for k, v in self._stage_sums("count").items()}


# --- ground truth ---------------------------------------------------------------------------

def truth_from_scene(scene: SceneConfig) -> tuple[tuple[TruthVisit, ...],
                                                  tuple[tuple[float, float], ...],
                                                  tuple[tuple[float, float], ...]]:
    """Visits, IR nights and rain spells of a scene config."""
    visits = tuple(TruthVisit(v.start_s, v.end_s, v.species) for v in scene.visits)
    nights = tuple((i.start_s, i.end_s) for i in scene.ir_night)
    rain = tuple((i.start_s, i.end_s) for i in scene.rain)
    return visits, nights, rain


def _truth(truth: GroundTruth | SceneConfig | str | Path) -> SceneConfig:
    if isinstance(truth, (str, Path)):
        truth = load_ground_truth(truth)
    return truth.config if isinstance(truth, GroundTruth) else truth


# --- gateway listing and baseline files -----------------------------------------------------

def _json(source: Any, what: str) -> Any:
    """``source`` parsed: read as JSON when it is a path, else as given."""
    if not isinstance(source, (str, Path)):
        return source
    try:
        return json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {what} {source}: {err}") from err


def load_gateway_listing(source: str | Path | Mapping[str, Any] | Sequence[Any]
                         ) -> list[dict[str, Any]]:
    """The items of a gateway listing: ``GET /v1/items``'s JSON, from a file or parsed.

    Accepts ``{"items": [...]}`` or the list itself; malformed input is InputError.
    """
    data = _json(source, "gateway listing")
    if isinstance(data, Mapping):
        data = data.get("items")
    if not isinstance(data, list) or not all(isinstance(i, Mapping) for i in data):
        raise InputError("a gateway listing is a list of item objects (or {\"items\": [...]})")
    return [dict(item) for item in data]


def load_baseline(source: str | Path | Mapping[str, Any]) -> Baseline:
    """A baseline from JSON (a file or parsed): ``{"description", "joules_by_stage": {...}}``."""
    data = _json(source, "baseline")
    try:
        stages = {str(k): float(v) for k, v in dict(data["joules_by_stage"]).items()}
        return Baseline(str(data.get("description", "always-on baseline")), stages)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(f"malformed baseline: {err!r}") from err


# --- the bag --------------------------------------------------------------------------------

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


def _read_bag(bag: Path) -> dict[str, list[tuple[int, Any]]]:
    """Every message of the report's topics, deserialized: topic -> [(bag time, msg)]."""
    from wildcam.bags.storage import messages, open_bag
    from wildcam.bags.typestore import typestore

    store = typestore()
    wanted = set(TOPICS.values())
    out: dict[str, list[tuple[int, Any]]] = {t: [] for t in wanted}
    with open_bag(bag) as reader:
        conns = [c for c in reader.connections if c.topic in wanted]
        for conn, bag_ns, raw in messages(reader, conns):
            try:
                out[conn.topic].append((bag_ns, store.deserialize_cdr(raw, conn.msgtype)))
            except Exception as err:  # rosbags raises many kinds on bad CDR
                raise InputError(f"{bag}: cannot decode a {conn.msgtype} message on "
                                 f"{conn.topic}: {err}") from err
    for records in out.values():
        records.sort(key=lambda r: r[0])
    return out


def _ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _float(value: float) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan


def _motion_spans(records: Iterable[tuple[int, Any]], clock: _Clock,
                  end_s: float) -> tuple[MotionSpan, ...]:
    opened: dict[int, float] = {}
    spans: list[MotionSpan] = []
    for bag_ns, msg in records:
        if not msg.event_id:
            continue
        t = clock.at_stamp(_ns(msg.header.stamp), bag_ns)
        assert t is not None
        if msg.event_id not in opened:  # a recording may start inside an event
            opened[msg.event_id] = t
        if msg.event_ended:
            spans.append(MotionSpan(msg.event_id, opened.pop(msg.event_id), t))
    spans += [MotionSpan(eid, start, max(start, end_s)) for eid, start in opened.items()]
    return tuple(sorted(spans, key=lambda s: s.start_s))


def _detection(bag_ns: int, msg: Any, clock: _Clock) -> DetectionRecord:
    best = max(msg.detections, key=lambda d: d.score, default=None)
    stamp = _ns(msg.header.stamp)
    t = clock.at_stamp(stamp, bag_ns)
    assert t is not None
    return DetectionRecord(t, stamp, int(msg.event_id), len(msg.detections),
                           float(best.score) if best else math.nan,
                           int(best.stage) if best else 0, str(best.model_id) if best else "")


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
    return GatewayItem(key=str(item.get("key", "")), kind=str(item.get("kind", "item")),
                       size=int(size) if isinstance(size, (int, float)) else 0,
                       stamp_ns=stamp, t_s=t)


def _idle_w(profile: str) -> float | None:
    from wildcam.power.profile import load_profile

    try:
        return load_profile(profile).idle_w
    except WildcamError:
        return None


def load_run(bag: str | Path, truth: GroundTruth | SceneConfig | str | Path | None,
             gateway: str | Path | Mapping[str, Any] | Sequence[Any] | None = None,
             baseline: Baseline | str | Path | Mapping[str, Any] | None = None,
             fps: float | None = None) -> RunData:
    """Load a recorded run.

    ``truth`` is the scene (its config, or a ground-truth JSON file; None for a real camera:
    no visits, no time of day); ``fps`` the camera's frame rate (default: the scene's).
    ``gateway`` is the gateway's listing (None: no gateway);
    ``baseline`` the always-on comparison (None: estimated from the run, see
    :func:`wildcam.report.metrics.estimate_baseline`). Raises BagError for a bad bag and
    InputError for malformed inputs.
    """
    from wildcam.report.metrics import estimate_baseline

    scene = _truth(truth) if truth is not None else SceneConfig(fps=fps or 10.0)
    fps = fps or scene.fps
    topics = _read_bag(Path(bag))
    info = topics[TOPICS["info"]]
    all_ns = [ns for records in topics.values() for ns, _ in records]
    clock = _Clock([(_ns(m.header.stamp), ns) for ns, m in info], fps,
                   min(all_ns) if all_ns else 0)
    frames = len(info)
    duration = max((clock.at_bag(ns) for ns in all_ns), default=0.0)
    if frames:  # the scene goes on after the last frame while the camera is closed
        duration = max((clock.last_index + 1) / fps, min(duration, scene.duration_s)
                       if truth is not None else 0.0)
    visits, nights, rain = truth_from_scene(scene)
    notes: list[str] = []
    if not frames:
        notes.append("no camera/camera_info in the bag: times are bag seconds from the first "
                     "message")
    for name, topic in TOPICS.items():
        if name != "info" and not topics[topic]:
            notes.append(f"no {topic} messages in the bag")

    modes = tuple(ModeSwitch(clock.at_bag(ns), int(m.mode), str(m.mode_name), str(m.reason),
                             _float(m.battery_percentage), bool(m.charging),
                             bool(m.manual_override), str(getattr(m, "device_state", "")),
                             str(getattr(m, "device_state_reason", "")))
                  for ns, m in topics[TOPICS["state"]])
    battery = tuple(BatterySample(clock.at_bag(ns), _float(m.percentage), _float(m.voltage),
                                  _float(m.capacity if math.isfinite(m.capacity)
                                         and m.capacity > 0 else m.design_capacity),
                                  int(m.power_supply_status) == 1)
                    for ns, m in topics[TOPICS["battery"]])
    energy = tuple(EnergySample(clock.at_bag(ns), str(m.node), str(m.profile), float(m.period_s),
                                tuple(StageJoules(str(s.stage), int(s.count),
                                                  float(s.cpu_seconds), float(s.joules))
                                      for s in m.stages))
                   for ns, m in topics[TOPICS["energy"]])
    uploads = tuple(UploadSample(clock.at_bag(ns), int(m.queue_depth), int(m.queue_bytes),
                                 int(m.items_sent), int(m.bytes_sent), int(m.retries),
                                 int(m.evictions), bool(m.link_up))
                    for ns, m in topics[TOPICS["upload"]])
    profiles = Counter(e.profile for e in energy if e.profile)
    profile = profiles.most_common(1)[0][0] if profiles else ""
    idle_w = _idle_w(profile) if profile else None
    if idle_w is None:
        notes.append("no power profile known: idle power left out of the battery projection")
    items = None
    if gateway is not None:
        items = tuple(_gateway_item(i, clock) for i in load_gateway_listing(gateway))
    run = RunData(
        duration_s=duration, fps=fps, frames=frames, timebase=Timebase.for_scene(scene),
        has_truth=truth is not None,
        visits=tuple(v for v in visits if v.start_s < duration) if frames else visits,
        nights=nights, rain=rain, modes=modes, battery=battery,
        motion=_motion_spans(topics[TOPICS["motion"]], clock, duration),
        detections=tuple(_detection(ns, m, clock) for ns, m in topics[TOPICS["detections"]]),
        energy=energy, uploads=uploads, gateway=items, idle_w=idle_w, profile=profile,
        source=str(bag),
        notes=tuple(notes))
    if isinstance(baseline, Baseline):
        chosen: Baseline | None = baseline
    elif baseline is not None:
        chosen = load_baseline(baseline)
    else:
        chosen = estimate_baseline(run)
    return dataclasses.replace(run, baseline=chosen)
