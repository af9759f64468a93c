"""Day or night: a camera trap's infrared (night) frame is one colour all over.

An infrared frame's colour channels see the same light, so every pixel has the same colour: grey,
or one tint where the camera leaves the sensor's colour filter in place (a purple or pink cast),
with at most a small coloured overlay (a time stamp, a logo). A daylight scene's colours vary from
place to place, even a dull one. So what tells them apart is how much the colour varies across the
frame, not how far it is from grey: a tinted infrared frame is night, and an overcast road is day
unless the whole view really is grey.
"""

from __future__ import annotations

import numpy as np

from wildcam.types import Image

__all__ = ["GREY_SPREAD", "OVERLAY_SHARE", "colour_spread", "is_night"]

GREY_SPREAD = 4.0
"""Largest colour spread (:func:`colour_spread`, 0-255 levels) of an infrared frame.

Chosen from this project's real frames (``../shared/data``, measured 2026-12-08 over every
camera-trap still and the first 240 frames of every clip): every infrared frame is at most 3
(grey ones 0; two tinted night clips with a red time stamp 2.25-3), every colour frame at least
5.1 (a dark forest clip; day stills 8.5 and more). Both bounds are clips' frames, none of the
held-back split. The one frame source in between is a road seen from above (grey asphalt,
2-6.5), which is grey. ASSUMPTION for other cameras: re-measure with :func:`colour_spread` on a
deployment's own night and day frames when it has them."""
OVERLAY_SHARE = 0.25
"""Share of the frame an overlay in its own colours (a time stamp, a logo) may cover and the frame
still count as one colour: the spread is the 75th percentile, so a quarter of the pixels may
differ. Camera traps' data bars are a strip of a few percent of the frame."""


def colour_spread(image: Image) -> float:
    """How much the colour varies across ``image`` (BGR): the 75th percentile (1 -
    :data:`OVERLAY_SHARE`) of each pixel's distance from the frame's median colour, in mean
    absolute channel differences (B - G, G - R; 0-255). Every 8th pixel, each way, is looked at."""
    small = image[::8, ::8].astype(np.int16)
    colour = np.stack((small[..., 0] - small[..., 1], small[..., 1] - small[..., 2]), axis=-1)
    colour = colour.reshape(-1, 2)
    distance = np.abs(colour - np.median(colour, axis=0)).sum(axis=1) / 2
    return float(np.percentile(distance, 100 * (1 - OVERLAY_SHARE)))


def is_night(image: Image) -> bool:
    """Whether ``image`` is an infrared (night) frame: one colour all over (:func:`colour_spread`
    below :data:`GREY_SPREAD`). A one-channel image is grey, so it is."""
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    return colour_spread(image) < GREY_SPREAD
