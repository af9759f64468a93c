"""A folder of still images played as a camera source."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.camera.base import Frame, SourceBase
from wildcam.errors import ConfigError, SourceError

__all__ = ["IMAGE_SUFFIXES", "ImageFolderSource"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})


class ImageFolderSource(SourceBase):
    """The images of a folder in name order at ``fps``; stamps are ``index / fps``.

    An image that cannot be decoded is skipped and its path appended (once) to ``skipped``;
    the stream goes on with the next file.
    """

    name = "folder"

    def __init__(self, path: str | Path, fps: float, loop: bool = False) -> None:
        super().__init__()
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} does not exist")
        self.files = sorted(
            p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not self.files:
            raise SourceError(f"image folder {self.path} holds no image files")
        self.skipped: list[Path] = []
        self.fps = float(fps)
        self._loop = loop
        self._pos = 0
        self._index = 0

    def read(self) -> Frame | None:
        """Return the next decodable image, ``None`` when the folder is exhausted."""
        self._check_open()
        tried = 0
        # Bounded by one full pass so a loop over only broken files still ends.
        while tried < len(self.files):
            if self._pos >= len(self.files):
                if not self._loop:
                    return None
                self._pos = 0
            path = self.files[self._pos]
            self._pos += 1
            tried += 1
            image = self._decode(path)
            if image is None:
                if path not in self.skipped:
                    self.skipped.append(path)
                continue
            frame = Frame(self._fit(image), self._index / self.fps, self._index)
            self._index += 1
            return frame
        return None

    @staticmethod
    def _decode(path: Path) -> npt.NDArray[np.uint8] | None:
        try:
            data = np.fromfile(path, dtype=np.uint8)
        except OSError:
            return None
        if data.size == 0:
            return None
        try:
            return cv2.imdecode(data, cv2.IMREAD_COLOR)
        except cv2.error:
            return None
