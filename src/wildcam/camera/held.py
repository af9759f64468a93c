"""Held bursts as a camera source, and a fake power controller that writes them.

:class:`HeldBurstSource` reads the store of :mod:`wildcam.camera.held_store` behind the
:class:`~wildcam.camera.base.CameraSource` Protocol: frames in burst order, each with its
capture time (``Frame.captured_epoch_ns``), and ``None`` once nothing is held. The caller
publishes a frame and, once the graph decided it (:mod:`wildcam.camera.held_pace`), calls
:meth:`HeldBurstSource.commit`, which removes it from the store; a frame read but not committed
(a crash, a lost acknowledgement) is read again by the next read or the next source.
:class:`FakeController` is the controller's side for tests: it renders a burst from a synthetic
scene and writes it as the contract says.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from wildcam.camera.base import Frame, SourceBase
from wildcam.camera.held_store import HeldBurst, HeldFrame, remove_frame, scan, write_burst
from wildcam.errors import InputError

__all__ = ["FakeController", "HeldBurstSource"]


class HeldBurstSource(SourceBase):
    """The held frames of ``held_dir``, oldest burst first; ``problems`` lists bursts that
    could not be read (left in place)."""

    name = "held"

    def __init__(self, held_dir: str | Path) -> None:
        super().__init__()
        self.path = Path(held_dir)
        self.problems: list[str] = []
        self.skipped: list[Path] = []  # frames that did not decode or were not decided, kept
        self._queue: list[tuple[HeldBurst, HeldFrame]] = []
        self._current: tuple[HeldBurst, HeldFrame] | None = None
        self._index = 0

    def read(self) -> Frame | None:
        """The next held frame, or ``None`` when none is held now (more may come later)."""
        self._check_open()
        if self._current is not None:  # read again until committed
            self._queue.insert(0, self._current)
            self._current = None
        while True:
            if not self._queue:
                bursts, self.problems = scan(self.path)
                self._queue = [(b, f) for b in bursts for f in b.frames]
                if not self._queue:
                    return None
            burst, held = self._queue.pop(0)
            if not held.path.exists():
                continue
            image = cv2.imread(str(held.path), cv2.IMREAD_COLOR)
            if image is None:  # kept aside for a person to look at; the burst goes on
                self._aside(burst, held, "undecodable")
                continue
            self._current = (burst, held)
            frame = Frame(
                self._fit(image),
                held.captured_ns * 1e-9,
                self._index,
                captured_epoch_ns=held.captured_ns,
            )
            self._index += 1
            return frame

    def commit(self) -> None:
        """The frame last read was decided: remove it from the store."""
        if self._current is not None:
            remove_frame(*self._current)
            self._current = None

    def set_aside(self) -> Path | None:
        """The frame last read could not be decided: keep it aside (``.undecided-<name>``) for
        a person to look at and go on with the burst; returns where it went."""
        if self._current is None:
            return None
        aside = self._aside(*self._current, "undecided")
        self._current = None
        return aside

    def _aside(self, burst: HeldBurst, held: HeldFrame, label: str) -> Path:
        aside = self.path / f".{label}-{held.path.name}"
        held.path.rename(aside)
        self.skipped.append(aside)
        remove_frame(burst, held)
        return aside


class FakeController:
    """The power controller for tests: writes bursts into ``held_dir`` as the hardware would."""

    def __init__(self, held_dir: str | Path, suffix: str = ".jpg") -> None:
        self.held_dir = Path(held_dir)
        self.suffix = suffix

    def write(self, trigger_ns: int, frames: list[tuple[int, np.ndarray]]) -> Path:
        """One burst: (captured_ns, BGR image) pairs, encoded and written under the contract."""
        encoded = []
        for captured_ns, image in frames:
            ok, data = cv2.imencode(self.suffix, image)
            if not ok:
                raise InputError(f"cannot encode a {image.shape} frame as {self.suffix}")
            encoded.append((captured_ns, data.tobytes(), self.suffix))
        return write_burst(self.held_dir, trigger_ns, encoded)
