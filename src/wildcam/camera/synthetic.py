"""A deterministic camera-trap scene with exact ground truth, and a source that plays it.

Everything costly (textured ground, vegetation layers, animal sprites, rain textures, a pool
of sensor noise) is drawn once in :class:`SyntheticScene`; a frame is then a copy of the
background with its vegetation, a few uint8 sprite blends, a gain, a window of a rain texture
and a window of the noise pool. Vegetation in the wind is sheared by a displacement rounded
to :data:`SWAY_STEP_PX`, and each clump of plants is drawn once per rounded displacement and
kept (a few dozen per clump), so a frame pastes small patches instead of warping layers.
Per-frame randomness is a hash of ``(seed, index)`` and a patch depends only on its
displacement, so ``render(i)`` is the same bytes in any order.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from wildcam.camera import _draw
from wildcam.camera._draw import U8, Layer, Plant
from wildcam.camera._sprites import GAITS, Sprite, draw_sprite
from wildcam.camera.base import Frame, SourceBase, check_resolution
from wildcam.camera.presets import (
    day_scene,
    default_scene,
    empty_scene,
    nuisance_scene,
    scene_preset,
)
from wildcam.camera.scene import Interval, SceneConfig, Visit, daylight
from wildcam.camera.truth import FrameTruth, GroundTruth, load_ground_truth, write_ground_truth
from wildcam.types import Box, Image

# The scene's config types, presets and truth records are re-exported so that one import of
# this module is enough to build, render and score a scene.
__all__ = [
    "MIN_VISIBLE",
    "FrameTruth",
    "GroundTruth",
    "Interval",
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
SWAY_STEP_PX = 0.25
"""Vegetation displacements are rounded to this, so a few drawings of each plant serve."""
SWAY_CACHE = 64
"""Drawn displacements kept per clump of plants and rendering mode (least recently used go)."""
SWAY_CACHE_BYTES = 32 << 20
"""...and fewer (at least 4) where that many would hold more than this per rendering mode."""


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
        ir_plants = [
            _draw.ir_layer(
                p.layer,
                float(light[min(p.y + p.layer.shape[0] // 2, h - 1), min(max(p.x, 0), w - 1)]),
            )
            for p in self._plants
        ]
        clumps = _clumps(self._plants, w, h)
        self._day = _Look(bare, self._plants, [p.layer for p in self._plants], clumps)
        self._ir = _Look(bare_ir, self._plants, ir_plants, clumps)
        self._sprites = [self._sprite(k, v) for k, v in enumerate(c.visits)]
        self._sprite_layers = [
            (tuple(a.rounded() for a in s.day), tuple(a.rounded() for a in s.ir))
            for s in self._sprites
        ]
        self._lock = threading.Lock()  # the looks' canvases are shared by every render
        for j, spell in enumerate(c.rain):
            tex = _draw.precipitation(
                np.random.default_rng([seed, 4, j]), 2 * w, 2 * h, spell.kind, spell.strength
            )
            self._day.precip.append(cv2.merge([tex, tex, tex]))
            self._ir.precip.append(tex)
        # A frame's noise is a window of this pool at a random offset: a view, not a draw.
        # It is kept as its positive and negative parts, so adding it is two saturating uint8
        # operations (exactly the saturated sum, as one of the two is 0 at every pixel).
        n = w * h * 3
        self._noise_offsets = max(65536, min(n, 1 << 20))
        noise = np.rint(
            np.random.default_rng([seed, 5]).standard_normal(n + self._noise_offsets)
            * c.sensor_noise_sigma
        )
        self._noise = (_saturated(noise), _saturated(-noise)) if c.sensor_noise_sigma > 0 else None
        self._drift_phase = float(np.random.default_rng([seed, 7]).uniform(0, 2 * math.pi))
        self._switches = sorted(
            {t for i in c.ir_night for t in (i.start_s, i.end_s) if 0 < t < c.duration_s}
        )
        self.nuisance_intervals = self._nuisance_intervals()
        self.visit_spans = self._visit_spans()
        """When each visit's animal is in view, in visit order (None: never)."""
        self.events = tuple(sorted(e for e in self.visit_spans if e is not None))

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
        sprite = draw_sprite(
            np.random.default_rng([self.config.seed, 3, k]), visit.species, sw, sh, band, ir_band
        )
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
        gain = 1 + c.illumination_drift * math.sin(
            2 * math.pi * t / c.drift_period_s + self._drift_phase
        )
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
        noise_at, oy, ox = _frame_draws(
            c.seed, index, (self._noise_offsets, self.height, self.width)
        )
        ir = self.ir_at(t)
        look = self._ir if ir else self._day
        wind = self._wind_at(t)
        steps = [
            round(_displacement(p, wind, t) / SWAY_STEP_PX) if wind > 0 else 0
            for p in self._plants
        ]
        with self._lock:
            canvas = look.vegetation(steps).copy()
        for k, (day, night) in enumerate(self._sprite_layers):
            pose = self._pose(k, t)
            if pose is not None:
                x, y, gait = pose
                (night if ir else day)[gait].blend_onto(canvas, x, y)
        gain = self._gain(t, ir)
        if abs(gain - 1) > 1e-4:
            cv2.convertScaleAbs(canvas, dst=canvas, alpha=gain)
        for j, spell in enumerate(c.rain):
            if spell.contains(t):
                win = look.precip[j][oy : oy + self.height, ox : ox + self.width]
                cv2.add(canvas, win, dst=canvas)
        if self._noise is not None:
            up, down = (
                a[noise_at : noise_at + canvas.size].reshape(canvas.shape) for a in self._noise
            )
            cv2.add(canvas, up, dst=canvas)
            cv2.subtract(canvas, down, dst=canvas)
        return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR) if ir else canvas

    # --- ground truth -------------------------------------------------------------------

    def truth(self, index: int) -> FrameTruth:
        """Animal boxes and active nuisances of frame ``index``."""
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} outside 0..{self.n_frames - 1}")
        t = self.stamp(index)
        animals = self._animal_boxes(t)
        nuisances = frozenset(
            name
            for name, spans in self.nuisance_intervals.items()
            if any(s.contains(t) for s in spans)
        )
        return FrameTruth(
            index,
            t,
            tuple(b for _, b in animals),
            tuple(self.config.visits[k].species for k, _ in animals),
            nuisances,
            self.ir_at(t),
        )

    def _visit_spans(self) -> tuple[Interval | None, ...]:
        fps, spans = self.config.fps, []
        for k, v in enumerate(self.config.visits):
            frames = [
                i
                for i in range(
                    math.floor(v.start_s * fps), min(math.ceil(v.end_s * fps) + 1, self.n_frames)
                )
                if any(j == k for j, _ in self._animal_boxes(self.stamp(i)))
            ]
            spans.append(
                Interval(self.stamp(frames[0]), self.stamp(frames[-1] + 1), 1.0, v.species)
                if frames
                else None
            )
        return tuple(spans)

    def _nuisance_intervals(self) -> dict[str, tuple[Interval, ...]]:
        c = self.config
        switches = tuple(
            Interval(max(t - IR_SWITCH_HALF_S, 0.0), min(t + IR_SWITCH_HALF_S, c.duration_s))
            for t in self._switches
        )
        return {
            "wind": tuple(i for i in c.wind if i.strength > 0),
            "rain": tuple(i for i in c.rain if i.kind == "rain"),
            "snow": tuple(i for i in c.rain if i.kind == "snow"),
            "ir_switch": switches,
            "ir": c.ir_night,
        }

    def ground_truth(self) -> GroundTruth:
        """The whole scene's truth."""
        return GroundTruth(
            self.config,
            tuple(self.truth(i) for i in range(self.n_frames)),
            self.events,
            dict(self.nuisance_intervals),
        )

    def write_ground_truth(self, path: str | Path) -> None:
        """Write config, per-frame truth, events and nuisance intervals as JSON."""
        write_ground_truth(self.ground_truth(), path)


