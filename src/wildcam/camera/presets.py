"""Built-in synthetic scenes, looked up by name in :data:`PRESETS`.

All presets are 640x480 at 10 fps; callers that need another size or rate replace those
fields (a visit's timing is in seconds and its size in frame fractions, so it carries over).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from wildcam.camera.scene import Interval, SceneConfig, Visit, daylight
from wildcam.errors import ConfigError

__all__ = [
    "IR_ON_BELOW",
    "PRESETS",
    "day_scene",
    "default_scene",
    "empty_scene",
    "nuisance_scene",
    "scene_preset",
    "truncate_scene",
]

IR_ON_BELOW = 0.3
"""Daylight level under which the day scene's camera switches to IR."""

_W, _H = 640, 480


def _visit(
    start_s: float,
    species: str,
    size: float,
    direction: str,
    speed: float,
    pause_s: float,
    ground_y: float = 0.8,
) -> Visit:
    """A visit whose duration is the walk across plus ``pause_s`` standing still."""
    probe = Visit(start_s, 1.0, species, size, direction, speed, ground_y)
    walk = probe.crossing_s(_W, _H)
    return Visit(start_s, round(walk + pause_s, 3), species, size, direction, speed, ground_y)


def default_scene(seed: int = 0) -> SceneConfig:
    """Two minutes: four visits, a wind spell, a rain spell, IR on and off again."""
    return SceneConfig(
        seed=seed,
        duration_s=120.0,
        visits=(
            _visit(6.0, "deer", 0.32, "left_to_right", 0.12, 3.0, ground_y=0.82),
            _visit(30.0, "fox", 0.16, "right_to_left", 0.16, 2.0, ground_y=0.78),
            _visit(58.0, "bird", 0.07, "left_to_right", 0.2, 4.0, ground_y=0.74),
            _visit(92.0, "deer", 0.28, "right_to_left", 0.12, 2.0, ground_y=0.8),
        ),
        wind=(Interval(22.0, 46.0, 0.8),),
        rain=(Interval(52.0, 74.0, 0.6, "rain"),),
        ir_night=(Interval(84.0, 108.0),),
        illumination_drift=0.03,
    )


def empty_scene(duration_s: float = 60.0, seed: int = 0) -> SceneConfig:
    """No animals, no weather: sensor noise and a light breeze in the vegetation."""
    return SceneConfig(
        seed=seed,
        duration_s=duration_s,
        wind=(Interval(0.0, duration_s, 0.15),),
        illumination_drift=0.0,
    )


def nuisance_scene(seed: int = 0) -> SceneConfig:
    """Two minutes of everything that is not an animal: wind, rain, snow, IR switches."""
    return SceneConfig(
        seed=seed,
        duration_s=120.0,
        wind=(Interval(4.0, 40.0, 1.0), Interval(62.0, 92.0, 0.5)),
        rain=(Interval(30.0, 55.0, 0.8, "rain"), Interval(64.0, 78.0, 0.7, "snow")),
        ir_night=(Interval(82.0, 100.0), Interval(110.0, 116.0)),
        illumination_drift=0.05,
    )


def _ir_spans(duration_s: float, day_start: float) -> tuple[Interval, ...]:
    """IR-on spans of one day compressed into ``duration_s``: where daylight < IR_ON_BELOW."""
    # daylight() rises with -cos(2*pi*f); bisect the elevation where it crosses the threshold.
    lo, hi = -1.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        f = math.acos(-mid) / (2 * math.pi)
        lo, hi = (mid, hi) if daylight(f) < IR_ON_BELOW else (lo, mid)
    dawn = math.acos(-hi) / (2 * math.pi)
    dusk = 1.0 - dawn
    spans: list[Interval] = []
    for k in (-1, 0):  # the night before the scene's day and the one after it
        start = max((k + dusk - day_start) * duration_s, 0.0)
        end = min((k + 1 + dawn - day_start) * duration_s, duration_s)
        if end > start:
            spans.append(Interval(float(round(start, 3)), float(round(end, 3))))
    return tuple(spans)


