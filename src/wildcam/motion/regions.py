"""Geometry shared by the gates: polygon masks on the small frame, blobs to full-frame ROIs."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.camera.base import Box
from wildcam.motion.config import Polygon

__all__ = ["blob_rois", "find_blobs", "rasterise_masks"]

_SUBPIXEL_BITS = 4


def rasterise_masks(
    polygons: Sequence[Polygon],
    full_size: tuple[int, int],
    small_shape: tuple[int, int],
) -> npt.NDArray[np.uint8]:
    """Return a ``small_shape`` uint8 image, 255 inside any polygon (full-frame coords), else 0.

    Small pixel ``(r, c)`` stands for the full-frame block whose top-left sample it is, so a
    full-frame point ``(x, y)`` maps to ``(x * w_small / w_full, y * h_small / h_full)``.
    """
    height, width = small_shape
    out = np.zeros((height, width), dtype=np.uint8)
    if not polygons:
        return out
    sx = width / full_size[0]
    sy = height / full_size[1]
    one = 1 << _SUBPIXEL_BITS
    pts = [
        np.array([[round(x * sx * one), round(y * sy * one)] for x, y in polygon], np.int32)
        for polygon in polygons
    ]
    cv2.fillPoly(out, pts, 255, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return out


def find_blobs(
    mask: npt.NDArray[np.uint8],
    kernel: npt.NDArray[np.uint8] | None,
    min_area: int,
    scratch: npt.NDArray[np.uint8] | None = None,
    support: npt.NDArray[np.uint8] | None = None,
    scratch2: npt.NDArray[np.uint8] | None = None,
) -> list[tuple[int, int, int, int, int]]:
    """Return ``(x, y, w, h, area)`` of the blobs of ``mask`` that are big enough.

    ``kernel`` (if given) erodes the mask first, removing speckle thinner than the kernel; the
    boxes are grown back by the kernel's reach so they cover the uneroded object. A blob counts
    if at least ``min_area`` of its eroded pixels are set — and, with ``support``, also set in
    ``support`` (e.g. changed in the previous frame too); box and area are still the whole
    blob's, so a moving object's leading edge is covered. Areas are counted inside each blob's
    bounding box (a close neighbour may add to them), which keeps this to a few OpenCV calls:
    external contours and per-box pixel counts instead of labelling with statistics, which
    costs about ten times as much on a 160x120 frame.
    """
    lo = hi = 0
    if kernel is not None:
        # Outside the image counts as unchanged, so a speck on the border erodes away too.
        mask = cv2.erode(mask, kernel, dst=scratch, borderType=cv2.BORDER_CONSTANT,
                         borderValue=0)
        lo = kernel.shape[0] // 2  # the anchor's offset: an even kernel grows unevenly
        hi = kernel.shape[0] - 1 - lo
    held = mask if support is None else cv2.bitwise_and(mask, support, dst=scratch2)
    if cv2.countNonZero(held) < min_area:
        return []
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    height, width = mask.shape
    blobs = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < min_area:
            continue
        if support is not None and cv2.countNonZero(held[y:y + h, x:x + w]) < min_area:
            continue
        area = cv2.countNonZero(mask[y:y + h, x:x + w])
        if area < min_area:
            continue
        x0, y0 = max(0, x - lo), max(0, y - lo)
        x1, y1 = min(width, x + w + hi), min(height, y + h + hi)
        blobs.append((x0, y0, x1 - x0, y1 - y0, area))
    return blobs


def blob_rois(
    blobs: Sequence[tuple[int, int, int, int, int]],
    small_shape: tuple[int, int],
    full_size: tuple[int, int],
    padding: float,
    max_rois: int,
) -> tuple[Box, ...]:
    """Scale small-frame blobs to padded, clipped, merged full-frame boxes, largest first.

    Boxes that overlap after padding are merged; if more than ``max_rois`` remain, the
    smallest are merged into one box so that nothing that moved is dropped.
    """
    if not blobs:
        return ()
    full_w, full_h = full_size
    sx = full_w / small_shape[1]
    sy = full_h / small_shape[0]
    boxes: list[list[float]] = []
    for x, y, w, h, _ in blobs:
        x0, y0, x1, y1 = x * sx, y * sy, (x + w) * sx, (y + h) * sy
        pad = padding * max(x1 - x0, y1 - y0)
        boxes.append([max(0.0, x0 - pad), max(0.0, y0 - pad),
                      min(float(full_w), x1 + pad), min(float(full_h), y1 + pad)])
    boxes = _merge_overlapping(boxes)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    if len(boxes) > max_rois:
        rest = boxes[max_rois - 1:]
        boxes = boxes[:max_rois - 1] + [[min(b[0] for b in rest), min(b[1] for b in rest),
                                        max(b[2] for b in rest), max(b[3] for b in rest)]]
    return tuple(
        Box(int(x0), int(y0), int(np.ceil(x1)) - int(x0), int(np.ceil(y1)) - int(y0))
        for x0, y0, x1, y1 in boxes
    )


def _merge_overlapping(boxes: list[list[float]]) -> list[list[float]]:
    """Merge ``[x0, y0, x1, y1]`` boxes until none overlap (few boxes: quadratic is fine)."""
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for i in range(len(boxes)):
            a = boxes[i]
            for j in range(i + 1, len(boxes)):
                b = boxes[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]),
                                max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes
