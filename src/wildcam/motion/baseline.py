"""Comparison baseline: OpenCV's MOG2 background subtractor behind the same interface.

:class:`Mog2Gate` feeds the quarter-scale grey frame (``reduce_frame(bgr, 4)``) to
``cv2.createBackgroundSubtractorMOG2`` and then applies the same post-processing as
:class:`~wildcam.motion.gate.MotionGate` — erosion, minimum blob area, the two-frame
persistence filter, ROIs, polygon masks and event segmentation — so benchmarks compare the
background models. What MOG2 lacks (illumination and IR handling, texture tolerance, the
vegetation map) is what is being compared.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.errors import InputError
from wildcam.motion.base import MotionResult
from wildcam.motion.config import MotionConfig
from wildcam.motion.events import EventTracker
from wildcam.motion.regions import blob_rois, find_blobs, rasterise_masks
from wildcam.types import Box

__all__ = ["MOG2_FACTOR", "Mog2Gate"]

#: Reduction factor of the frames the baseline expects (quarter scale).
MOG2_FACTOR = 4


class Mog2Gate:
    """MOG2 on the quarter-scale grey frame, with the motion gate's blob and event logic."""

    # Buffers, masks and areas for the current small-frame size, set by _setup.
    _fg: npt.NDArray[np.uint8]
    _still: npt.NDArray[np.uint8]
    _prev_still: npt.NDArray[np.uint8]
    _scratch: npt.NDArray[np.uint8]
    _scratch2: npt.NDArray[np.uint8]
    _any_mask: bool
    _keep: npt.NDArray[np.uint8]
    _inv_pixels: float
    _min_area: int
    _slow_path_at: float
    _kernel: npt.NDArray[np.uint8] | None

    def __init__(
        self,
        config: MotionConfig,
        full_size: tuple[int, int],
        *,
        history: int = 500,
        var_threshold: float = 16.0,
    ) -> None:
        """Create the baseline for frames reduced from ``full_size`` = ``(width, height)``.

        ``history`` and ``var_threshold`` are MOG2's own parameters (OpenCV defaults).
        """
        self._full_size = (int(full_size[0]), int(full_size[1]))
        self._history = history
        self._var_threshold = var_threshold
        self._config = config
        self._events = EventTracker(config.event_start_frames, config.event_end_frames)
        self._shape: tuple[int, int] | None = None
        self._mog = self._new_model()

    def _new_model(self) -> cv2.BackgroundSubtractorMOG2:
        """A fresh single-channel MOG2 model without shadow detection."""
        return cv2.createBackgroundSubtractorMOG2(
            history=self._history, varThreshold=self._var_threshold, detectShadows=False
        )

    def reconfigure(self, config: MotionConfig) -> None:
        """Apply ``config``; the MOG2 model is kept."""
        self._config = config
        self._events.configure(config.event_start_frames, config.event_end_frames)
        if self._shape is not None:
            self._setup(self._shape)

    def update(
        self,
        small_gray: npt.NDArray[np.uint8],
        stamp: float,
        *,
        chroma: float | None = None,
    ) -> MotionResult:
        """Process one quarter-scale grey frame (``chroma`` is accepted and ignored)."""
        if small_gray.shape != self._shape:
            if small_gray.ndim != 2 or small_gray.dtype != np.uint8:
                raise InputError(
                    f"expected a 2-D uint8 grey frame, got {small_gray.dtype} "
                    f"of shape {small_gray.shape}"
                )
            if self._shape is not None:
                self._mog = self._new_model()
            self._setup((int(small_gray.shape[0]), int(small_gray.shape[1])))
        fg = self._mog.apply(small_gray, fgmask=self._fg)
        if self._any_mask:
            cv2.bitwise_and(fg, self._keep, dst=fg)
        changed = cv2.countNonZero(fg)
        cfg = self._config
        rois: tuple[Box, ...] = ()
        still = cv2.bitwise_not(fg, dst=self._still)
        if changed >= self._slow_path_at:
            prev = self._prev_still if cfg.require_persistence else None
            blobs = find_blobs(
                still, self._kernel, self._min_area, self._scratch, self._scratch2, prev
            )
            if blobs:
                rois = blob_rois(blobs, fg.shape, self._full_size, cfg.roi_padding, cfg.max_rois)
        self._still, self._prev_still = self._prev_still, still
        motion = bool(rois)
        state = self._events.step(motion)
        return MotionResult(
            stamp,
            motion,
            rois,
            changed * self._inv_pixels,
            False,
            False,
            False,
            state.event_id,
            state.started,
            state.ended,
        )

    def _setup(self, shape: tuple[int, int]) -> None:
        """Buffers, masks and areas for small frames of ``shape``."""
        cfg = self._config
        self._shape = shape
        self._fg = np.empty(shape, np.uint8)
        self._still = np.empty(shape, np.uint8)
        self._prev_still = np.full(shape, 255, np.uint8)
        self._scratch = np.empty(shape, np.uint8)
        self._scratch2 = np.empty(shape, np.uint8)
        masked = rasterise_masks(cfg.masks, self._full_size, shape)
        self._any_mask = bool(masked.any())
        self._keep = cv2.bitwise_not(masked)
        pixels = shape[0] * shape[1] - cv2.countNonZero(masked)
        self._inv_pixels = 1.0 / pixels if pixels else 0.0
        # Areas are configured for the gate's small frame; rescale to this frame's size.
        gate_width = self._full_size[0] / cfg.factor_for(self._full_size[0])
        area_scale = (shape[1] / gate_width) ** 2
        self._min_area = max(1, round(cfg.min_blob_area * area_scale))
        self._slow_path_at = max(self._min_area, cfg.min_changed_fraction * pixels, 1)
        w, h = cfg.despeckle_width, cfg.despeckle_height
        self._kernel = np.ones((h, w), np.uint8) if w * h > 1 else None