def day_scene(duration_s: float = 240.0, seed: int = 0) -> SceneConfig:
    """A whole day compressed into ``duration_s`` (at least 60 s), starting before dawn.

    Night with IR, dawn, day with breeze, a gusty spell and a rain shower, dusk, night again;
    six visits spread over the day at fixed fractions of it.
    """
    if duration_s < 60:
        raise ConfigError(f"day_scene needs duration_s >= 60, got {duration_s}")
    d = duration_s
    start = 4.5 / 24
    plan = (
        (0.05, "fox", 0.15, "left_to_right", 0.18),
        (0.28, "deer", 0.3, "right_to_left", 0.13),
        (0.42, "bird", 0.07, "left_to_right", 0.22),
        (0.55, "deer", 0.26, "left_to_right", 0.12),
        (0.66, "fox", 0.17, "right_to_left", 0.16),
        (0.86, "deer", 0.3, "left_to_right", 0.12),
    )
    visits = []
    for frac, species, size, direction, speed in plan:
        v = _visit(0.0, species, size, direction, speed, pause_s=min(0.02 * d, 6.0))
        begin = round(min(frac * d, d - v.duration_s - 0.5), 3)
        visits.append(Visit(begin, v.duration_s, species, size, direction, speed))
    return SceneConfig(
        seed=seed,
        duration_s=d,
        visits=tuple(visits),
        wind=(
            Interval(0.2 * d, 0.38 * d, 0.25),
            Interval(0.38 * d, 0.5 * d, 0.9),
            Interval(0.5 * d, 0.75 * d, 0.3),
        ),
        rain=(Interval(0.6 * d, 0.7 * d, 0.6, "rain"),),
        ir_night=_ir_spans(d, start),
        illumination_drift=0.02,
        day_length_s=d,
        day_start=start,
    )


PRESETS: dict[str, Callable[[int], SceneConfig]] = {  # in the order of types.PRESET_NAMES
    "default": default_scene,
    "empty": lambda seed: empty_scene(seed=seed),
    "nuisance": nuisance_scene,
    "day": lambda seed: day_scene(seed=seed),
}
"""Preset name -> ``factory(seed)``."""


def scene_preset(name: str, seed: int = 0, duration_s: float | None = None) -> SceneConfig:
    """The preset called ``name`` (a key of :data:`PRESETS`) built with ``seed``, optionally
    shortened: ``empty`` and ``day`` are built for ``duration_s``; ``default`` and ``nuisance``
    are cut to it with :func:`truncate_scene`."""
    if name not in PRESETS:
        raise ConfigError(f"unknown scene preset {name!r}; known: {sorted(PRESETS)}")
    if duration_s and name == "empty":
        return empty_scene(duration_s, seed)
    if duration_s and name == "day":
        return day_scene(duration_s, seed)
    config = PRESETS[name](seed)
    return truncate_scene(config, duration_s) if duration_s else config


def truncate_scene(config: SceneConfig, duration_s: float) -> SceneConfig:
    """``config`` cut to its first ``duration_s`` seconds.

    Visits that would not end in time are dropped; weather and IR spans are clipped.
    """
    if not duration_s > 0:
        raise ConfigError(f"duration must be > 0 s, got {duration_s}")
    if duration_s >= config.duration_s:
        return dataclasses.replace(config, duration_s=duration_s)

    def clip(spans: tuple[Interval, ...]) -> tuple[Interval, ...]:
        return tuple(
            s._replace(end_s=min(s.end_s, duration_s)) for s in spans if s.start_s < duration_s
        )

    return dataclasses.replace(
        config,
        duration_s=duration_s,
        visits=tuple(v for v in config.visits if v.end_s <= duration_s),
        wind=clip(config.wind),
        rain=clip(config.rain),
        ir_night=clip(config.ir_night),
    )
