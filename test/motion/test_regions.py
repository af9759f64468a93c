"""Polygon rasterisation and blob-to-ROI geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from wildcam.motion import rasterise_masks
from wildcam.motion.regions import blob_rois, find_blobs, grow_still
from wildcam.types import Box


def test_rasterise_scales_full_frame_polygons_to_the_small_frame() -> None:
    square = ((100.0, 40.0), (200.0, 40.0), (200.0, 120.0), (100.0, 120.0))
    small = rasterise_masks((square,), (640, 480), (120, 160))
    assert small.shape == (120, 160) and small.dtype == np.uint8
    ys, xs = np.nonzero(small)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (25, 50, 10, 30)
    assert set(np.unique(small)) == {0, 255}
    assert not rasterise_masks((), (640, 480), (120, 160)).any()


def test_find_blobs_drops_speckle_and_grows_boxes_back() -> None:
    mask = np.zeros((120, 160), np.uint8)
    mask[40:50, 60:80] = 255  # an object
    mask[5, 5] = mask[100, 150] = 255  # speckle
    mask[20:22, 20:40] = 255  # a 2-px line: eroded away by 3x3
    still = cv2.bitwise_not(mask)
    scratch, scratch2 = np.empty_like(mask), np.empty_like(mask)
    blobs = find_blobs(still, np.ones((3, 3), np.uint8), 6, scratch, scratch2)
    assert len(blobs) == 1
    x, y, w, h, area = blobs[0]
    assert (x, y, w, h) == (60, 40, 20, 10)
    assert area == 18 * 8  # counted after erosion
    assert len(find_blobs(still, None, 1, scratch, scratch2)) == 4


def test_find_blobs_with_previous_frame_keeps_persistent_blobs_at_full_extent() -> None:
    now = np.zeros((120, 160), np.uint8)
    now[40:50, 60:80] = 255  # an object that moved 6 px right since the last frame
    now[90:94, 10:14] = 255  # a drop that was not there before
    before = np.zeros_like(now)
    before[40:50, 54:74] = 255
    scratch, scratch2 = np.empty_like(now), np.empty_like(now)
    blobs = find_blobs(
        cv2.bitwise_not(now),
        np.ones((2, 2), np.uint8),
        8,
        scratch,
        scratch2,
        cv2.bitwise_not(before),
    )
    assert len(blobs) == 1
    x, y, w, h, _ = blobs[0]
    assert (x, y, x + w, y + h) == (60, 40, 80, 50)  # the leading edge (74..80) included


def test_blob_rois_scale_pad_clip_and_merge() -> None:
    rois = blob_rois([(0, 0, 10, 10, 100)], (120, 160), (640, 480), padding=0.1, max_rois=4)
    assert rois == (Box(0, 0, 44, 44),)  # 40x40 full px, +4 padding, clipped at 0
    touching = [(10, 10, 10, 10, 100), (21, 10, 10, 10, 100), (100, 100, 5, 5, 25)]
    rois = blob_rois(touching, (120, 160), (640, 480), padding=0.1, max_rois=4)
    assert len(rois) == 2  # the first two overlap once padded
    assert rois[0].w > rois[1].w  # largest first
    many = [(10 * i, 0, 3, 3, 9) for i in range(10)]
    assert len(blob_rois(many, (120, 160), (640, 480), padding=0.0, max_rois=3)) == 3


@pytest.mark.parametrize("shape", [(1, 2), (1, 3), (1, 4), (2, 2), (3, 3)])
def test_grow_still_matches_opencv_dilation_with_a_still_border(
    shape: tuple[int, int],
) -> None:
    rng = np.random.default_rng(sum(shape))
    still = np.where(rng.random((37, 53)) < 0.9, 255, 0).astype(np.uint8)
    still[0, 5] = still[-1, 7] = still[9, 0] = still[11, -1] = 0  # changed on the border
    kernel = np.ones(shape, np.uint8)
    expected = cv2.dilate(still, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=255)
    out = np.zeros_like(still)
    np.testing.assert_array_equal(grow_still(still, kernel, out), expected)
