"""reduce_frame, small_size and chroma."""

from __future__ import annotations

import numpy as np
import pytest

from wildcam.errors import InputError
from wildcam.motion import chroma, reduce_frame, small_size


def test_reduce_takes_strided_green_channel() -> None:
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    small = reduce_frame(bgr, 4)
    assert small.shape == (120, 160) and small.dtype == np.uint8
    assert small.flags.c_contiguous
    np.testing.assert_array_equal(small, bgr[::4, ::4, 1])


def test_reduce_accepts_grey_input_odd_sizes_and_an_out_buffer() -> None:
    grey = np.arange(721 * 1281, dtype=np.uint32).reshape(721, 1281).astype(np.uint8)
    assert small_size((1281, 721), 8) == (161, 91)
    out = np.empty((91, 161), np.uint8)
    result = reduce_frame(grey, 8, out)
    assert result is out
    np.testing.assert_array_equal(out, grey[::8, ::8])


def test_reduce_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        reduce_frame(np.zeros((4, 4, 3, 1), np.uint8), 2)
    with pytest.raises(InputError):
        reduce_frame(np.zeros((4, 4), np.uint8), 0)


def test_chroma_is_zero_for_grey_and_large_for_colour() -> None:
    grey = np.full((480, 640, 3), 90, np.uint8)
    colour = grey.copy()
    colour[..., 2] = 150  # reddish
    assert chroma(grey) == 0.0
    assert chroma(grey[..., 0]) == 0.0
    assert chroma(colour) == pytest.approx(60.0)
