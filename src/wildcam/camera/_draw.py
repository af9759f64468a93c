"""Procedural drawing for the synthetic scene, run once per scene and never per frame.

A :class:`Layer` is premultiplied colour (``(h, w, 3)`` BGR for daylight, ``(h, w)`` grey
for IR) plus alpha in 0..1, so a bilinear warp of a layer stays correct and compositing is
``dst * (1 - alpha) + colour``. A :class:`Layer8` is the same rounded to uint8, for layers
blended every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
Rng = np.random.Generator

HORIZON = 0.36
"""Horizon height as a fraction of the frame height."""
TRAIL = (0.70, 0.88)
"""The game trail across the ground, as fractions of the frame height."""


def smooth_noise(rng: Rng, h: int, w: int, cell: float) -> F32:
    """Value noise of roughly unit spread with features about ``cell`` pixels across."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def luminance(bgr: npt.NDArray[np.floating] | U8) -> F32:
    """Rec. 601 luma of a BGR array (last axis)."""
    b, g, r = (bgr[..., i].astype(np.float32) for i in range(3))
    return 0.114 * b + 0.587 * g + 0.299 * r


def background(rng: Rng, w: int, h: int) -> U8:
    """Sky, treeline, textured ground with a lighter trail, grass strokes and a tree trunk."""
    img = np.empty((h, w, 3), np.float32)
    hz = max(2, int(HORIZON * h))
    t = np.linspace(0, 1, hz, dtype=np.float32)[:, None, None]
    img[:hz] = (1 - t) * np.array([205, 160, 120], np.float32) + t * np.array(
        [222, 208, 192], np.float32
    )
    img[:hz] += 7 * smooth_noise(rng, hz, w, 0.2 * w)[..., None]
    t = np.linspace(0, 1, h - hz, dtype=np.float32)[:, None, None]
    img[hz:] = (1 - t) * np.array([100, 128, 118], np.float32) + t * np.array(
        [58, 98, 84], np.float32
    )
    img[hz:] += (
        16
        * smooth_noise(rng, h - hz, w, 0.06 * w)[..., None]
        * np.array([0.7, 1, 1.2], np.float32)
    )
    ys = np.arange(h, dtype=np.float32)[:, None]
    wobble = 0.015 * h * smooth_noise(rng, 1, w, 0.25 * w)
    top, bottom = TRAIL[0] * h + wobble, TRAIL[1] * h + wobble
    trail = np.clip(np.minimum(ys - top, bottom - ys) / (0.015 * h), 0, 1)
    trail *= 0.75 + 0.25 * np.clip(smooth_noise(rng, h, w, 0.05 * w), -1, 1)
    img = img * (1 - trail[..., None]) + trail[..., None] * np.array([108, 140, 160], np.float32)
    # Treeline: a dark ragged silhouette sitting on the horizon.
    crown = hz - 0.05 * h * (1.2 + smooth_noise(rng, 1, w, 0.04 * w)[0]).clip(0.2, 3)
    tree = (ys >= crown[None, :]) & (ys < hz + 2)
    img[tree] = np.array([52, 78, 58], np.float32) + 10 * rng.standard_normal((int(tree.sum()), 1))
    # A trunk at the left edge, from which the hanging foliage comes.
    x0, x1 = int(0.03 * w), int(0.09 * w)
    bark = 12 * smooth_noise(rng, int(0.8 * h), x1 - x0, 0.01 * w + 1)[..., None]
    img[: int(0.8 * h), x0:x1] = np.array([40, 55, 68], np.float32) + bark
    img += 4 * rng.standard_normal((h, w, 1)).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(w * h / 200)):  # static grass strokes on the ground
        x, y = int(rng.integers(0, w)), int(rng.integers(hz + 4, h))
        length = (2 + 10 * (y - hz) / h) * rng.uniform(0.5, 1.5)
        lean = rng.uniform(-0.4, 0.4)
        shade = rng.uniform(0.55, 1.25)
        colour = (float(40 * shade), float(105 * shade), float(70 * shade))
        cv2.line(out, (x, y), (int(x + lean * length), int(y - length)), colour, 1, cv2.LINE_AA)
    return out


