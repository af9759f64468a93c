"""A deterministic camera-trap scene with exact ground truth, and a source that plays it.

Everything costly (textured ground, vegetation layers, animal sprites, rain textures, a pool
of sensor noise) is drawn once in :class:`SyntheticScene`; a frame is then a copy of the
background, a few small warps of vegetation in the wind, sprite blends, a gain, a window of a
rain texture and a window of the noise pool. Per-frame randomness comes from
``default_rng([seed, 6, index])`` so ``render(i)`` is the same in any order.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from wildcam.camera import _draw
from wildcam.camera._draw import U8, Layer, Plant
from wildcam.camera._sprites import GAITS, Sprite, draw_sprite
from wildcam.camera.base import Box, Frame, Image, SourceBase, check_resolution
from wildcam.camera.presets import (
    day_scene,
    default_scene,
    empty_scene,
    nuisance_scene,
    scene_preset,
)
from wildcam.camera.scene import Interval, SceneConfig, Visit, daylight
from wildcam.camera.truth import FrameTruth, GroundTruth, load_ground_truth, write_ground_truth

# The scene's config types, presets and truth records are re-exported so that one import of
# this module is enough to build, render and score a scene.
__all__ = [
    "FrameTruth",
    "GroundTruth",
    "Interval",
    "MIN_VISIBLE",
    "SceneConfig",
    "SyntheticScene",
    "SyntheticSource",
    "Visit",
    "day_scene",
    "default_scene",
    "empty_scene",
    "load_ground_truth",
    "nuisance_scene",
    "scene_preset",
]

MIN_VISIBLE = 0.1
"""An animal is in the truth (and its visit's event) while this much of its box is in frame."""
MIN_BOX_AREA = 16
IR_SWITCH_HALF_S = 0.5
"""The ``ir_switch`` nuisance spans this long either side of each IR switch."""
WIND_RAMP_S = 1.5


class SyntheticScene:
    """Render frames and ground truth of one :class:`SceneConfig`."""

    def __init__(self, config: SceneConfig) -> None:
        self.config = c = config
        w, h, seed = c.width, c.height, c.seed
        self.width, self.height = w, h
        bare = _draw.background(np.random.default_rng([seed, 1]), w, h)
        self._plants = _draw.vegetation(np.random.default_rng([seed, 2]), w, h)
        light = _draw.ir_illumination(w, h)
        bare_ir = np.clip(12 + light * _draw.ir_reflectance(bare), 0, 255).astype(np.uint8)
        ir_plants = [_draw.ir_layer(p.layer, float(light[min(p.y + p.layer.shape[0] // 2, h - 1),
                                                          min(max(p.x, 0), w - 1)]))
                     for p in self._plants]
        self._day = _Look(bare, self._plants, [p.layer for p in self._plants])
        self._ir = _Look(bare_ir, self._plants, ir_plants)
        self._sprites = [self._sprite(k, v) for k, v in enumerate(c.visits)]
        for j, spell in enumerate(c.rain):
            tex = _draw.precipitation(np.random.default_rng([seed, 4, j]), 2 * w, 2 * h,
                                      spell.kind, spell.strength)
            self._day.precip.append(cv2.merge([tex, tex, tex]))
            self._ir.precip.append(tex)
        n = w * h * 3
        noise = np.random.default_rng([seed, 5]).standard_normal(2 * n) * c.sensor_noise_sigma
        self._noise = np.rint(noise).astype(np.int16) if c.sensor_noise_sigma > 0 else None
        self._drift_phase = float(np.random.default_rng([seed, 7]).uniform(0, 2 * math.pi))
        self._switches = sorted({t for i in c.ir_night for t in (i.start_s, i.end_s)
                                 if 0 < t < c.duration_s})
        self.nuisance_intervals = self._nuisance_intervals()
        self.events = self._events()

    @property
    def n_frames(self) -> int:
        """Number of frames; valid indices are ``0 .. n_frames - 1``."""
        return self.config.n_frames

    def stamp(self, index: int) -> float:
        """Scene time of frame ``index`` in seconds."""
        return index / self.config.fps

    def _sprite(self, k: int, visit: Visit) -> Sprite:
        sw, sh = visit.sprite_size(self.width, self.height)
        ground = round(visit.ground_y * self.height)
        rows = slice(max(0, ground - sh), max(1, min(ground, self.height)))
        band = _draw.luminance(self._day.rest[rows])
        ir_band = self._ir.rest[rows].astype(np.float32)
        sprite = draw_sprite(np.random.default_rng([self.config.seed, 3, k]), visit.species,
                             sw, sh, band, ir_band)
        return sprite if visit.direction == "left_to_right" else sprite.flipped()

    # --- time-dependent state -----------------------------------------------------------------

    def _pose(self, k: int, t: float) -> tuple[int, int, int] | None:
        """Sprite top-left and gait of visit ``k`` at ``t``, or None outside the visit."""
        v, sprite = self.config.visits[k], self._sprites[k]
        rel = t - v.start_s
        if not 0 <= rel < v.duration_s:
            return None
        sw, sh = sprite.size
        dist = self.width + sw
        speed = max(v.speed * self.width, dist / v.duration_s)
        pause = v.duration_s - dist / speed
        t_stop = v.pause_at * dist / speed
        moving = not t_stop <= rel < t_stop + pause
        d = speed * (rel if rel < t_stop else max(rel - pause, t_stop))
        x = round(-sw + d) if v.direction == "left_to_right" else round(self.width - d)
        cycle = 0.5 * sw
        gait = int(GAITS * d / cycle) % GAITS if moving else 0
        hop = 0.12 if v.species == "bird" else 0.02
        bob = round(hop * sh * abs(math.sin(2 * math.pi * d / cycle))) if moving else 0
        return x, round(v.ground_y * self.height) - sh - bob, gait

    def _animal_boxes(self, t: float) -> list[tuple[int, Box]]:
        out = []
        for k, sprite in enumerate(self._sprites):
            pose = self._pose(k, t)
            if pose is None:
                continue
            x, y, gait = pose
            bx, by, bw, bh = sprite.boxes[gait]
            box = Box(x + bx, y + by, bw, bh)
            seen = box.clipped(self.width, self.height)
            if seen.area >= max(MIN_BOX_AREA, MIN_VISIBLE * box.area):
                out.append((k, seen))
        return out

    def ir_at(self, t: float) -> bool:
        """Whether the camera is in IR mode at ``t``."""
        return any(i.contains(t) for i in self.config.ir_night)

    def _wind_at(self, t: float) -> float:
        for i in self.config.wind:
            if i.contains(t):
                ramp = min(1.0, (t - i.start_s) / WIND_RAMP_S, (i.end_s - t) / WIND_RAMP_S)
                return i.strength * max(ramp, 0.1)
        return 0.0

    def _gain(self, t: float, ir: bool) -> float:
        c = self.config
        gain = 1 + c.illumination_drift * math.sin(2 * math.pi * t / c.drift_period_s
                                                    + self._drift_phase)
        if c.day_length_s and not ir:  # the illuminator makes IR frames independent of daylight
            gain *= daylight(c.day_start + t / c.day_length_s)
        k = bisect.bisect_right(self._switches, t)
        if k and t - self._switches[k - 1] < IR_SWITCH_HALF_S:  # auto-exposure overshoot
            gain *= 1 + 0.3 * (1 - (t - self._switches[k - 1]) / IR_SWITCH_HALF_S) ** 2
        return gain

    # --- frames ---------------------------------------------------------------------------

    def render(self, index: int) -> Image:
        """Frame ``index`` as an HxWx3 BGR uint8 image (IR frames have B = G = R)."""
        c = self.config
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} outside 0..{self.n_frames - 1}")
        t = self.stamp(index)
        rng = np.random.default_rng([c.seed, 6, index])
        noise_at = int(rng.integers(0, self._noise.size // 2)) if self._noise is not None else 0
        oy, ox = int(rng.integers(0, self.height)), int(rng.integers(0, self.width))
        ir = self.ir_at(t)
        look = self._ir if ir else self._day
        wind = self._wind_at(t)
        if wind > 0:
            canvas = look.bare.copy()
            for plant, layer in zip(self._plants, look.plants):
                _sway(layer, plant, wind, t).blend_onto(canvas, plant.x, plant.y)
        else:
            canvas = look.rest.copy()
        for k, sprite in enumerate(self._sprites):
            pose = self._pose(k, t)
            if pose is not None:
                layer = (sprite.ir if ir else sprite.day)[pose[2]]
                layer.blend_onto(canvas, pose[0], pose[1])
        gain = self._gain(t, ir)
        if abs(gain - 1) > 1e-4:
            canvas = cv2.convertScaleAbs(canvas, alpha=gain)
        for j, spell in enumerate(c.rain):
            if spell.contains(t):
                win = look.precip[j][oy:oy + self.height, ox:ox + self.width]
                canvas = cv2.add(canvas, win)
        if self._noise is not None:
            noise = self._noise[noise_at:noise_at + canvas.size].reshape(canvas.shape)
            canvas = cv2.add(canvas, noise, dtype=cv2.CV_8U)
        if ir:
            canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(canvas)

    # --- ground truth -------------------------------------------------------------------

    def truth(self, index: int) -> FrameTruth:
        """Animal boxes and active nuisances of frame ``index``."""
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} outside 0..{self.n_frames - 1}")
        t = self.stamp(index)
        animals = self._animal_boxes(t)
        nuisances = frozenset(name for name, spans in self.nuisance_intervals.items()
                              if any(s.contains(t) for s in spans))
        return FrameTruth(index, t, tuple(b for _, b in animals),
                          tuple(self.config.visits[k].species for k, _ in animals),
                          nuisances, self.ir_at(t))

    def _events(self) -> tuple[Interval, ...]:
        fps, events = self.config.fps, []
        for k, v in enumerate(self.config.visits):
            frames = [i for i in range(math.floor(v.start_s * fps),
                                       min(math.ceil(v.end_s * fps) + 1, self.n_frames))
                      if any(j == k for j, _ in self._animal_boxes(self.stamp(i)))]
            if frames:
                events.append(Interval(self.stamp(frames[0]), self.stamp(frames[-1] + 1), 1.0,
                                       v.species))
        return tuple(sorted(events))

    def _nuisance_intervals(self) -> dict[str, tuple[Interval, ...]]:
        c = self.config
        switches = tuple(Interval(max(t - IR_SWITCH_HALF_S, 0.0),
                                  min(t + IR_SWITCH_HALF_S, c.duration_s))
                         for t in self._switches)
        return {"wind": tuple(i for i in c.wind if i.strength > 0),
                "rain": tuple(i for i in c.rain if i.kind == "rain"),
                "snow": tuple(i for i in c.rain if i.kind == "snow"),
                "ir_switch": switches,
                "ir": c.ir_night}

    def ground_truth(self) -> GroundTruth:
        """The whole scene's truth."""
        return GroundTruth(self.config, tuple(self.truth(i) for i in range(self.n_frames)),
                           self.events, dict(self.nuisance_intervals))

    def write_ground_truth(self, path: str | Path) -> None:
        """Write config, per-frame truth, events and nuisance intervals as JSON."""
        write_ground_truth(self.ground_truth(), path)


class _Look:
    """One rendering mode's precomputed layers (daylight BGR or IR grey)."""

    def __init__(self, bare: U8, plants: list[Plant], layers: list[Layer]) -> None:
        self.bare = bare
        self.plants = layers
        self.rest = bare.copy()  # the plants at rest, for frames without wind
        for plant, layer in zip(plants, layers):
            layer.blend_onto(self.rest, plant.x, plant.y)
        self.precip: list[U8] = []


def _sway(layer: Layer, plant: Plant, wind: float, t: float) -> Layer:
    """The layer sheared by the wind: its free edge displaced, its anchored edge fixed."""
    f, p = plant.freq, plant.phase
    wave = 0.75 * math.sin(2 * math.pi * f * t + p) + 0.25 * math.sin(4.6 * math.pi * f * t + p)
    gust = 0.75 + 0.25 * math.sin(2 * math.pi * 0.07 * t + p)
    d = wind * plant.amplitude * wave * gust
    k = d / max(layer.shape[0] - 1, 1)
    m = np.float32([[1, k, -d], [0, 1, 0]]) if plant.anchor == "bottom" \
        else np.float32([[1, -k, 0], [0, 1, 0]])
    return layer.warped(m)


class SyntheticSource(SourceBase):
    """Plays a :class:`SyntheticScene`; stamps are ``index / fps``.

    ``set_resolution`` rebuilds the scene at the new size (same seed and layout, boxes in the
    new pixels), so :meth:`truth` always matches the frames being read.
    """

    name = "synthetic"

    def __init__(self, scene: SyntheticScene, loop: bool = False) -> None:
        super().__init__()
        self.scene = scene
        self._loop = loop
        self._index = 0

    def set_resolution(self, width: int, height: int) -> None:
        """Rebuild the scene at ``width`` x ``height`` (ConfigError if the scene rejects it)."""
        size = check_resolution(width, height)
        if size != (self.scene.width, self.scene.height):
            self.scene = SyntheticScene(replace(self.scene.config, width=size[0],
                                                height=size[1]))
        self._size = size

    def read(self) -> Frame | None:
        """Render the next frame, ``None`` after the last unless looping."""
        self._check_open()
        n = self.scene.n_frames
        if self._index >= n and not self._loop:
            return None
        frame = Frame(self.scene.render(self._index % n), self._index / self.scene.config.fps,
                      self._index)
        self._index += 1
        return frame

    def truth(self, frame: Frame) -> FrameTruth:
        """Ground truth of a frame this source handed out."""
        return self.scene.truth(frame.index % self.scene.n_frames)
