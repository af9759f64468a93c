"""More views of the same frame for the large detector: test-time flip and SAHI-style tiles.

* ``flip``: the detector also sees the mirrored frame; a region's score is the mean of the two
  views' scores (averaging keeps the scores calibrated-ish; taking the maximum would raise every
  empty frame's score too), its boxes those of the better view, mirrored back.
* ``tiles``: besides the region itself, the detector sees the 2 x 2 overlapping tiles of the
  region (each half its size plus :data:`TILE_OVERLAP`) at the frame's native resolution, so
  small and distant animals cover twice as many input pixels (about what a 1280 input gives at
  640); a region's score is the best over the views, its boxes the union (SAHI's merge).

Each view is one more detector call (flip x2, tiles x5, both x10), all inside the stage's energy
meter. Works with any :class:`~wildcam.cascade.base.StageModel`.

The students (stages 1 and 2) can look at tiles too (:class:`TileBand`, the cascade's
``student_tiles``): on a whole frame large enough that each tile of the grid holds at least the
student's input size in pixels, the student scores the frame and every tile
(:func:`predict_tiled`). The frame counts against the student's own band (by night its night
band), the best tile against the tile band, chosen on labelled tiles (:func:`tile_label`):
"animal" if the frame or some tile is confidently an animal, "background" if the frame and
every tile are confidently background, else unsure (:meth:`TileBand.verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from wildcam.cascade.base import RegionResult, ScoredBox, StageModel
from wildcam.types import Box, Image

__all__ = [
    "TILE_OVERLAP",
    "TileBand",
    "grid_tiles",
    "predict_tiled",
    "predict_views",
    "student_tiles",
    "thumbnail",
    "tile_label",
    "tiles_of",
]

TILE_OVERLAP = 0.2
"""Each tile reaches this share of its side past the region's middle (SAHI's default overlap
ratio is 0.2)."""


def grid_tiles(region: Box, cols: int, rows: int) -> list[Box]:
    """``cols`` x ``rows`` overlapping tiles covering ``region``, row by row: each
    ``1 + TILE_OVERLAP`` times its share of the region's side, spread evenly from edge to edge."""
    tw = min(round(region.w / cols * (1 + TILE_OVERLAP)), region.w)
    th = min(round(region.h / rows * (1 + TILE_OVERLAP)), region.h)
    xs = [region.x + round(i * (region.w - tw) / max(cols - 1, 1)) for i in range(cols)]
    ys = [region.y + round(j * (region.h - th) / max(rows - 1, 1)) for j in range(rows)]
    return [Box(x, y, tw, th) for y in ys for x in xs]


def tiles_of(region: Box) -> list[Box]:
    """The 2 x 2 overlapping tiles of ``region`` (stage 3's tiles)."""
    return grid_tiles(region, 2, 2)


@dataclass(frozen=True)
class TileBand:
    """A student's tile grid for whole frames and the band of its best view's score.

    ``min_side`` is the student's input side: the grid is used only on a whole frame whose
    tiles are at least that large (smaller tiles would only be scaled up)."""

    cols: int
    rows: int
    c_low: float
    c_high: float
    min_side: int

    @property
    def layout(self) -> str:
        """``"COLSxROWS"``."""
        return f"{self.cols}x{self.rows}"

    def verdict(self, frame: float, tile: float, c_low: float, c_high: float) -> bool | None:
        """``True`` (animal) if the ``frame`` score is at or above its band's ``c_high`` or the
        best ``tile`` score at or above this band's; ``False`` (background) if the frame is
        below its ``c_low`` and the best tile below this band's; ``None`` (unsure) otherwise."""
        if frame >= c_high or tile >= self.c_high:
            return True
        if frame < c_low and tile < self.c_low:
            return False
        return None

    def applies(self, region: Box, width: int, height: int) -> bool:
        """Whether ``region`` is the whole ``width`` x ``height`` frame and large enough."""
        if region != Box(0, 0, width, height):
            return False
        tile = grid_tiles(region, self.cols, self.rows)[0]
        return min(tile.w, tile.h) >= self.min_side