@dataclass(frozen=True)
class Layer:
    """Premultiplied colour and its alpha, both float32 and C-contiguous."""

    colour: F32
    alpha: F32

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.alpha.shape[0]), int(self.alpha.shape[1])

    def flipped(self) -> Layer:
        """The layer mirrored left to right."""
        return Layer(
            np.ascontiguousarray(self.colour[:, ::-1]), np.ascontiguousarray(self.alpha[:, ::-1])
        )

    def warped(self, m: F32) -> Layer:
        """The layer under the affine map ``m`` (destination to source), same size."""
        h, w = self.shape
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        return Layer(
            cv2.warpAffine(self.colour, m, (w, h), flags=flags),
            cv2.warpAffine(self.alpha, m, (w, h), flags=flags),
        )

    def blend_onto(self, dst: U8, x: int, y: int) -> None:
        """Composite onto ``dst`` (HxWx3 or HxW, like the colour) with top-left ``(x, y)``."""
        cut = _overlap(self.shape, dst, x, y)
        if cut is None:
            return
        roi, inside = cut
        keep = 1 - self.alpha[inside]
        if dst.ndim == 3:
            keep = cv2.cvtColor(keep, cv2.COLOR_GRAY2BGR)
        out = roi.astype(np.float32)
        out *= keep
        out += self.colour[inside]
        roi[...] = cv2.convertScaleAbs(out)  # rounds and saturates; values are >= 0

    def rounded(self) -> Layer8:
        """The layer in uint8, for blending every frame (within one grey level of this)."""
        keep = np.rint(255 * (1 - self.alpha)).astype(np.uint8)
        if self.colour.ndim == 3:
            keep = cv2.merge([keep] * self.colour.shape[2])
        return Layer8(cv2.convertScaleAbs(self.colour), keep)


@dataclass(frozen=True)
class Layer8:
    """Premultiplied colour and ``keep = 255 * (1 - alpha)``, uint8 and of the same shape.

    Blending is two saturating uint8 operations on the covered pixels, no float copies.
    """

    colour: U8
    keep: U8

    def blend_onto(self, dst: U8, x: int, y: int) -> None:
        """Composite onto ``dst`` (shaped like the colour) with top-left ``(x, y)``."""
        cut = _overlap(self.colour.shape[:2], dst, x, y)
        if cut is None:
            return
        roi, inside = cut
        cv2.multiply(roi, self.keep[inside], dst=roi, scale=1 / 255)
        cv2.add(roi, self.colour[inside], dst=roi)


