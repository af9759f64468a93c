"""The students' crop dataset: motion-ROI-like regions of real frames, labelled by the teacher.

For every frame the teacher's boxes (and the known truth where there is one: the synthetic
scene's boxes, road clips with no animals) give soft labels. Regions drawn per frame:

* around each animal box, jittered in scale and position like a motion ROI (positives);
* random regions elsewhere (negatives, and partial views whose label falls with the share of the
  animal inside), and the whole frame;
* copy-paste: animal patches of training frames pasted onto empty training backgrounds;
* hard negatives: vegetation, rain, snow and IR switches of the synthetic scene, road traffic,
  and background crops turned to IR (grey + sensor noise) or hit by an illumination jump.

A region's crop is made exactly as at run time (:func:`wildcam.cascade.onnx_models.crop_square`).
Soft label: ``max_j score_j * clip((inside_j - 0.3) / 0.4, 0, 1)`` over animal boxes ``j``,
``inside_j`` the share of box ``j`` inside the crop's square, ``score_j`` the teacher's score
mapped so that its presence threshold is 0.5. Box target: the best box, as ``cx, cy, w, h``
fractions of the square.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from wildcam.cascade.base import ScoredBox
from wildcam.cascade.onnx_models import crop_square
from wildcam.training.data import Frame
from wildcam.types import Box, Image

__all__ = ["CONTEXT", "CROP", "CropSet", "build_crops", "teacher_to_target"]

CROP = 128
"""Crops are stored at the medium model's input size; the tiny one resizes them."""
CONTEXT = 0.15
"""Context added around a region on each side, as a fraction of its longer side."""
JITTERS = {"ena24": 8, "buow": 8, "misc": 8, "clip": 4, "synthetic": 2}
"""Jittered regions per animal box; camera-trap stills are few and what matters, so more."""


@dataclass
class CropSet:
    """Crops (``[N, CROP, CROP, 3]`` BGR uint8), soft labels, box targets and provenance.

    ``split`` is the role of the crop's frame group (:func:`wildcam.cascade.splits.role`):
    ``train`` (the students learn from it), ``calib`` (their bands are chosen on it) or ``test``
    (their figures are reported on it). Pasted crops are ``train``. ``groups`` is the group of
    the crop's frame (a still, a clip; the background's for a pasted crop).
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    kinds: np.ndarray
    sources: np.ndarray
    split: np.ndarray
    groups: np.ndarray

    def subset(self, split: str) -> CropSet:
        m = self.split == split
        return CropSet(
            self.images[m],
            self.labels[m],
            self.boxes[m],
            self.kinds[m],
            self.sources[m],
            self.split[m],
            self.groups[m],
        )


def teacher_to_target(score: float, present: float) -> float:
    """Map a teacher score to a soft target whose 0.5 is the teacher's presence threshold."""
    if score <= present:
        return 0.5 * score / present
    return min(1.0, 0.5 + 0.5 * (score - present) / max(0.6 - present, 1e-6))


def _inside(animal: Box, square: Box) -> float:
    ix = min(animal.x + animal.w, square.x + square.w) - max(animal.x, square.x)
    iy = min(animal.y + animal.h, square.y + square.h) - max(animal.y, square.y)
    return max(ix, 0) * max(iy, 0) / max(animal.area, 1)


def _label(square: Box, animals: Sequence[ScoredBox]) -> tuple[float, np.ndarray]:
    best, box = 0.0, np.zeros(4, np.float32)
    for a in animals:
        share = _inside(a.box, square)
        # an animal that is a speck in the crop is not what a motion ROI around it would show
        speck = min(1.0, a.box.area / max(square.area, 1) / 0.02)
        v = a.score * float(np.clip((share - 0.3) / 0.4, 0.0, 1.0)) * speck
        if v > best:
            best = v
            clipped = a.box.clipped(square.x + square.w, square.y + square.h)
            x0, y0 = max(clipped.x, square.x), max(clipped.y, square.y)
            x1, y1 = clipped.x + clipped.w, clipped.y + clipped.h
            box = np.array(
                [
                    ((x0 + x1) / 2 - square.x) / square.w,
                    ((y0 + y1) / 2 - square.y) / square.h,
                    (x1 - x0) / square.w,
                    (y1 - y0) / square.h,
                ],
                np.float32,
            )
    return best, np.clip(box, 0.0, 1.0)


def _jitter(rng: np.random.Generator, box: Box, w: int, h: int) -> Box:
    s = rng.uniform(0.8, 1.6)
    bw = max(box.w * s * rng.uniform(0.85, 1.15), 8)
    bh = max(box.h * s * rng.uniform(0.85, 1.15), 8)
    cx = box.x + box.w / 2 + rng.uniform(-0.2, 0.2) * box.w
    cy = box.y + box.h / 2 + rng.uniform(-0.2, 0.2) * box.h
    return Box(round(cx - bw / 2), round(cy - bh / 2), round(bw), round(bh)).clipped(w, h)


def _random_region(rng: np.random.Generator, w: int, h: int) -> Box:
    side = min(w, h)
    bw = rng.uniform(0.08, 0.5) * side
    bh = bw * rng.uniform(0.5, 1.6)
    x, y = rng.uniform(0, max(w - bw, 1)), rng.uniform(0, max(h - bh, 1))
    return Box(round(x), round(y), max(round(bw), 8), max(round(bh), 8)).clipped(w, h)


