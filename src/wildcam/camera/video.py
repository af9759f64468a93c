"""A recorded video file as a camera source."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.camera.base import Frame, SourceBase
from wildcam.errors import SourceError

__all__ = ["VideoFileSource"]

FALLBACK_FPS = 30.0


class VideoFileSource(SourceBase):
    """Frames of a video file; stamps are ``index / fps`` with the file's frame rate.

    The first frame is decoded at construction, so a missing, empty or undecodable file fails
    there with SourceError. With ``loop`` the file restarts at its end and stamps keep rising.
    """

    name = "file"

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"cannot open video file {self.path}")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.fps = fps if math.isfinite(fps) and fps > 0 else FALLBACK_FPS
        self._loop = loop
        self._index = 0
        self._pending: npt.NDArray[np.uint8] | None = self._grab()
        if self._pending is None:
            self._cap.release()
            raise SourceError(f"video file {self.path} has no decodable frame")

    def _grab(self) -> npt.NDArray[np.uint8] | None:
        try:
            ok, image = self._cap.read()
        except cv2.error as err:
            raise SourceError(f"video file {self.path}: {err}") from err
        return image if ok and image is not None else None

    def read(self) -> Frame | None:
        """Return the next frame, ``None`` at the end of a non-looping file."""
        self._check_open()
        image, self._pending = self._pending, None
        if image is None:
            image = self._grab()
        if image is None and self._loop and self._index > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            image = self._grab()
        if image is None:
            return None
        frame = Frame(self._fit(image), self._index / self.fps, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        """Release the file."""
        self._cap.release()
        super().close()
