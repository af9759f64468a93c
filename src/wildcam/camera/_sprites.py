"""Procedural animal silhouettes (deer, fox, bird) in a few gait poses, drawn once per visit.

Shapes are laid out in unit coordinates of the sprite box (u to the right, v down, animal
facing right) and drawn supersampled, then reduced, so edges are anti-aliased.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from wildcam.camera._draw import F32, U8, Layer, Rng, luminance, smooth_noise

GAITS = 4
"""Poses per walk cycle."""
SUPERSAMPLE = 3
MIN_CONTRAST = 40.0
"""Luma distance a daylight sprite keeps from as much of its background as it can."""
MIN_IR_CONTRAST = 30.0

_COLOURS = {"deer": (50, 85, 125), "fox": (35, 95, 185), "bird": (45, 45, 52)}

Point = tuple[float, float]


@dataclass(frozen=True)
class Sprite:
    """One visit's animal: day and IR layers per gait, and the tight box of each pose."""

    day: tuple[Layer, ...]
    ir: tuple[Layer, ...]
    boxes: tuple[tuple[int, int, int, int], ...]  # x, y, w, h inside the sprite

    @property
    def size(self) -> tuple[int, int]:
        """Sprite (width, height) in pixels."""
        h, w = self.day[0].shape
        return w, h

    def flipped(self) -> Sprite:
        """The sprite facing left."""
        w = self.size[0]
        return Sprite(
            tuple(a.flipped() for a in self.day),
            tuple(a.flipped() for a in self.ir),
            tuple((w - x - bw, y, bw, bh) for x, y, bw, bh in self.boxes),
        )