def _overlap(
    shape: tuple[int, ...], dst: U8, x: int, y: int
) -> tuple[U8, tuple[slice, slice]] | None:
    """The part of ``dst`` a ``shape`` layer at ``(x, y)`` covers, and that part of the layer."""
    h, w = shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, dst.shape[1]), min(y + h, dst.shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return dst[y0:y1, x0:x1], (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


@dataclass(frozen=True)
class Plant:
    """A vegetation layer and how it sways: a shear anchored at its ``anchor`` edge."""

    x: int
    y: int
    layer: Layer
    anchor: str  # "bottom" (bushes, grass) or "top" (hanging foliage)
    amplitude: float  # free-end displacement in pixels at wind strength 1
    freq: float
    phase: float


def _layer(colour: F32, alpha: F32) -> Layer:
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    return Layer((colour * alpha[..., None]).astype(np.float32), alpha.astype(np.float32))


def _bush(rng: Rng, w: int, h: int, margin: int) -> Layer:
    colour = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    cx, cy, rx, ry = w / 2, h * 0.62, (w - 2 * margin) * 0.45, h * 0.55
    leaf = max(2.0, 0.045 * (w - 2 * margin))
    for _ in range(int(2.5 * rx * ry / leaf**2)):
        ang, rad = rng.uniform(math.pi, 2 * math.pi), math.sqrt(rng.uniform(0, 1))
        px, py = cx + rx * rad * math.cos(ang), min(cy + ry * rad * math.sin(ang), h - 2.0)
        py += rng.uniform(0, 0.4) * (h - py)
        axes = (
            max(1, int(leaf * rng.uniform(0.6, 1.3))),
            max(1, int(leaf * rng.uniform(0.3, 0.7))),
        )
        shade = rng.uniform(0.6, 1.3) * (1.1 - 0.4 * py / h)
        bgr = (35 * shade, 112 * shade, 62 * shade)
        centre, angle = (int(px), int(py)), float(rng.uniform(0, 180))
        cv2.ellipse(colour, centre, axes, angle, 0, 360, bgr, -1)
        cv2.ellipse(alpha, centre, axes, angle, 0, 360, 1.0, -1)
    return _layer(colour, alpha)


def _grass(rng: Rng, w: int, h: int, margin: int) -> Layer:
    colour = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    for _ in range(int((w - 2 * margin) * 0.9)):
        x = rng.uniform(margin, w - margin)
        tall, lean = h * rng.uniform(0.35, 0.98), rng.uniform(-0.25, 0.25)
        pts = [(x + lean * tall * s * s, h - 1 - tall * s) for s in (0.0, 0.35, 0.7, 1.0)]
        poly = np.array([[int(px), int(py)] for px, py in pts], np.int32)
        shade = rng.uniform(0.6, 1.2)
        bgr = (45 * shade, 125 * shade, 105 * shade)
        width = int(rng.integers(1, 3))
        cv2.polylines(colour, [poly], False, bgr, width, cv2.LINE_AA)
        cv2.polylines(alpha, [poly], False, 1.0, width, cv2.LINE_AA)
    return _layer(colour, alpha)


def _foliage(rng: Rng, w: int, h: int, margin: int) -> Layer:
    colour = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    leaf = max(2.0, 0.03 * w)
    for _ in range(7):  # drooping twigs from the top edge, leaves along each
        x = rng.uniform(margin, w - margin)
        length, drift = h * rng.uniform(0.5, 0.95), rng.uniform(-0.3, 0.3) * w
        pts = [(x + drift * s * s, length * s) for s in np.linspace(0, 1, 12)]
        poly = np.array([[int(px), int(py)] for px, py in pts], np.int32)
        cv2.polylines(colour, [poly], False, (35, 50, 60), 2, cv2.LINE_AA)
        cv2.polylines(alpha, [poly], False, 1.0, 2, cv2.LINE_AA)
        for px, py in pts[2:]:
            for _ in range(6):
                c = (int(px + rng.normal(0, leaf)), int(py + rng.normal(0, leaf)))
                axes = (max(1, int(leaf * rng.uniform(0.7, 1.2))), max(1, int(leaf * 0.45)))
                shade, angle = rng.uniform(0.6, 1.3), float(rng.uniform(0, 180))
                cv2.ellipse(
                    colour, c, axes, angle, 0, 360, (40 * shade, 120 * shade, 75 * shade), -1
                )
                cv2.ellipse(alpha, c, axes, angle, 0, 360, 1.0, -1)
    return _layer(colour, alpha)


def vegetation(rng: Rng, w: int, h: int) -> list[Plant]:
    """Three bushes, two grass tufts and a curtain of foliage hanging from the top."""
    plants = []
    hz = HORIZON * h
    specs = (  # kind, left, base (y of the anchor edge), width, height (frame fractions)
        ("bush", 0.10, 0.66, 0.20, 0.22),
        ("bush", 0.48, HORIZON + 0.08, 0.14, 0.12),
        ("bush", 0.80, 0.70, 0.18, 0.20),
        ("grass", -0.02, 1.0, 0.26, 0.26),
        ("grass", 0.72, 1.0, 0.30, 0.22),
        ("foliage", 0.55, 0.0, 0.36, 0.30),
    )
    draw = {"bush": _bush, "grass": _grass, "foliage": _foliage}
    sway = {"bush": 0.06, "grass": 0.12, "foliage": 0.09}
    for kind, left, base, fw, fh in specs:
        ph = max(8, int(fh * h))
        amp = sway[kind] * ph
        margin = int(math.ceil(amp)) + 2
        pw = int(fw * w) + 2 * margin
        layer = draw[kind](rng, pw, ph, margin)
        top = 0 if kind == "foliage" else int(max(base * h, hz) - ph)
        plants.append(
            Plant(
                int(left * w) - margin,
                top,
                layer,
                "top" if kind == "foliage" else "bottom",
                amp,
                float(rng.uniform(0.35, 0.8)),
                float(rng.uniform(0, 2 * math.pi)),
            )
        )
    return plants


def ir_illumination(w: int, h: int) -> F32:
    """How much of the IR illuminator's light reaches each pixel: bright near, dark far."""
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    near = np.clip((ys - HORIZON + 0.08) / (1 - HORIZON), 0.12, 1) ** 0.6
    return (near * (1 - 0.25 * xs**2)).astype(np.float32)


def ir_reflectance(bgr: npt.NDArray[np.floating] | U8) -> F32:
    """IR reflectance (0..255 scale) from daylight colour: foliage reflects IR strongly."""
    b, g, r = (bgr[..., i].astype(np.float32) for i in range(3))
    return cast(F32, 0.9 * luminance(bgr) + 1.6 * np.maximum(g - np.maximum(b, r), 0))


def ir_layer(layer: Layer, illumination: float, boost: float = 1.5) -> Layer:
    """The IR version of a daylight foliage layer lit by ``illumination``.

    ``boost`` makes leaves brighter than the ground: chlorophyll reflects near-IR strongly.
    """
    colour = layer.colour / np.maximum(layer.alpha, 1e-6)[..., None]
    grey = np.clip(12 + illumination * boost * ir_reflectance(colour), 0, 255)
    return Layer((grey * layer.alpha).astype(np.float32), layer.alpha)


def precipitation(rng: Rng, w: int, h: int, kind: str, intensity: float) -> U8:
    """A single-channel brightness texture of rain streaks or snowflakes, ``w`` x ``h``."""
    tex = np.zeros((h, w), np.uint8)
    area = w * h
    if kind == "snow":
        for _ in range(int(area * 1.2e-3 * intensity)):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(
                tex, c, int(rng.integers(1, 4)), int(rng.integers(90, 200)), -1, cv2.LINE_AA
            )
    else:
        slant = rng.uniform(-0.25, 0.25)
        for _ in range(int(area * 1.6e-3 * intensity)):
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            length = rng.uniform(0.015, 0.045) * h
            end = (int(x + slant * length), int(y + length))
            cv2.line(tex, (x, y), end, int(rng.integers(35, 110)), 1, cv2.LINE_AA)
    return cv2.GaussianBlur(tex, (3, 3), 0)
