"""A scripted in-memory source for tests: hands out given images, can fail on cue."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

from wildcam.camera.base import Frame, SourceBase
from wildcam.errors import ConfigError, InputError, SourceError

__all__ = ["FakeSource"]


class FakeSource(SourceBase):
    """Yield ``frames`` in order with stamps ``index / fps``.

    ``fail_at`` lists read numbers (0-based calls to ``read``) that raise SourceError instead,
    to exercise a caller's retry path; the frame is then handed out on the next call.
    """

    name = "fake"

    def __init__(
        self,
        frames: Sequence[npt.NDArray[np.uint8]],
        fps: float,
        *,
        loop: bool = False,
        fail_at: Collection[int] = (),
    ) -> None:
        super().__init__()
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        for i, img in enumerate(frames):
            if img.dtype != np.uint8 or img.ndim not in (2, 3):
                raise InputError(f"frame {i}: expected a uint8 image, got {img.shape} {img.dtype}")
        self._frames = list(frames)
        self._fps = float(fps)
        self._loop = loop
        self._fail_at = frozenset(fail_at)
        self._calls = 0
        self._index = 0

    def read(self) -> Frame | None:
        """Return the next scripted frame, ``None`` when they are used up."""
        self._check_open()
        call = self._calls
        self._calls += 1
        if call in self._fail_at:
            raise SourceError(f"fake read failure on call {call}")
        if not self._frames or (self._index >= len(self._frames) and not self._loop):
            return None
        # Copy so a consumer that draws on its frame cannot alter the script.
        image = self._fit(self._frames[self._index % len(self._frames)]).copy()
        frame = Frame(image, self._index / self._fps, self._index)
        self._index += 1
        return frame