def student_tiles(model: StageModel, on: bool) -> TileBand | None:
    """``model``'s tile band when ``on`` (the cascade's ``student_tiles``) and it is a student
    that has one; else ``None``."""
    band: TileBand | None = getattr(model, "tiles", None)
    return band if on and model.stage < 3 else None


def predict_tiled(
    model: StageModel, image: Image, region: Box, band: TileBand
) -> tuple[RegionResult, RegionResult]:
    """``model`` on ``region`` and its tiles (one batched call): the region's own result, and
    the best tile's score and boxes (for ``region``)."""
    views = model.predict(image, [region, *grid_tiles(region, band.cols, band.rows)])
    best = max(views[1:], key=lambda r: r.score)
    return views[0], RegionResult(region, best.score, best.boxes)


def tile_label(
    tile: Box, animals: Sequence[Box], seen: Sequence[Box], share: float = 0.5
) -> bool | None:
    """A tile's truth from the frame's boxes: ``True`` when it holds at least ``share`` of
    the area of one of the ``animals``' boxes, ``False`` when it touches none of the ``seen``
    boxes (the animals and anything else a detector marked), ``None`` (ambiguous) otherwise."""
    for box in animals:
        if box.area > 0 and tile.intersection(box) >= share * box.area:
            return True
    if any(tile.intersection(box) > 0 for box in (*animals, *seen)):
        return None
    return False


def _mirror(box: Box, width: int) -> Box:
    return Box(width - box.x - box.w, box.y, box.w, box.h)


def _flipped(model: StageModel, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
    width = int(image.shape[1])
    mirrored = np.ascontiguousarray(image[:, ::-1])
    plain = model.predict(image, regions)
    flipped = model.predict(mirrored, [_mirror(r, width) for r in regions])
    out = []
    for region, a, b in zip(regions, plain, flipped, strict=True):
        back = tuple(ScoredBox(_mirror(s.box, width), s.score) for s in b.boxes)
        boxes = a.boxes if a.score >= b.score else back
        out.append(RegionResult(region, (a.score + b.score) / 2, boxes))
    return out


def _tiled(
    model: StageModel, image: Image, regions: Sequence[Box], flip: bool
) -> list[RegionResult]:
    views = [[region, *tiles_of(region)] for region in regions]
    flat = [v for group in views for v in group]
    answers = _flipped(model, image, flat) if flip else model.predict(image, flat)
    out = []
    for k, region in enumerate(regions):
        mine = answers[k * 5 : (k + 1) * 5]
        out.append(
            RegionResult(
                region, max(r.score for r in mine), _suppress([s for r in mine for s in r.boxes])
            )
        )
    return out


def _suppress(boxes: list[ScoredBox], iou: float = 0.5) -> tuple[ScoredBox, ...]:
    """Greedy non-maximum suppression of the views' boxes, best first."""
    kept: list[ScoredBox] = []
    for candidate in sorted(boxes, key=lambda s: -s.score):
        if all(candidate.box.iou(k.box) < iou for k in kept):
            kept.append(candidate)
    return tuple(kept)


def predict_views(
    model: StageModel,
    image: Image,
    regions: Sequence[Box],
    flip: bool = False,
    tiles: bool = False,
) -> list[RegionResult]:
    """``model``'s results for ``regions`` of ``image``, with the views asked for."""
    if tiles:
        return _tiled(model, image, regions, flip)
    if flip:
        return _flipped(model, image, regions)
    return model.predict(image, regions)


def thumbnail(image: Image, box: Box | None = None, side: int = 0) -> Image:
    """``image`` (cropped to ``box`` when given) shrunk to ``side`` px at most (0: as is)."""
    if box is not None:
        image = image[box.y : box.y + box.h, box.x : box.x + box.w]
    h, w = image.shape[:2]
    if side and max(h, w) > side:
        scale = side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image
