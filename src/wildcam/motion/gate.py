"""The motion gate: a cheap running-average background model on the small grey frame.

Most frames show nothing new, so the common case is three OpenCV calls on the ~160x120
frame plus bookkeeping:

1. ``cv2.mean`` — the global brightness, for the illumination checks and the gain;
2. ``cv2.inRange(frame, lo, hi)`` — a pixel is still while it lies within its own bounds
   ``background -/+ threshold``. Illumination drift faster than the background follows is
   cancelled by dividing the frame by the global gain ``mean(frame) / mean(background)``
   first (one ``convertScaleAbs``, skipped while the gain is within 2 % of 1);
3. ``cv2.countNonZero`` — how many pixels changed.

Upkeep is batched: every fourth frame the background learns (``accumulateWeighted`` at the
four-frame rate), the vegetation activity is sampled and the bounds are refreshed; every
sixteenth frame the per-pixel threshold map is rebuilt. Few calls and few bytes touched per
frame matter as much as the arithmetic: on a camera the gate's maps are usually out of cache
by the time the next frame arrives.

The threshold map is ``pixel_threshold`` plus

* a texture tolerance: a fraction of the background's local 3x3 range, so that a one-pixel
  shift of textured background (leaves in a breeze, camera shake) stays below it;
* a vegetation boost: a pixel's *activity* is the share of samples in which "changed at the
  base threshold in two samples running" (which rain and snow rarely are) flipped; swaying
  leaves flip often, one animal walking past flips a pixel a few times. A slower average of
  it feeds a peak-hold map that fades over ``activity_memory_frames`` — where vegetation
  swayed once, its threshold stays raised for the next gust — and the boost follows the
  larger of the fast activity and that map;
* 255 inside polygon masks (bounds 0..255: never changed).

Only when enough pixels changed does the gate do more: re-estimate the gain robustly (median
of block ratios) if the change is large, erode the changed pixels horizontally (specks and
near-vertical rain streaks), keep blobs that also changed in the previous frame (rain
rarely hits the same place twice) and turn them into full-frame ROIs. While much has changed
the background learns the still part at the full rate and the changed part slowly, so a
pausing animal stays foreground for a while and a parked object is eventually absorbed.

A sudden change of the global mean is checked block-wise: if most of the 8x6 blocks changed
together it is an illumination change (an IR switch if the frame turned from colour to grey
or back, or if the jump is large and the frame is not known to be in colour); motion is
suppressed and the background re-learnt from the frames for ``recalibration_frames`` frames.

A trigger (:meth:`MotionGate.trigger`, a PIR edge) makes the first frame taken at or after it
open an event held for ``trigger_frames`` frames, regions or not (``EventTracker.hold``).
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.errors import InputError
from wildcam.motion.base import MotionResult
from wildcam.motion.config import MotionConfig
from wildcam.motion.events import EventTracker
from wildcam.motion.regions import blob_rois, find_blobs, rasterise_masks
from wildcam.types import Box

__all__ = ["MotionGate"]

Gray = npt.NDArray[np.uint8]

_UPKEEP_EVERY = 4  # frames between background learning / activity samples (rates scaled)
_THRESHOLD_EVERY = 16  # frames between threshold-map rebuilds (a multiple of the above)
_JUMP_WINDOW = 4  # frames over which a global mean jump is measured
_BLOCKS = (8, 6)  # grid for the illumination-change and robust-gain tests
_GAIN_LIMITS = (0.25, 4.0)
_GAIN_EPSILON = 0.02  # below this the gain is not applied (2.5 grey levels at 128)
_FOREGROUND_RATE = 0.1  # background learns moving pixels at this fraction of the rate
_ROBUST_GAIN_FRACTION = 0.1  # changed share from which the gain is re-estimated robustly
_CHROMA_HYSTERESIS = 2.0  # colour again only above this multiple of chroma_grey_level
_SLOW_RATIO = 8  # the vegetation map's activity average is this much slower than the fast one
_SPREAD = np.ones((3, 3), np.uint8)  # vegetation map dilation: stronger wind reaches further


class MotionGate:
    """Decide per small grey frame whether anything moved, and where (full-frame ROIs)."""

    # The model and its buffers, (re)allocated for each small-frame size by _allocate.
    _bg: npt.NDArray[np.float32]
    _bg8: Gray
    _bg_mean: float
    _lo: Gray
    _hi: Gray
    _thr: Gray
    _norm: Gray
    _still: Gray
    _prev_still: Gray
    _mask: Gray
    _scratch: Gray
    _scratch2: Gray
    _base_spare: Gray
    _base_last: Gray
    _held_spare: Gray
    _held_last: Gray
    _act: npt.NDArray[np.float32]
    _recal_left: int

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
        self._trigger_at: float | None = None
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
        """Apply ``config`` live; the background and the vegetation maps are kept.

        A new ``downscale`` changes the small-frame size, which restarts the model on the first
        frame of the new size (as any change of frame size does).
        """
        self._config = config
        self._events.configure(config.event_start_frames, config.event_end_frames)
        self._apply_config()
        if self._shape is not None:
            self._build_static(self._shape)
            self._rebuild_thresholds()
            self._refresh_bounds()

    def trigger(self, stamp: float) -> None:
        """Something set off a trigger at ``stamp`` (seconds, the frames' clock): the first frame
        taken at or after it opens an event held for ``trigger_frames`` frames (none while 0)."""
        if self._config.trigger_frames:
            self._trigger_at = stamp if self._trigger_at is None else min(self._trigger_at, stamp)

    def reset(self) -> None:
        """Forget the background; the next frame re-initialises it (events are kept)."""
        self._shape = None

    def update(
        self, small_gray: Gray, stamp: float, *, chroma: float | None = None
    ) -> MotionResult:
        """Process one reduced grey frame taken at ``stamp`` (seconds).

        ``chroma`` (optional, from :func:`~wildcam.motion.reduce.chroma`) is the colour
        saturation of the full frame; when given, a colour/grey flip is reported as an IR
        switch whatever the brightness does, and a large brightness jump between colour
        frames only as an illumination change. A change counts as motion from its second
        frame on (``require_persistence``).
        """
        if small_gray.shape != self._shape:
            self._allocate(small_gray)
        cfg = self._config
        if self._trigger_at is not None and stamp >= self._trigger_at:
            self._trigger_at = None
            self._events.hold(cfg.trigger_frames)
        self._frame += 1
        mean = cv2.mean(small_gray)[0]
        means = self._means
        jump = abs(mean - means[0]) if means else 0.0
        means.append(mean)

        switched = self._chroma_switched(chroma) if chroma is not None else False
        illumination = ir_switch = False
        if self._recal_left == 0 and (
            switched
            or (jump >= cfg.illumination_threshold and self._global_change(small_gray, jump))
        ):
            illumination = True
            # Known colour on both sides of the jump: an exposure change, not the IR mode.
            ir_switch = switched or (jump >= cfg.ir_mean_jump and self._grey is not False)
            self._recal_left = cfg.recalibration_frames
            means.clear()
            means.append(mean)
        elif self._recal_left and (switched or jump >= cfg.illumination_threshold):
            self._recal_left = cfg.recalibration_frames  # still settling: keep re-learning
        if self._recal_left:
            self._recalibrate(small_gray, mean)
            state = self._events.step(False)
            return MotionResult(
                stamp,
                False,
                (),
                0.0,
                illumination,
                ir_switch,
                True,
                state.event_id,
                state.started,
                state.ended,
            )

        bg_mean = self._bg_mean
        gain = mean / bg_mean if bg_mean > 1.0 else 1.0
        gain = min(max(gain, _GAIN_LIMITS[0]), _GAIN_LIMITS[1])
        src = small_gray
        if abs(gain - 1.0) > _GAIN_EPSILON:
            src = cv2.convertScaleAbs(small_gray, dst=self._norm, alpha=1.0 / gain)
        still = cv2.inRange(src, self._lo, self._hi, dst=self._still)
        changed = self._pixels - cv2.countNonZero(still)

        rois: tuple[Box, ...] = ()
        if changed >= self._slow_path_at:
            src, changed, rois = self._find_motion(small_gray, src, gain, changed)
        still = self._still
        self._still, self._prev_still = self._prev_still, still
        if self._frame % _UPKEEP_EVERY == 0:
            self._upkeep(small_gray, src, mean, still, changed)
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

    # -- rare path ---------------------------------------------------------------------------

    def _find_motion(
        self, small: Gray, src: Gray, gain: float, changed: int
    ) -> tuple[Gray, int, tuple[Box, ...]]:
        """Enough pixels changed to hold a blob: refine the gain if needed, look for blobs.

        Returns the (possibly re-normalised) frame, the changed-pixel count and the ROIs.
        """
        cfg = self._config
        if changed >= self._robust_at:
            # A big change: make sure it is not the gain estimate that a large animal skewed.
            robust = self._robust_gain(small)
            if abs(robust - gain) > 0.02 * gain:
                src = cv2.convertScaleAbs(small, dst=self._norm, alpha=1.0 / robust)
                cv2.inRange(src, self._lo, self._hi, dst=self._still)
                changed = self._pixels - cv2.countNonZero(self._still)
        # Rain and snow rarely change the same place in two frames running; animals do.
        prev = self._prev_still if cfg.require_persistence else None
        blobs = find_blobs(
            self._still, self._kernel, cfg.min_blob_area, self._scratch, self._scratch2, prev
        )
        if not blobs:
            return src, changed, ()
        return (
            src,
            changed,
            blob_rois(blobs, small.shape, self._full_size, cfg.roi_padding, cfg.max_rois),
        )

    def _recalibrate(self, small: Gray, mean: float) -> None:
        """Take the frame as the background (after an illumination change or at start)."""
        self._recal_left -= 1
        cv2.accumulateWeighted(small, self._bg, 1.0)
        np.copyto(self._bg8, small)
        self._bg_mean = mean
        self._prev_still.fill(255)
        self._refresh_bounds()

    def _upkeep(self, small: Gray, src: Gray, mean: float, still: Gray, changed: int) -> None:
        """Every few frames: learn the background, sample the activity, refresh the bounds.

        ``src`` is the gain-normalised frame, ``still`` its still mask and ``changed`` the
        count of pixels outside it.
        """
        rate = self._bg_rate
        if changed < self._slow_path_at:
            cv2.accumulateWeighted(small, self._bg, rate)
            self._bg_mean += rate * (mean - self._bg_mean)
        else:
            # Learn the still part at the full rate, the changed part slowly: a pausing animal
            # (or one about to be confirmed) stays foreground, a parked object still fades in.
            cv2.accumulateWeighted(small, self._bg, rate, mask=still)
            moving = cv2.bitwise_not(still, dst=self._mask)
            cv2.accumulateWeighted(small, self._bg, rate * _FOREGROUND_RATE, mask=moving)
            self._bg_mean = cv2.mean(self._bg)[0]
        cv2.convertScaleAbs(self._bg, dst=self._bg8)
        if self._activity_on:
            # At the base threshold (not the raised one, which would hide the flicker it is
            # meant to measure): still in this or the last sample = not changed in both (rain
            # and snow drop out); a pixel flickers when that set flips between samples.
            diff = cv2.absdiff(src, self._bg8, dst=self._scratch)
            base = cv2.threshold(
                diff, self._base_thr, 255, cv2.THRESH_BINARY_INV, dst=self._base_spare
            )[1]
            held = cv2.bitwise_or(base, self._base_last, dst=self._held_spare)
            flips = cv2.bitwise_xor(held, self._held_last, dst=self._scratch)
            cv2.accumulateWeighted(flips, self._act, self._act_rate)
            self._base_spare, self._base_last = self._base_last, base
            self._held_spare, self._held_last = self._held_last, held
        if self._frame % _THRESHOLD_EVERY == 0 and (self._activity_on or self._texture_on):
            self._rebuild_thresholds()
        self._refresh_bounds()

    def _refresh_bounds(self) -> None:
        """``lo, hi = background -/+ threshold`` (saturating; masked pixels get 0..255)."""
        cv2.subtract(self._bg8, self._thr, dst=self._lo)
        cv2.add(self._bg8, self._thr, dst=self._hi)

    def _robust_gain(self, small: Gray) -> float:
        """Median over 8x6 blocks of frame/background brightness (immune to one animal)."""
        now = cv2.resize(small, _BLOCKS, interpolation=cv2.INTER_AREA).astype(np.float32)
        ref = cv2.resize(self._bg, _BLOCKS, interpolation=cv2.INTER_AREA)
        ratios = sorted((now[ref > 4.0] / ref[ref > 4.0]).tolist())
        if not ratios:
            return 1.0
        gain = ratios[len(ratios) // 2]
        return min(max(gain, _GAIN_LIMITS[0]), _GAIN_LIMITS[1])

    def _global_change(self, small: Gray, jump: float) -> bool:
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
        self._act_rate = 1.0 - (1.0 - cfg.activity_rate) ** _UPKEEP_EVERY
        self._bg_rate = 1.0 - (1.0 - cfg.learning_rate) ** _UPKEEP_EVERY
        self._memory_decay = float(np.exp(-_THRESHOLD_EVERY / cfg.activity_memory_frames))
        self._slow_step = float(1 - np.exp(-_THRESHOLD_EVERY * cfg.activity_rate / _SLOW_RATIO))
        w, h = cfg.despeckle_width, cfg.despeckle_height
        self._kernel = np.ones((h, w), np.uint8) if w * h > 1 else None
        self._texture_on = cfg.texture_tolerance > 0 and cfg.texture_cap > 0

    def _allocate(self, small: Gray) -> None:
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

        def u8(fill: int = 0) -> Gray:
            return np.full(shape, fill, np.uint8)

        self._lo, self._hi, self._thr, self._norm = u8(), u8(), u8(), u8()
        self._still, self._prev_still = u8(255), u8(255)  # 255 = unchanged
        self._mask, self._scratch, self._scratch2 = u8(), u8(), u8()
        self._base_spare, self._base_last = u8(255), u8(255)
        self._held_spare, self._held_last = u8(255), u8(255)
        self._act = np.zeros(shape, np.float32)
        self._slow = np.zeros(shape, np.float32)
        self._memory = np.zeros(shape, np.float32)
        self._thr_f = np.zeros(shape, np.float32)
        self._means.clear()
        self._recal_left = 1  # the first frame only initialises the background
        self._build_static(shape)
        self._rebuild_thresholds()
        self._refresh_bounds()

    def _build_static(self, shape: tuple[int, int]) -> None:
        """Rasterise the masks and derive the pixel counts for ``shape``."""
        cfg = self._config
        self._masked = rasterise_masks(cfg.masks, self._full_size, shape)
        self._pixels = shape[0] * shape[1]
        unmasked = self._pixels - cv2.countNonZero(self._masked)
        self._inv_pixels = 1.0 / unmasked if unmasked else 0.0
        self._slow_path_at = max(cfg.min_blob_area, cfg.min_changed_fraction * unmasked, 1)
        self._robust_at = max(self._slow_path_at, _ROBUST_GAIN_FRACTION * unmasked)

    def _rebuild_thresholds(self) -> None:
        """Threshold map: base + vegetation boost + texture tolerance; 255 where masked."""
        cfg = self._config
        thr = self._thr
        if self._activity_on:
            # The slow average only rises under sustained flicker (vegetation, not one animal
            # passing); its peak, held for activity_memory_frames, is the vegetation map.
            act, slow, mem, tmp = self._act, self._slow, self._memory, self._thr_f
            cv2.accumulateWeighted(act, slow, self._slow_step)
            cv2.addWeighted(mem, self._memory_decay, mem, 0.0, 0.0, dst=mem)
            cv2.max(mem, slow, dst=mem)
            cv2.max(mem, act, dst=tmp)
            cv2.dilate(tmp, _SPREAD, dst=tmp)
            # boost = clip((activity - level) * boost / level, 0, boost), linear in between
            level = cfg.activity_level * 255.0
            gain = cfg.activity_boost / level
            cv2.addWeighted(tmp, gain, tmp, 0.0, cfg.pixel_threshold + 0.5 - level * gain, dst=tmp)
            cv2.max(tmp, cfg.pixel_threshold + 0.5, dst=tmp)
            cv2.min(tmp, cfg.pixel_threshold + 0.5 + cfg.activity_boost, dst=tmp)
            cv2.convertScaleAbs(tmp, dst=thr)
        else:
            thr.fill(cfg.pixel_threshold)
        if self._texture_on:
            # A one-pixel shift of the background changes a pixel by up to its 3x3 range.
            extra = cv2.morphologyEx(self._bg8, cv2.MORPH_GRADIENT, _SPREAD, dst=self._scratch)
            cv2.convertScaleAbs(extra, dst=extra, alpha=cfg.texture_tolerance)
            cv2.min(extra, cfg.texture_cap, dst=extra)
            cv2.add(thr, extra, dst=thr)
        cv2.min(thr, 254, dst=thr)
        cv2.max(thr, self._masked, dst=thr)
