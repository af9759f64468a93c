"""Configuration of the synthetic camera-trap scene: visits, nuisances, presets, scene files.

Times are seconds from the start of the scene; sizes are fractions of the frame so one
configuration renders the same layout at any resolution. Every interval is half-open,
``start_s <= t < end_s``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from wildcam.errors import ConfigError

__all__ = [
    "DIRECTIONS",
    "PRECIPITATION",
    "SPECIES",
    "Interval",
    "SceneConfig",
    "Visit",
    "daylight",
    "load_scene",
    "scene_from_dict",
    "scene_to_dict",
]

SPECIES: dict[str, float] = {"deer": 1.35, "fox": 1.9, "bird": 1.3}
"""Known sprite kinds and their width / height aspect."""

DIRECTIONS = ("left_to_right", "right_to_left")
PRECIPITATION = ("rain", "snow")
MAX_SIDE = 4096


class Interval(NamedTuple):
    """A time span ``[start_s, end_s)`` with a level in 0..1 and an optional kind label."""

    start_s: float
    end_s: float
    strength: float = 1.0
    kind: str = ""

    def contains(self, t: float) -> bool:
        """Whether ``t`` lies in the half-open span."""
        return self.start_s <= t < self.end_s

    @property
    def duration_s(self) -> float:
        """Length of the span in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Visit:
    """One animal walking through the frame.

    The animal enters at ``start_s`` from the edge named by ``direction``, walks at ``speed``
    frame widths per second, stops ``pause_at`` of the way across for as long as it takes to
    make the visit last ``duration_s``, then leaves by the other edge. If ``duration_s`` is
    shorter than the crossing, it walks faster. ``size`` is the sprite height as a fraction of
    the frame height; ``ground_y`` is where its feet are, as a fraction of the frame height.
    """

    start_s: float
    duration_s: float
    species: str = "deer"
    size: float = 0.3
    direction: str = "left_to_right"
    speed: float = 0.15
    ground_y: float = 0.8
    pause_at: float = 0.5

    def __post_init__(self) -> None:
        if self.species not in SPECIES:
            raise ConfigError(f"unknown species {self.species!r}; known: {sorted(SPECIES)}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        _check(self.start_s >= 0 and self.duration_s > 0, f"visit span {self}")
        _check(0 < self.size <= 0.9, f"visit size {self.size} not in (0, 0.9]")
        _check(0 < self.speed <= 5, f"visit speed {self.speed} not in (0, 5]")
        _check(0.2 <= self.ground_y <= 1.0, f"visit ground_y {self.ground_y} not in [0.2, 1]")
        _check(0 <= self.pause_at <= 1, f"visit pause_at {self.pause_at} not in [0, 1]")

    @property
    def end_s(self) -> float:
        """When the animal has left the frame."""
        return self.start_s + self.duration_s

    def sprite_size(self, width: int, height: int) -> tuple[int, int]:
        """Sprite (width, height) in pixels in a ``width`` x ``height`` frame."""
        h = max(4, round(self.size * height))
        return max(4, round(h * SPECIES[self.species])), h

    def crossing_s(self, width: int, height: int) -> float:
        """Seconds to walk from fully outside one edge to fully outside the other."""
        return (width + self.sprite_size(width, height)[0]) / (self.speed * width)


@dataclass(frozen=True)
class SceneConfig:
    """Everything that determines the synthetic scene; same config, same frames.

    ``wind`` strengths and ``rain`` intensities are 0..1; a rain interval's ``kind`` is "rain"
    or "snow". Inside ``ir_night`` the camera is in IR mode (grey frames). The global gain
    follows a slow sinusoid of amplitude ``illumination_drift`` and period ``drift_period_s``;
    with ``day_length_s`` it also follows a compressed day starting at ``day_start`` (fraction
    of a day after midnight).
    """

    seed: int = 0
    width: int = 640
    height: int = 480
    fps: float = 10.0
    duration_s: float = 60.0
    visits: tuple[Visit, ...] = ()
    wind: tuple[Interval, ...] = ()
    rain: tuple[Interval, ...] = ()
    ir_night: tuple[Interval, ...] = ()
    illumination_drift: float = 0.03
    drift_period_s: float = 600.0
    sensor_noise_sigma: float = 2.0
    day_length_s: float | None = None
    day_start: float = 0.5

    def __post_init__(self) -> None:
        _check(isinstance(self.seed, int) and self.seed >= 0, f"seed {self.seed!r} must be >= 0")
        _check(
            16 <= self.width <= MAX_SIDE and 16 <= self.height <= MAX_SIDE,
            f"size {self.width}x{self.height} not in 16..{MAX_SIDE}",
        )
        _check(0 < self.fps <= 120, f"fps {self.fps} not in (0, 120]")
        _check(0 < self.duration_s <= 7 * 86400, f"duration_s {self.duration_s} out of range")
        _check(0 <= self.illumination_drift <= 0.5, "illumination_drift not in [0, 0.5]")
        _check(self.drift_period_s >= 60, "drift_period_s must be >= 60 (drift must be slow)")
        _check(0 <= self.sensor_noise_sigma <= 20, "sensor_noise_sigma not in [0, 20]")
        _check(self.day_length_s is None or self.day_length_s > 0, "day_length_s must be > 0")
        _check(0 <= self.day_start < 1, f"day_start {self.day_start} not in [0, 1)")
        rain = tuple(i if i.kind else i._replace(kind="rain") for i in self.rain)
        object.__setattr__(self, "rain", rain)
        for name in ("wind", "rain", "ir_night"):
            self._check_spans(name, getattr(self, name))
        for i in self.rain:
            _check(i.kind in PRECIPITATION, f"rain kind {i.kind!r} not in {PRECIPITATION}")
        for v in self.visits:
            _check(v.end_s <= self.duration_s + 1e-9, f"visit {v} ends after the scene")

    def _check_spans(self, name: str, spans: tuple[Interval, ...]) -> None:
        prev_end = 0.0
        for i in sorted(spans):
            _check(
                0 <= i.start_s < i.end_s <= self.duration_s + 1e-9,
                f"{name} interval {tuple(i)} not inside [0, {self.duration_s}]",
            )
            _check(0 <= i.strength <= 1, f"{name} strength {i.strength} not in [0, 1]")
            _check(i.start_s >= prev_end, f"{name} intervals overlap at {i.start_s}")
            prev_end = i.end_s

    @property
    def n_frames(self) -> int:
        """Number of frames in the scene."""
        return max(1, round(self.duration_s * self.fps))


def daylight(day_fraction: float) -> float:
    """Relative scene light at a time of day (0 = midnight, 0.5 = noon), 0.04..1."""
    elevation = -math.cos(2 * math.pi * day_fraction)
    s = min(max((elevation + 0.15) / 0.5, 0.0), 1.0)
    return 0.04 + 0.96 * s * s * (3 - 2 * s)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def scene_to_dict(config: SceneConfig) -> dict[str, Any]:
    """The config as plain JSON-ready data (intervals as dicts)."""
    data = asdict(config)
    for name in ("wind", "rain", "ir_night"):
        data[name] = [i._asdict() for i in getattr(config, name)]
    return data


_INTERVAL_KEYS = frozenset(Interval._fields)


def _interval(item: Any, where: str) -> Interval:
    if isinstance(item, dict):
        unknown = set(item) - _INTERVAL_KEYS
        _check(not unknown, f"{where}: unknown keys {sorted(unknown)}")
        item = [item.get(k, d) for k, d in zip(Interval._fields, (None, None, 1.0, ""))]
    _check(isinstance(item, (list, tuple)) and 2 <= len(item) <= 4, f"{where}: bad interval")
    try:
        start, end, *rest = item
        return Interval(
            float(start),
            float(end),
            float(rest[0]) if rest else 1.0,
            str(rest[1]) if len(rest) > 1 else "",
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: bad interval {item!r}") from err


def scene_from_dict(data: dict[str, Any]) -> SceneConfig:
    """Build and validate a config from plain data; unknown keys raise ConfigError."""
    _check(isinstance(data, dict), "a scene must be a mapping")
    known = {f.name for f in fields(SceneConfig)}
    unknown = set(data) - known
    _check(not unknown, f"unknown scene keys {sorted(unknown)}; known: {sorted(known)}")
    kwargs: dict[str, Any] = dict(data)
    for name in ("wind", "rain", "ir_night"):
        kwargs[name] = tuple(_interval(i, name) for i in data.get(name) or ())
    visit_keys = {f.name for f in fields(Visit)}
    for item in data.get("visits") or ():
        _check(
            isinstance(item, dict) and not set(item) - visit_keys,
            f"visit {item!r}: expected a mapping with keys from {sorted(visit_keys)}",
        )
    for name in ("seed", "width", "height"):
        if name in kwargs:
            value = kwargs[name]
            _check(
                isinstance(value, int) and not isinstance(value, bool),
                f"{name} must be an integer, got {value!r}",
            )
    try:
        kwargs["visits"] = tuple(Visit(**item) for item in data.get("visits") or ())
        return SceneConfig(**kwargs)
    except TypeError as err:  # a missing field, or a string where a number belongs
        raise ConfigError(f"bad scene: {err}") from err


def load_scene(path: str | Path) -> SceneConfig:
    """Read a scene from YAML or JSON (a ground-truth file's ``config`` also works)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read scene file {path}: {err}") from err
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ConfigError(f"scene file {path} is not valid: {err}") from err
    if isinstance(data, dict) and "config" in data and "frames" in data:
        data = data["config"]
    return scene_from_dict(data)
