"""A live V4L2 camera read through OpenCV."""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from wildcam.camera.base import MAX_CAPTURE_AGE_S, Frame, SourceBase, check_resolution
from wildcam.errors import ConfigError, SourceError

__all__ = ["V4L2Source"]


class V4L2Source(SourceBase):
    """A V4L2 device (``/dev/videoN`` or its number) opened with ``cv2.CAP_V4L2``.

    The driver may pick the nearest mode it supports; frames are resized to the requested size
    so callers always get what they asked for (a size of 0 keeps the driver's mode). Stamps are
    wall-clock seconds at read time; ``captured_at`` is the driver's buffer timestamp
    (``CAP_PROP_POS_MSEC``: V4L2 stamps buffers on the monotonic clock when the sensor delivered
    them), or the moment the grab returned if the driver gives none that is plausible.
    """

    name = "device"

    def __init__(self, device: str | int, width: int, height: int, fps: float) -> None:
        super().__init__()
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        target: str | int = device
        if isinstance(device, str) and device.isdigit():
            target = int(device)
        if isinstance(target, str) and not Path(target).exists():
            raise SourceError(f"camera device {target} does not exist")
        self._device = target
        self._cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"cannot open camera device {target!r} with V4L2")
        self._cap.set(cv2.CAP_PROP_FPS, float(fps))
        if width > 0 and height > 0:  # otherwise keep the driver's current mode
            self.set_resolution(width, height)
        self._index = 0

    def set_resolution(self, width: int, height: int) -> None:
        """Request the mode from the driver now; it shows from the next read on."""
        self._size = check_resolution(width, height)
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(width))
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height))

    def read(self) -> Frame | None:
        """Grab one frame; a failed grab raises SourceError (callers may retry)."""
        self._check_open()
        try:
            ok = self._cap.grab()
            grabbed = time.monotonic()
            buffer_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
            image = self._cap.retrieve()[1] if ok else None
        except cv2.error as err:
            raise SourceError(f"camera device {self._device!r}: {err}") from err
        if not ok or image is None:
            raise SourceError(f"camera device {self._device!r}: read failed")
        captured = buffer_ms / 1000.0
        if not 0.0 <= grabbed - captured <= MAX_CAPTURE_AGE_S:
            captured = grabbed
        frame = Frame(self._fit(image), time.time(), self._index, captured)
        self._index += 1
        return frame

    def close(self) -> None:
        """Release the device."""
        self._cap.release()
        super().close()