@dataclass(frozen=True)
class _Clump:
    """Plants drawn together because their rectangles overlap; ``rect`` is in the frame."""

    members: tuple[int, ...]
    rect: tuple[int, int, int, int]  # x0, y0, x1, y1, clipped to the frame

    @property
    def region(self) -> tuple[slice, slice]:
        """Rows and columns of the frame the clump covers."""
        x0, y0, x1, y1 = self.rect
        return slice(y0, y1), slice(x0, x1)


def _clumps(plants: list[Plant], w: int, h: int) -> list[_Clump]:
    """Group the plants so that no two groups' rectangles overlap (each group is pasted whole)."""
    groups: list[_Clump] = []
    for i, p in enumerate(plants):
        ph, pw = p.layer.shape
        clump = _Clump((i,), (max(p.x, 0), max(p.y, 0), min(p.x + pw, w), min(p.y + ph, h)))
        if clump.rect[0] >= clump.rect[2] or clump.rect[1] >= clump.rect[3]:
            continue  # wholly outside the frame
        # Absorb every group it overlaps; the union may reach further groups, so repeat.
        while hit := [g for g in groups if _overlaps(g.rect, clump.rect)]:
            for g in hit:
                groups.remove(g)
                a, b = g.rect, clump.rect
                clump = _Clump(
                    tuple(sorted(g.members + clump.members)),
                    (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])),
                )
        groups.append(clump)
    return groups


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class _Look:
    """One rendering mode (daylight BGR or IR grey): its layers and its current vegetation.

    ``canvas`` is the background with every clump at the displacement it was last asked for;
    patches of each clump at recently used displacements are kept, drawn on a miss.
    """

    def __init__(
        self, bare: U8, plants: list[Plant], layers: list[Layer], clumps: list[_Clump]
    ) -> None:
        self.bare = bare
        self.plants = list(zip(plants, layers))
        self.rest = bare.copy()  # the plants at rest
        for plant, layer in self.plants:
            layer.blend_onto(self.rest, plant.x, plant.y)
        self.precip: list[U8] = []
        self.canvas = self.rest.copy()
        self._clumps = clumps
        self._shown = [(0,) * len(c.members) for c in clumps]
        self._patches: list[OrderedDict[tuple[int, ...], U8]] = [OrderedDict() for _ in clumps]
        one_each = sum(self.bare[c.region].nbytes for c in clumps)
        self._keep = min(SWAY_CACHE, max(4, SWAY_CACHE_BYTES // max(one_each, 1)))

    def vegetation(self, steps: list[int]) -> U8:
        """The canvas with plant ``i`` swayed ``steps[i] * SWAY_STEP_PX`` (shared: copy it)."""
        for n, clump in enumerate(self._clumps):
            key = tuple(steps[i] for i in clump.members)
            if key == self._shown[n]:
                continue
            patches = self._patches[n]
            patch = patches.get(key)
            if patch is None:
                patch = patches[key] = self._draw(clump, key)
                if len(patches) > self._keep:
                    patches.popitem(last=False)
            else:
                patches.move_to_end(key)
            self.canvas[clump.region] = patch
            self._shown[n] = key
        return self.canvas

    def _draw(self, clump: _Clump, key: tuple[int, ...]) -> U8:
        x0, y0 = clump.rect[:2]
        patch = self.bare[clump.region].copy()
        for i, step in zip(clump.members, key):
            plant, layer = self.plants[i]
            if step:
                layer = _sway(layer, plant, step * SWAY_STEP_PX)
            layer.blend_onto(patch, plant.x - x0, plant.y - y0)
        return patch


_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """SplitMix64's finaliser: a cheap, well-spread hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _frame_draws(seed: int, index: int, bounds: tuple[int, ...]) -> list[int]:
    """One integer in ``0 .. b - 1`` per bound for frame ``index``, a function of its arguments.

    A hash rather than a generator seeded per frame, which costs ten times as much.
    """
    state = _mix64(_mix64(_mix64(seed) ^ 6) ^ index)
    return [_mix64(state + k) % b for k, b in enumerate(bounds)]


def _saturated(values: np.ndarray) -> U8:
    return np.clip(values, 0, 255).astype(np.uint8)


def _displacement(plant: Plant, wind: float, t: float) -> float:
    """How far the wind moves the free edge of ``plant`` at ``t``, in pixels."""
    f, p = plant.freq, plant.phase
    wave = 0.75 * math.sin(2 * math.pi * f * t + p) + 0.25 * math.sin(4.6 * math.pi * f * t + p)
    gust = 0.75 + 0.25 * math.sin(2 * math.pi * 0.07 * t + p)
    return wind * plant.amplitude * wave * gust


def _sway(layer: Layer, plant: Plant, d: float) -> Layer:
    """The layer sheared: its free edge displaced by ``d`` pixels, its anchored edge fixed."""
    k = d / max(layer.shape[0] - 1, 1)
    m = (
        np.array([[1, k, -d], [0, 1, 0]], np.float32)
        if plant.anchor == "bottom"
        else np.array([[1, -k, 0], [0, 1, 0]], np.float32)
    )
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
            self.scene = SyntheticScene(replace(self.scene.config, width=size[0], height=size[1]))
        self._size = size

    def seek(self, index: int) -> None:
        """Go on from frame ``index`` (the scene went on while the camera was closed)."""
        self._index = max(0, int(index))

    def read(self) -> Frame | None:
        """Render the next frame, ``None`` after the last unless looping."""
        self._check_open()
        n = self.scene.n_frames
        if self._index >= n and not self._loop:
            return None
        frame = Frame(
            self.scene.render(self._index % n), self._index / self.scene.config.fps, self._index
        )
        self._index += 1
        return frame

    def truth(self, frame: Frame) -> FrameTruth:
        """Ground truth of a frame this source handed out."""
        return self.scene.truth(frame.index % self.scene.n_frames)
