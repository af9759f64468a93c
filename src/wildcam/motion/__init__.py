"""The motion gate: decide cheaply, on a small grey frame, whether anything moved and where.

Pure numpy/OpenCV, no ROS. A camera frame is reduced with :func:`reduce_frame` (strided
green channel, about 160 px wide), fed to :class:`MotionGate.update`, and the
:class:`MotionResult` says whether there was motion, where (full-frame ROIs), whether the
illumination jumped or the camera switched to IR, and which motion event is open.
:class:`Mog2Gate` is OpenCV's MOG2 behind the same :class:`Gate` interface, as the baseline
for benchmarks. Every threshold is a :class:`MotionConfig` field, declared with its range, unit
and description by :func:`wildcam.params.param`.
"""

from __future__ import annotations

from wildcam.motion.base import Gate, MotionResult
from wildcam.motion.baseline import MOG2_FACTOR, Mog2Gate
from wildcam.motion.config import (
    AUTO_SMALL_WIDTH,
    MotionConfig,
    Polygon,
    format_polygons,
    parse_polygons,
)
from wildcam.motion.events import EventState, EventTracker
from wildcam.motion.gate import MotionGate
from wildcam.motion.reduce import chroma, reduce_frame, small_size
from wildcam.motion.regions import rasterise_masks

__all__ = [
    "AUTO_SMALL_WIDTH",
    "MOG2_FACTOR",
    "EventState",
    "EventTracker",
    "Gate",
    "Mog2Gate",
    "MotionConfig",
    "MotionGate",
    "MotionResult",
    "Polygon",
    "chroma",
    "format_polygons",
    "parse_polygons",
    "rasterise_masks",
    "reduce_frame",
    "small_size",
]