class _Pen:
    """Draws filled shapes given in unit sprite coordinates onto a supersampled mask."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w * SUPERSAMPLE, h * SUPERSAMPLE
        self.mask = np.zeros((self.h, self.w), np.uint8)

    def _px(self, u: float, v: float) -> tuple[int, int]:
        return int(u * (self.w - 1)), int(v * (self.h - 1))

    def ellipse(self, centre: Point, axes: Point, angle: float) -> None:
        size = (max(1, int(axes[0] * self.w)), max(1, int(axes[1] * self.h)))
        cv2.ellipse(self.mask, self._px(*centre), size, angle, 0, 360, 255, -1)

    def line(self, a: Point, b: Point, width: float) -> None:
        thick = max(SUPERSAMPLE, int(width * self.h))  # at least one output pixel wide
        cv2.line(self.mask, self._px(*a), self._px(*b), 255, thick)

    def poly(self, points: list[Point]) -> None:
        cv2.fillPoly(self.mask, [np.array([self._px(u, v) for u, v in points], np.int32)], 255)


def _legs(pen: _Pen, hips: list[Point], phase: float, swing: float, width: float) -> None:
    for i, (hu, hv) in enumerate(hips):
        # Diagonal pairs move together, as in a walk.
        p = phase + (0 if i in (0, 3) else math.pi)
        foot_u = hu + swing * math.sin(p)
        lift = 0.05 * max(0.0, math.cos(p))
        knee = (hu + 0.5 * (foot_u - hu) + 0.02, hv + 0.5 * (0.99 - hv))
        pen.line((hu, hv), knee, 1.5 * width)
        pen.line(knee, (foot_u, 0.99 - lift), width)


def _deer(pen: _Pen, phase: float) -> tuple[float, float]:
    pen.ellipse((0.45, 0.45), (0.27, 0.15), 0)
    pen.line((0.65, 0.40), (0.80, 0.16), 0.09)
    pen.ellipse((0.84, 0.13), (0.075, 0.055), 20)
    pen.ellipse((0.91, 0.17), (0.04, 0.035), 0)
    pen.ellipse((0.79, 0.05), (0.035, 0.02), -35)
    pen.ellipse((0.18, 0.37), (0.03, 0.05), 20)
    _legs(pen, [(0.25, 0.52), (0.31, 0.53), (0.60, 0.53), (0.65, 0.52)], phase, 0.07, 0.035)
    return 0.87, 0.11


def _fox(pen: _Pen, phase: float) -> tuple[float, float]:
    pen.ellipse((0.45, 0.55), (0.22, 0.14), 0)
    pen.ellipse((0.73, 0.42), (0.07, 0.09), 0)
    pen.poly([(0.77, 0.36), (0.87, 0.46), (0.76, 0.50)])
    pen.poly([(0.68, 0.36), (0.70, 0.20), (0.74, 0.34)])
    pen.poly([(0.73, 0.34), (0.76, 0.21), (0.79, 0.36)])
    pen.ellipse((0.15, 0.62), (0.14, 0.07), 15)
    _legs(pen, [(0.30, 0.62), (0.34, 0.63), (0.56, 0.63), (0.60, 0.62)], phase, 0.05, 0.05)
    return 0.77, 0.40


def _bird(pen: _Pen, phase: float) -> tuple[float, float]:
    pen.ellipse((0.45, 0.50), (0.27, 0.20), -10)
    pen.ellipse((0.74, 0.28), (0.09, 0.12), 0)
    pen.poly([(0.81, 0.24), (0.96, 0.30), (0.81, 0.34)])
    pen.poly([(0.22, 0.45), (0.0, 0.33), (0.0, 0.50), (0.22, 0.60)])
    swing = 0.05 * math.sin(phase)
    pen.line((0.42, 0.66), (0.40 + swing, 0.99), 0.03)
    pen.line((0.50, 0.66), (0.52 - swing, 0.99), 0.03)
    return 0.76, 0.26


_SHAPES = {"deer": _deer, "fox": _fox, "bird": _bird}


def _mask(species: str, w: int, h: int, phase: float) -> tuple[U8, tuple[int, int]]:
    pen = _Pen(w, h)
    eye_u, eye_v = _SHAPES[species](pen, phase)
    small = cv2.resize(pen.mask, (w, h), interpolation=cv2.INTER_AREA)
    return small, (int(eye_u * (w - 1)), int(eye_v * (h - 1)))


def pick_level(band: F32, natural: float, margin: float) -> float:
    """The mean luma for a sprite over background lumas ``band``.

    It is the level that the fewest background pixels come within ``margin`` of, with a small
    pull towards the animal's ``natural`` luma, so the animal stands out wherever it walks.
    """
    levels = np.arange(20.0, 236.0, 2.0, dtype=np.float32)
    sample = band.ravel()[:: max(1, band.size // 20000)]
    near = (np.abs(sample[None, :] - levels[:, None]) < margin).mean(axis=1)
    return float(levels[np.argmin(near + 0.0015 * np.abs(levels - natural))])


def draw_sprite(rng: Rng, species: str, w: int, h: int, band: F32, ir_band: F32) -> Sprite:
    """Draw ``species`` in a ``w`` x ``h`` box, contrasted against its background.

    ``band`` holds the daylight lumas of the background where the animal walks and
    ``ir_band`` the same under IR; the animal's mean level keeps at least
    :data:`MIN_CONTRAST` (day) or :data:`MIN_IR_CONTRAST` (IR) grey levels from as much of
    that background as it can.
    """
    base = np.array(_COLOURS[species], np.float32) * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    texture = 1 + 0.13 * np.clip(smooth_noise(rng, h, w, max(2.0, 0.06 * w)), -2, 2)
    shade = np.linspace(1.1, 0.85, h, dtype=np.float32)[:, None]
    colour = (base * (texture * shade)[..., None]).astype(np.float32)
    natural = float(luminance(colour).mean())
    level = pick_level(band, natural, MIN_CONTRAST)
    colour = np.clip(colour * (level / max(natural, 1.0)), 0, 255).astype(np.float32)
    # Fur under IR is bright (the illuminator is close); keep the day texture faint.
    ir_level = pick_level(ir_band, float(ir_band.mean()) + 45, MIN_IR_CONTRAST)
    pattern = 0.3 * (luminance(colour) - level)
    day, ir, boxes = [], [], []
    eye = max(1, h // 40)
    for k in range(GAITS):
        mask, (ex, ey) = _mask(species, w, h, 2 * math.pi * k / GAITS)
        alpha = cast(F32, mask.astype(np.float32) / 255)  # float32 at run time
        c = colour.copy()
        cv2.circle(c, (ex, ey), eye, (15, 15, 15), -1)
        day.append(Layer((c * alpha[..., None]).astype(np.float32), alpha))
        grey = np.clip(ir_level + pattern, 0, 255)
        cv2.circle(grey, (ex, ey), eye, 250.0, -1)  # eye shine
        ir.append(Layer((grey * alpha).astype(np.float32), alpha))
        ys, xs = np.nonzero(mask >= 64)
        if xs.size == 0:  # a sprite a few pixels across: take the whole box
            boxes.append((0, 0, w, h))
        else:
            boxes.append(
                (
                    int(xs.min()),
                    int(ys.min()),
                    int(xs.max() - xs.min() + 1),
                    int(ys.max() - ys.min() + 1),
                )
            )
    return Sprite(tuple(day), tuple(ir), tuple(boxes))
