"""What the day report is made of: the run's records (:class:`RunData`) and the loaders of the
JSON inputs beside the bag (gateway listing, baseline, ground truth).

A run is a rosbag2 bag of the graph's topics (:mod:`wildcam.report.bag` reads it), the scene's
ground truth (animal visits, weather, nights), the gateway's listing of what it received and the
always-on baseline the energy is compared with. Every time in :class:`RunData` is in **scene
seconds** from the first camera frame; with a compressed day, scene seconds turn into a time of
day through :class:`Timebase`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.camera.scene import SceneConfig
from wildcam.camera.truth import GroundTruth, load_ground_truth
from wildcam.errors import InputError
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
    "Timebase",
    "TruthVisit",
    "UploadSample",
    "load_baseline",
    "load_gateway_listing",
    "truth_from_scene",
    "truth_scene",
]


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
    count: int  # animal boxes (the people and vehicles beside them are not counted)
    best_score: float
    stage: int  # stage that decided the best animal
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


def truth_from_scene(
    scene: SceneConfig,
) -> tuple[
    tuple[TruthVisit, ...], tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]
]:
    """Visits, IR nights and rain spells of a scene config."""
    visits = tuple(TruthVisit(v.start_s, v.end_s, v.species) for v in scene.visits)
    nights = tuple((i.start_s, i.end_s) for i in scene.ir_night)
    rain = tuple((i.start_s, i.end_s) for i in scene.rain)
    return visits, nights, rain


def truth_scene(truth: GroundTruth | SceneConfig | str | Path) -> SceneConfig:
    """The scene of ``truth``: a scene config, ground truth, or a ground-truth JSON file."""
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


def load_gateway_listing(
    source: str | Path | Mapping[str, Any] | Sequence[Any],
) -> list[dict[str, Any]]:
    """The items of a gateway listing: ``GET /v1/items``'s JSON, from a file or parsed.

    Accepts ``{"items": [...]}`` or the list itself; malformed input is InputError.
    """
    data = _json(source, "gateway listing")
    if isinstance(data, Mapping):
        data = data.get("items")
    if not isinstance(data, list) or not all(isinstance(i, Mapping) for i in data):
        raise InputError('a gateway listing is a list of item objects (or {"items": [...]})')
    return [dict(item) for item in data]


def load_baseline(source: str | Path | Mapping[str, Any]) -> Baseline:
    """A baseline from JSON (a file or parsed): ``{"description", "joules_by_stage": {...}}``."""
    data = _json(source, "baseline")
    try:
        stages = {str(k): float(v) for k, v in dict(data["joules_by_stage"]).items()}
        return Baseline(str(data.get("description", "always-on baseline")), stages)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(f"malformed baseline: {err!r}") from err
