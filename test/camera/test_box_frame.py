"""Box geometry and Frame validation."""

from __future__ import annotations

import numpy as np
import pytest

from wildcam.camera import Frame
from wildcam.errors import InputError
from wildcam.types import Box


def test_box_area_and_iou() -> None:
    a, b = Box(0, 0, 10, 10), Box(5, 0, 10, 10)
    assert a.area == 100
    assert a.iou(a) == 1.0
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 5, 5)) == 0.0
    assert Box(0, 0, 0, 0).iou(Box(0, 0, 0, 0)) == 0.0


def test_box_scaled_keeps_edges_on_the_scaled_grid() -> None:
    assert Box(10, 20, 30, 40).scaled(0.5, 0.25) == Box(5, 5, 15, 10)
    assert Box(3, 3, 3, 3).scaled(2, 2) == Box(6, 6, 6, 6)


def test_box_clipped_to_the_frame() -> None:
    assert Box(-5, -5, 20, 10).clipped(100, 50) == Box(0, 0, 15, 5)
    assert Box(90, 40, 20, 20).clipped(100, 50) == Box(90, 40, 10, 10)
    assert Box(200, 0, 10, 10).clipped(100, 50).area == 0
    assert Box(1, 2, 3, 4).clipped(100, 50) == Box(1, 2, 3, 4)


def test_frame_accepts_only_contiguous_bgr_uint8() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    frame = Frame(image, 0.5, 3)
    assert (frame.width, frame.height) == (6, 4)
    with pytest.raises(InputError):
        Frame(np.zeros((4, 6), np.uint8), 0.0, 0)
    with pytest.raises(InputError):
        Frame(np.zeros((4, 6, 3), np.float32), 0.0, 0)
    with pytest.raises(InputError):
        Frame(np.zeros((4, 12, 3), np.uint8)[:, ::2], 0.0, 0)
