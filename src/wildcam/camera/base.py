"""The camera-source interface: frames and the source Protocol (boxes and the image alias are
in :mod:`wildcam.types`).

Every backend (V4L2 device, video file, image folder, synthetic scene, fake) yields
:class:`Frame` records through the :class:`CameraSource` Protocol; :class:`SourceBase` gives
them the shared context-manager, resolution and closed-state plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.errors import ConfigError, InputError, SourceError
from wildcam.types import Image

__all__ = ["CameraSource", "Frame", "SourceBase", "check_resolution"]

MAX_SIDE = 8192
MAX_CAPTURE_AGE_S = 10.0
"""A capture time further back than this is not believed (a driver with another clock)."""


@dataclass(frozen=True)
class Frame:
    """One image from a source.

    ``stamp`` is in seconds of the source's own clock (file position, index / fps, wall time for
    a live device); ``index`` counts frames handed out by the source, starting at 0.
    ``captured_at`` is when the sensor captured the frame on the monotonic clock
    (``time.monotonic()``), where the source knows it (a live device); ``None`` otherwise.
    ``captured_epoch_ns`` is the capture time in ns since the Unix epoch where the source
    recorded it (a burst held by the power controller, captured while the SoC was off).
    """

    image: Image
    stamp: float
    index: int
    captured_at: float | None = None
    captured_epoch_ns: int | None = None

    def age_s(self, now_monotonic: float) -> float:
        """Seconds between the capture and ``now_monotonic`` (0 when unknown or implausible)."""
        if self.captured_at is None:
            return 0.0
        age = now_monotonic - self.captured_at
        return age if 0.0 <= age <= MAX_CAPTURE_AGE_S else 0.0

    def __post_init__(self) -> None:
        img = self.image
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"frame must be HxWx3 uint8, got {img.shape} {img.dtype}")
        if not img.flags.c_contiguous:
            raise InputError("frame image must be C-contiguous")

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.image.shape[0])


@runtime_checkable
class CameraSource(Protocol):
    """What every camera backend provides.

    ``read`` returns ``None`` at the end of the stream and raises
    :class:`~wildcam.errors.SourceError` on a (possibly transient) read failure; the caller may
    retry. ``set_resolution`` takes effect on the next ``read``.
    """

    name: str

    def read(self) -> Frame | None:
        """Return the next frame, or ``None`` at the end of the stream."""
        ...

    def set_resolution(self, width: int, height: int) -> None:
        """Ask for ``width`` x ``height`` frames from the next read on."""
        ...

    def close(self) -> None:
        """Release the underlying device or file; further reads raise SourceError."""
        ...

    def __enter__(self) -> Self:
        """Return the source itself."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the source."""
        ...


class SourceBase:
    """Shared plumbing: context manager, requested size, closed state and resizing."""

    name: str = "source"

    def __init__(self) -> None:
        self._size: tuple[int, int] | None = None
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def resolution(self) -> tuple[int, int] | None:
        """The requested (width, height), or ``None`` for the source's native size."""
        return self._size

    def set_resolution(self, width: int, height: int) -> None:
        """Ask for ``width`` x ``height`` frames from the next read on."""
        self._size = check_resolution(width, height)

    def close(self) -> None:
        """Mark the source closed; subclasses release their handles first."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise SourceError(f"{self.name} source is closed")

    def _fit(self, image: npt.NDArray[np.uint8]) -> Image:
        """Return ``image`` as contiguous 3-channel BGR at the requested size."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if self._size is not None and (image.shape[1], image.shape[0]) != self._size:
            shrink = self._size[0] < image.shape[1]
            interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            image = cv2.resize(image, self._size, interpolation=interp)
        return np.ascontiguousarray(image)


def check_resolution(width: int, height: int) -> tuple[int, int]:
    """Validate a requested frame size; raise ConfigError when it is unusable."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ConfigError(f"resolution {width}x{height} out of range 1..{MAX_SIDE}")
    return int(width), int(height)