def ir_look(rng: np.random.Generator, crop: Image) -> Image:
    """Grey (IR night look) with sensor noise."""
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    g = g * rng.uniform(0.6, 1.3) + rng.normal(0, rng.uniform(3, 14), g.shape)
    return cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def illumination_jump(rng: np.random.Generator, crop: Image) -> Image:
    """A sudden exposure change (IR switch, cloud, flash)."""
    gain = rng.choice([rng.uniform(0.25, 0.6), rng.uniform(1.6, 2.8)])
    return np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def rain(rng: np.random.Generator, crop: Image) -> Image:
    """Bright streaks across the crop."""
    out = crop.copy()
    n = int(rng.integers(20, 80))
    dx = rng.uniform(-0.3, 0.3)
    for _ in range(n):
        x, y = rng.uniform(0, CROP), rng.uniform(-10, CROP)
        length = rng.uniform(6, 20)
        cv2.line(
            out,
            (int(x), int(y)),
            (int(x + dx * length), int(y + length)),
            (210, 210, 210),
            1,
            cv2.LINE_AA,
        )
    return cv2.addWeighted(crop, 0.5, out, 0.5, 0)


def _paste(rng: np.random.Generator, background: Image, patch: Image) -> tuple[Image, Box]:
    """``patch`` blended (feathered edges) onto a copy of ``background``; and where it went."""
    h, w = background.shape[:2]
    target = rng.uniform(0.15, 0.45) * min(w, h)
    s = target / max(patch.shape[:2])
    pw, ph = max(int(patch.shape[1] * s), 8), max(int(patch.shape[0] * s), 8)
    patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    x, y = int(rng.integers(0, max(w - pw, 1))), int(rng.integers(0, max(h - ph, 1)))
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(
        mask, (pw // 2, ph // 2), (max(pw // 2 - 1, 1), max(ph // 2 - 1, 1)), 0, 0, 360, 1.0, -1
    )
    mask = cv2.GaussianBlur(mask, (0, 0), max(min(pw, ph) / 12, 1.0))[..., None]
    out = background.copy()
    roi = out[y : y + ph, x : x + pw].astype(np.float32)
    out[y : y + ph, x : x + pw] = (roi * (1 - mask) + patch * mask).astype(np.uint8)
    return out, Box(x, y, pw, ph)


def build_crops(
    frames: Sequence[Frame],
    animals: Sequence[Sequence[ScoredBox]],
    present: float,
    seed: int,
    per_frame: int = 6,
    pastes: int = 900,
) -> CropSet:
    """Crops of every frame (``animals[i]``: frame i's animal boxes with *targets* 0..1)."""
    rng = np.random.default_rng(seed)
    images, labels, boxes, kinds, sources, splits, groups = [], [], [], [], [], [], []

    def add(
        image: Image,
        region: Box,
        found: Sequence[ScoredBox],
        kind: str,
        frame: Frame,
        split: str,
        look: str = "",
    ) -> None:
        crop, square = crop_square(image, region, CROP, CONTEXT)
        label, box = _label(square, found)
        if look == "ir":
            crop = ir_look(rng, crop)
        elif look == "jump":
            crop = illumination_jump(rng, crop)
        elif look == "rain":
            crop = rain(rng, crop)
        images.append(crop)
        labels.append(label)
        boxes.append(box)
        kinds.append(kind)
        sources.append(frame.source)
        splits.append(split)
        groups.append(frame.group)

    backgrounds: list[Frame] = []
    patches: list[tuple[Image, float]] = []
    for frame, found in zip(frames, animals, strict=True):
        h, w = frame.image.shape[:2]
        split = frame.role
        for a in found:
            if a.score >= 0.5:
                for _ in range(JITTERS.get(frame.source, 3)):
                    look = "ir" if rng.random() < 0.2 else ""
                    add(
                        frame.image,
                        _jitter(rng, a.box, w, h),
                        found,
                        "animal",
                        frame,
                        split,
                        look,
                    )
                if split == "train" and a.box.w >= 24 and a.box.h >= 24:
                    patches.append(
                        (
                            frame.image[a.box.y : a.box.y + a.box.h, a.box.x : a.box.x + a.box.w],
                            a.score,
                        )
                    )
        if not found or max(a.score for a in found) < 0.05:
            backgrounds.append(frame)
        # the whole frame is a region too (a large motion ROI, or an event without one)
        add(
            frame.image,
            Box(0, 0, w, h),
            found,
            "frame",
            frame,
            split,
            "ir" if rng.random() < 0.15 else "",
        )
        for _ in range(per_frame if frame.source != "cats_dogs" else 2):
            look = rng.choice(["", "", "ir", "jump", "rain"])
            kind = "synthetic" if frame.source == "synthetic" else "background"
            add(frame.image, _random_region(rng, w, h), found, kind, frame, split, look)

    train_bg = [f for f in backgrounds if f.role == "train"]
    for _ in range(pastes if patches and train_bg else 0):
        bg = train_bg[int(rng.integers(len(train_bg)))]
        patch, score = patches[int(rng.integers(len(patches)))]
        pasted, where = _paste(rng, bg.image, patch)
        h, w = pasted.shape[:2]
        look = "ir" if rng.random() < 0.2 else ""
        add(
            pasted,
            _jitter(rng, where, w, h),
            [ScoredBox(where, score)],
            "paste",
            bg,
            "train",
            look,
        )

    return CropSet(
        np.stack(images),
        np.asarray(labels, np.float32),
        np.stack(boxes).astype(np.float32),
        np.asarray(kinds),
        np.asarray(sources),
        np.asarray(splits),
        np.asarray(groups),
    )
