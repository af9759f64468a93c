"""The motion gate: a cheap running-average background model on the small grey frame.

Per frame, in the common case of a still scene, the gate does a handful of OpenCV calls on
the ~160x120 frame and nothing else:

1. global mean (``cv2.mean``) -> illumination bookkeeping;
2. background scaled by the global gain ``mean(frame) / mean(background)`` and converted to
   uint8 in one ``convertScaleAbs`` — this cancels illumination drift faster than the
   background can follow it;
3. ``absdiff`` and ``compare`` against a per-pixel threshold map, ``countNonZero``;
4. ``accumulateWeighted`` of the frame into the background.

The threshold map folds in two things computed off the hot path: polygon masks (255, which
no difference exceeds) and vegetation suppression. For the latter, every other frame the
pixels exceeding the *base* threshold feed a per-pixel activity average (the fraction of
recent frames a pixel changed in); every eighth frame the map is rebuilt so that pixels
changing persistently (leaves, water, grass) get a higher threshold. An animal passing once
barely moves the average; a branch swaying for a minute does.

Only when enough pixels change does the gate do more: re-estimate the gain robustly (median
of block ratios, so a large animal cannot pass for an illumination change), erode the mask
(rain, snow, sensor speckle), label connected components, and keep blobs above a minimum
area. The background then learns only from the still part of the frame (the moving part
slowly, so a parked object is eventually absorbed).

A sudden change of the global mean is checked block-wise: if most of the 8x6 blocks changed
together it is an illumination change (an IR switch if it is large or the frame turned from
colour to grey); motion is suppressed and the background re-learnt from the frames for
``recalibration_frames`` frames.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.camera.base import Box
from wildcam.errors import InputError
from wildcam.motion.base import MotionResult
from wildcam.motion.config import MotionConfig
from wildcam.motion.events import EventTracker
from wildcam.motion.regions import blob_rois, find_blobs, rasterise_masks

__all__ = ["MotionGate"]

_ACTIVITY_EVERY = 2  # frames between activity updates (rate scaled to match)
_THRESHOLD_EVERY = 8  # frames between threshold-map rebuilds from the activity
_JUMP_WINDOW = 4  # frames over which a global mean jump is measured
_BLOCKS = (8, 6)  # grid for the illumination-change and robust-gain tests
_GAIN_LIMITS = (0.25, 4.0)
_GAIN_EPSILON = 0.004  # below this the gain is not applied (under half a grey level at 128)
_FOREGROUND_RATE = 0.1  # background learns moving pixels at this fraction of the rate
_ROBUST_GAIN_FRACTION = 0.1  # changed share from which the gain is re-estimated robustly
_CHROMA_HYSTERESIS = 2.0  # colour again only above this multiple of chroma_grey_level
_SLOW_RATIO = 8  # the vegetation map's activity average is this much slower than the fast one
_SPREAD = np.ones((3, 3), np.uint8)  # vegetation map dilation: stronger wind reaches further


class MotionGate:
    """Decide per small grey frame whether anything moved, and where (full-frame ROIs)."""

    def __init__(self, config: MotionConfig, full_size: tuple[int, int]) -> None:
        """Create a gate for frames reduced from ``full_size`` = ``(width, height)`` pixels."""
        if full_size[0] < 1 or full_size[1] < 1:
            raise InputError(f"full_size must be positive, got {full_size}")
        self._full_size = (int(full_size[0]), int(full_size[1]))
        self._config = config
        self._events = EventTracker(config.event_start_frames, config.event_end_frames)
        self._shape: tuple[int, int] | None = None
        self._means: deque[float] = deque(maxlen=_JUMP_WINDOW)
        self._grey: bool | None = None
        self._frame = 0
        self._apply_config()

    @property
    def config(self) -> MotionConfig:
        """The configuration in force."""
        return self._config

    @property
    def full_size(self) -> tuple[int, int]:
        """``(width, height)`` of the full frames the ROIs refer to."""
        return self._full_size

    def reconfigure(self, config: MotionConfig) -> None:
        """Apply ``config`` live; the background and activity model are kept.

        A new ``downscale`` changes the small-frame size, which resets the model on the first
        frame of the new size (as any size change does).
        """
        self._config = config
        self._events.configure(config.event_start_frames, config.event_end_frames)
        self._apply_config()
        if self._shape is not None:
            self._build_static(self._shape)
            self._rebuild_thresholds()

    def reset(self) -> None:
        """Forget the background; the next frame re-initialises it (events are kept)."""
        self._shape = None

    def update(
        self,
        small_gray: npt.NDArray[np.uint8],
        stamp: float,
        *,
        chroma: float | None = None,
    ) -> MotionResult:
        """Process one reduced grey frame taken at ``stamp`` (seconds).

        ``chroma`` (optional, from :func:`~wildcam.motion.reduce.chroma`) is the colour
        saturation of the full frame; when given, a colour-to-grey switch is reported as an
        IR switch whatever the brightness does.
        """
        if small_gray.shape != self._shape:
            self._allocate(small_gray)
        cfg = self._config
        self._frame += 1
        mean = cv2.mean(small_gray)[0]
        means = self._means
        jump = abs(mean - means[0]) if means else 0.0
        means.append(mean)

        switched = False
        if chroma is not None:
            switched = self._chroma_switched(chroma)

        illumination = ir_switch = False
        if self._recal_left == 0 and (
            switched
            or (jump >= cfg.illumination_threshold and self._global_change(small_gray, jump))
        ):
            illumination = True
            ir_switch = switched or jump >= cfg.ir_mean_jump
            self._recal_left = cfg.recalibration_frames
            means.clear()
            means.append(mean)
        elif self._recal_left and (switched or jump >= cfg.illumination_threshold):
            self._recal_left = cfg.recalibration_frames  # still settling: keep re-learning

        if self._recal_left:
            self._recal_left -= 1
            cv2.accumulateWeighted(small_gray, self._bg, 1.0)
            np.copyto(self._bg8, small_gray)
            self._bg_mean = mean
            self._prev.fill(0)
            state = self._events.step(False)
            return MotionResult(stamp, False, (), 0.0, illumination, ir_switch, True,
                                state.event_id, state.started, state.ended)

        bg_mean = self._bg_mean
        gain = mean / bg_mean if bg_mean > 1.0 else 1.0
        gain = min(max(gain, _GAIN_LIMITS[0]), _GAIN_LIMITS[1])
        diff, mask = self._diff, self._mask
        ref = self._bg8
        if abs(gain - 1.0) > _GAIN_EPSILON:
            ref = cv2.convertScaleAbs(ref, dst=self._ref, alpha=gain)
        cv2.absdiff(small_gray, ref, dst=diff)
        cv2.compare(diff, self._thr, cv2.CMP_GT, dst=mask)
        changed = cv2.countNonZero(mask)

        # Upkeep alternates so that no frame pays for all of it: the background learns on
        # even frames (at the two-frame rate), the activity map samples on odd ones.
        even = not self._frame & 1
        if not even and self._activity_on:
            # Flicker = the set of pixels changed in two samples running (rain and snow drop
            # out) differs from the last sample's set.
            base, held, scratch = self._base_spare, self._held_spare, self._scratch
            cv2.threshold(diff, self._base_thr, 255, cv2.THRESH_BINARY, dst=base)
            cv2.bitwise_and(base, self._base_last, dst=held)
            cv2.bitwise_xor(held, self._held_last, dst=scratch)
            cv2.accumulateWeighted(scratch, self._act, self._act_rate)
            self._base_spare, self._base_last = self._base_last, base
            self._held_spare, self._held_last = self._held_last, held
            if self._frame % _THRESHOLD_EVERY == 1:
                self._rebuild_thresholds()

        if changed < self._slow_path_at:
            if even:
                rate = self._bg_rate
                cv2.accumulateWeighted(small_gray, self._bg, rate)
                cv2.convertScaleAbs(self._bg, dst=self._bg8)
                self._bg_mean += rate * (mean - bg_mean)
            self._mask, self._prev = self._prev, mask
            state = self._events.step(False)
            return MotionResult(stamp, False, (), changed * self._inv_pixels, False, False,
                                False, state.event_id, state.started, state.ended)
        return self._slow_path(small_gray, stamp, gain, changed, mean)

    # -- rare path ---------------------------------------------------------------------------

    def _slow_path(
        self, small: npt.NDArray[np.uint8], stamp: float, gain: float, changed: int,
        mean: float,
    ) -> MotionResult:
        """Enough pixels changed to hold a blob: refine the gain if needed, look for blobs."""
        cfg = self._config
        mask = self._mask
        if changed >= self._robust_at:
            # A big change: make sure it is not the gain estimate that a large animal skewed.
            robust = self._robust_gain(small)
            if abs(robust - gain) > 0.02 * gain:
                cv2.convertScaleAbs(self._bg, dst=self._ref, alpha=robust)
                cv2.absdiff(small, self._ref, dst=self._diff)
                cv2.compare(self._diff, self._thr, cv2.CMP_GT, dst=mask)
                changed = cv2.countNonZero(mask)
        # Rain and snow rarely change the same place in two frames running; animals do.
        support = self._prev if cfg.require_persistence else None
        blobs = find_blobs(mask, self._kernel, cfg.min_blob_area, self._scratch, support,
                           self._persist)
        rois: tuple[Box, ...] = ()
        if blobs:
            rois = blob_rois(blobs, small.shape, self._full_size, cfg.roi_padding,
                             cfg.max_rois)
            # Learn the still part at the full rate, the moving part slowly: a pausing animal
            # stays foreground for a while, a parked object still fades in.
            rate = cfg.learning_rate
            cv2.bitwise_not(mask, dst=self._scratch)
            cv2.accumulateWeighted(small, self._bg, rate, mask=self._scratch)
            cv2.accumulateWeighted(small, self._bg, rate * _FOREGROUND_RATE, mask=mask)
            self._bg_mean = cv2.mean(self._bg)[0]
            cv2.convertScaleAbs(self._bg, dst=self._bg8)
        elif not self._frame & 1:  # as on the fast path: learn on even frames
            rate = self._bg_rate
            cv2.accumulateWeighted(small, self._bg, rate)
            cv2.convertScaleAbs(self._bg, dst=self._bg8)
            self._bg_mean += rate * (mean - self._bg_mean)
        self._mask, self._prev = self._prev, mask
        motion = bool(blobs)
        state = self._events.step(motion)
        return MotionResult(stamp, motion, rois, changed * self._inv_pixels, False, False,
                            False, state.event_id, state.started, state.ended)

    def _robust_gain(self, small: npt.NDArray[np.uint8]) -> float:
        """Median over 8x6 blocks of frame/background brightness (immune to one animal)."""
        now = cv2.resize(small, _BLOCKS, interpolation=cv2.INTER_AREA).astype(np.float32)
        ref = cv2.resize(self._bg, _BLOCKS, interpolation=cv2.INTER_AREA)
        ratios = sorted((now[ref > 4.0] / ref[ref > 4.0]).tolist())
        if not ratios:
            return 1.0
        gain = ratios[len(ratios) // 2]
        return min(max(gain, _GAIN_LIMITS[0]), _GAIN_LIMITS[1])

    def _global_change(self, small: npt.NDArray[np.uint8], jump: float) -> bool:
        """True if most image blocks moved by a good part of the mean ``jump`` together."""
        now = cv2.resize(small, _BLOCKS, interpolation=cv2.INTER_AREA).astype(np.float32)
        ref = cv2.resize(self._bg, _BLOCKS, interpolation=cv2.INTER_AREA)
        moved = np.abs(now - ref) >= 0.25 * jump
        return float(moved.mean()) >= self._config.illumination_block_fraction

    def _chroma_switched(self, chroma: float) -> bool:
        """Track colour/grey with hysteresis; True when the state flips."""
        level = self._config.chroma_grey_level
        grey = self._grey
        if chroma < level:
            now = True
        elif chroma > level * _CHROMA_HYSTERESIS:
            now = False
        else:
            return False
        self._grey = now
        return grey is not None and grey != now

    # -- set-up ------------------------------------------------------------------------------

    def _apply_config(self) -> None:
        """Derive the per-config constants used on the hot path."""
        cfg = self._config
        self._base_thr = float(cfg.pixel_threshold)
        self._activity_on = cfg.vegetation_suppression and cfg.activity_boost > 0
        self._act_rate = min(1.0, cfg.activity_rate * _ACTIVITY_EVERY)
        self._bg_rate = 1.0 - (1.0 - cfg.learning_rate) ** 2  # two frames' worth, every other
        self._memory_decay = float(np.exp(-_THRESHOLD_EVERY / cfg.activity_memory_frames))
        self._slow_step = float(1 - np.exp(-_THRESHOLD_EVERY * cfg.activity_rate / _SLOW_RATIO))
        k = cfg.despeckle_kernel
        self._kernel = np.ones((k, k), np.uint8) if k > 1 else None

    def _allocate(self, small: npt.NDArray[np.uint8]) -> None:
        """(Re)start the model for frames of ``small``'s shape."""
        if small.ndim != 2 or small.dtype != np.uint8:
            raise InputError(
                f"expected a 2-D uint8 grey frame, got {small.dtype} of shape {small.shape}"
            )
        shape = (int(small.shape[0]), int(small.shape[1]))
        self._shape = shape
        self._bg = small.astype(np.float32)
        self._bg8 = small.copy()  # the background rounded, refreshed when it learns
        self._bg_mean = cv2.mean(small)[0]
        self._ref = np.empty(shape, np.uint8)
        self._diff = np.empty(shape, np.uint8)
        self._mask = np.empty(shape, np.uint8)
        self._prev = np.zeros(shape, np.uint8)  # last frame's changed pixels
        self._persist = np.empty(shape, np.uint8)
        self._scratch = np.empty(shape, np.uint8)
        self._base_spare = np.zeros(shape, np.uint8)
        self._base_last = np.zeros(shape, np.uint8)
        self._held_spare = np.zeros(shape, np.uint8)
        self._held_last = np.zeros(shape, np.uint8)
        self._act = np.zeros(shape, np.float32)
        self._slow = np.zeros(shape, np.float32)
        self._memory = np.zeros(shape, np.float32)
        self._thr = np.empty(shape, np.uint8)
        self._thr_f = np.empty(shape, np.float32)
        self._means.clear()
        self._recal_left = 1  # the first frame only initialises the background
        self._build_static(shape)
        self._rebuild_thresholds()

    def _build_static(self, shape: tuple[int, int]) -> None:
        """Rasterise the masks and derive the pixel counts for ``shape``."""
        cfg = self._config
        self._masked = rasterise_masks(cfg.masks, self._full_size, shape)
        pixels = shape[0] * shape[1] - cv2.countNonZero(self._masked)
        self._inv_pixels = 1.0 / pixels if pixels else 0.0
        self._slow_path_at = max(cfg.min_blob_area, cfg.min_changed_fraction * pixels, 1)
        self._robust_at = max(self._slow_path_at, _ROBUST_GAIN_FRACTION * pixels)

    def _rebuild_thresholds(self) -> None:
        """Threshold map = base + boost for persistently active pixels; 255 where masked."""
        cfg = self._config
        thr = self._thr
        if self._activity_on:
            # The slow average only rises under sustained flicker (vegetation, not one animal
            # passing); its peak, held for activity_memory_frames, is the vegetation map.
            act, slow, mem, tmp = self._act, self._slow, self._memory, self._thr_f
            np.subtract(act, slow, out=tmp)
            np.multiply(tmp, self._slow_step, out=tmp)
            np.add(slow, tmp, out=slow)
            np.multiply(mem, self._memory_decay, out=mem)
            np.maximum(mem, slow, out=mem)
            np.maximum(mem, act, out=tmp)
            cv2.dilate(tmp, _SPREAD, dst=tmp)
            level = cfg.activity_level * 255.0
            np.subtract(tmp, level, out=tmp)
            np.multiply(tmp, cfg.activity_boost / level, out=tmp)
            np.clip(tmp, 0.0, cfg.activity_boost, out=tmp)
            np.add(tmp, cfg.pixel_threshold + 0.5, out=tmp)
            np.minimum(tmp, 254.0, out=tmp)
            np.copyto(thr, tmp, casting="unsafe")
        else:
            thr.fill(cfg.pixel_threshold)
        np.maximum(thr, self._masked, out=thr)
