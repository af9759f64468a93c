"""Geometry shared by the gates: polygon masks on the small frame, blobs to full-frame ROIs."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.motion.config import Polygon
from wildcam.types import Box

__all__ = ["blob_rois", "find_blobs", "grow_still", "rasterise_masks"]

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


def grow_still(
    still: npt.NDArray[np.uint8],
    kernel: npt.NDArray[np.uint8],
    out: npt.NDArray[np.uint8],
) -> npt.NDArray[np.uint8]:
    """Dilate a still mask by ``kernel`` (all ones) = erode the changed pixels.

    Same result as ``cv2.dilate`` with OpenCV's anchor (the kernel's centre) and a border of
    255: outside the image counts as still, so specks on the border erode away too. A
    one-row kernel is done as ORs of the flattened frame with itself shifted, at a third of
    the cost of ``cv2.dilate`` on a 160x120 frame (the wrap-around columns are then reset).
    """
    rows, width = kernel.shape
    if rows != 1 or width > 4 or not (still.flags.c_contiguous and out.flags.c_contiguous):
        return cv2.dilate(still, kernel, dst=out, borderType=cv2.BORDER_CONSTANT, borderValue=255)
    lo = width // 2
    hi = width - 1 - lo
    flat, dst = still.reshape(-1), out.reshape(-1)
    n = flat.size
    target = dst[lo : n - hi]
    np.bitwise_or(flat[: n - width + 1], flat[1 : n - width + 2], out=target)
    for j in range(2, width):
        np.bitwise_or(target, flat[j : n - width + 1 + j], out=target)
    out[:, :lo] = 255
    if hi:
        out[:, -hi:] = 255
    return out


def find_blobs(
    still: npt.NDArray[np.uint8],
    kernel: npt.NDArray[np.uint8] | None,
    min_area: int,
    scratch: npt.NDArray[np.uint8],
    scratch2: npt.NDArray[np.uint8],
    prev_still: npt.NDArray[np.uint8] | None = None,
) -> list[tuple[int, int, int, int, int]]:
    """Return ``(x, y, w, h, area)`` of the big-enough blobs of changed pixels.

    Masks are given the way the gate keeps them, as *still* masks (255 = unchanged). The
    changed pixels are eroded by ``kernel`` (if given), removing specks and lines thinner than
    it; boxes are grown back by the kernel's reach so they cover the uneroded object. A blob
    counts if at least ``min_area`` of its eroded pixels changed — with ``prev_still``, changed
    in the previous frame as well. In that case its box is widened to the eroded changed
    pixels around it (by up to half its size each way), so a moving object's leading edge,
    which had not changed in the previous frame, is covered.

    The common outcome (nothing qualifies) costs three calls: the erosion of the changed
    pixels is done as a dilation of the still ones, and ``not changed-now or
    not changed-before`` as one OR. Blobs are then found as external contours with pixel
    counts inside their boxes (a close neighbour in a box adds to its count) instead of
    labelling with statistics, which costs about ten times as much on a 160x120 frame.
    ``scratch`` and ``scratch2`` are frame-sized uint8 buffers.
    """
    lo_y = hi_y = lo_x = hi_x = 0
    if kernel is not None:
        still = grow_still(still, kernel, scratch)
        # The anchor sits at the kernel's centre, so an even kernel grows unevenly.
        lo_y, lo_x = kernel.shape[0] // 2, kernel.shape[1] // 2
        hi_y, hi_x = kernel.shape[0] - 1 - lo_y, kernel.shape[1] - 1 - lo_x
    quiet = still if prev_still is None else cv2.bitwise_or(still, prev_still, dst=scratch2)
    height, width = still.shape
    if height * width - cv2.countNonZero(quiet) < min_area:
        return []
    held = cv2.bitwise_not(quiet, dst=scratch2)  # eroded changed (and changed before)
    contours, _ = cv2.findContours(held, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    changed = None
    blobs = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < min_area:
            continue
        area = cv2.countNonZero(held[y : y + h, x : x + w])
        if area < min_area:
            continue
        if prev_still is not None:
            if changed is None:
                changed = cv2.bitwise_not(still, dst=scratch)
            wx0, wy0 = max(0, x - w // 2), max(0, y - h // 2)
            wx1, wy1 = min(width, x + w + w // 2), min(height, y + h + h // 2)
            ex, ey, ew, eh = cv2.boundingRect(changed[wy0:wy1, wx0:wx1])
            if ew and eh:
                x1, y1 = max(x + w, wx0 + ex + ew), max(y + h, wy0 + ey + eh)
                x, y = min(x, wx0 + ex), min(y, wy0 + ey)
                w, h = x1 - x, y1 - y
        x0, y0 = max(0, x - lo_x), max(0, y - lo_y)
        x1, y1 = min(width, x + w + hi_x), min(height, y + h + hi_y)
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
        boxes.append(
            [
                max(0.0, x0 - pad),
                max(0.0, y0 - pad),
                min(float(full_w), x1 + pad),
                min(float(full_h), y1 + pad),
            ]
        )
    boxes = _merge_overlapping(boxes)
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    if len(boxes) > max_rois:
        rest = boxes[max_rois - 1 :]
        boxes = [
            *boxes[: max_rois - 1],
            [
                min(b[0] for b in rest),
                min(b[1] for b in rest),
                max(b[2] for b in rest),
                max(b[3] for b in rest),
            ],
        ]
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
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes
