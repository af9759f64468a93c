"""Day or night: a camera trap's infrared (night) frame is grey, its colour channels agree."""

from __future__ import annotations

import numpy as np

from wildcam.types import Image

__all__ = ["GREY_SPREAD", "is_night"]

GREY_SPREAD = 6.0
"""Mean absolute difference between neighbouring colour channels (0-255) below which a frame
counts as grey (infrared night). It splits the reported figures by day and night and picks a
student's night band (``c_high_night``, :mod:`wildcam.cascade.calibrate`)."""


def is_night(image: Image) -> bool:
    """Whether ``image`` is a grey (infrared) frame (every 8th pixel, each way, is looked at)."""
    small = image[::8, ::8].astype(np.int16)
    spread = np.abs(small[..., 0] - small[..., 1]) + np.abs(small[..., 1] - small[..., 2])
    return float(spread.mean()) / 2 < GREY_SPREAD
