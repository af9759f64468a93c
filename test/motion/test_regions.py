"""Polygon rasterisation and blob-to-ROI geometry."""

from __future__ import annotations

import numpy as np

from wildcam.camera.base import Box
from wildcam.motion import rasterise_masks
from wildcam.motion.regions import blob_rois, find_blobs


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
    blobs = find_blobs(mask, np.ones((3, 3), np.uint8), min_area=6)
    assert len(blobs) == 1
    x, y, w, h, area = blobs[0]
    assert (x, y, w, h) == (60, 40, 20, 10)
    assert area == 18 * 8  # counted after erosion
    assert len(find_blobs(mask, None, min_area=1)) == 4


def test_blob_rois_scale_pad_clip_and_merge() -> None:
    rois = blob_rois([(0, 0, 10, 10, 100)], (120, 160), (640, 480), padding=0.1, max_rois=4)
    assert rois == (Box(0, 0, 44, 44),)  # 40x40 full px, +4 padding, clipped at 0
    touching = [(10, 10, 10, 10, 100), (21, 10, 10, 10, 100), (100, 100, 5, 5, 25)]
    rois = blob_rois(touching, (120, 160), (640, 480), padding=0.1, max_rois=4)
    assert len(rois) == 2  # the first two overlap once padded
    assert rois[0].w > rois[1].w  # largest first
    many = [(10 * i, 0, 3, 3, 9) for i in range(10)]
    assert len(blob_rois(many, (120, 160), (640, 480), padding=0.0, max_rois=3)) == 3
