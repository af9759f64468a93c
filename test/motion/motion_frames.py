"""Small synthetic frames for the motion-gate tests: no camera, no scene renderer.

Frames are made directly at the gate's small size (160x120, standing for a 640x480 camera)
from a smooth random texture plus per-frame sensor noise, so each test controls exactly what
changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np
import numpy.typing as npt

from wildcam.motion import Gate, MotionResult

FULL = (640, 480)
SMALL = (160, 120)  # (width, height)
Frame = npt.NDArray[np.uint8]


class SmallScene:
    """A static textured background, helpers to paint changes on noisy copies and to feed them."""

    def __init__(self, seed: int = 0, noise: float = 2.5) -> None:
        self.rng = np.random.default_rng(seed)
        texture = self.rng.integers(0, 256, (SMALL[1], SMALL[0])).astype(np.float32)
        texture = cv2.GaussianBlur(texture, (0, 0), 3)
        texture = (texture - texture.mean()) / (texture.std() + 1e-6)
        self.background = np.clip(110 + 30 * texture, 20, 235).astype(np.float32)
        self.noise = noise
        self.clock = 0.0

    def frame(
        self,
        gain: float = 1.0,
        offset: float = 0.0,
        paint: Callable[[npt.NDArray[np.float32]], None] | None = None,
    ) -> Frame:
        """One noisy frame of the background, optionally scaled and painted on."""
        img = self.background * gain + offset
        if paint is not None:
            img = img.copy()
            paint(img)
        img = img + self.rng.normal(0.0, self.noise, img.shape).astype(np.float32)
        return np.clip(img, 0, 255).astype(np.uint8)

    def with_square(
        self, x: int, y: int, size: int = 12, value: float = 230.0, **kwargs: float
    ) -> Frame:
        """A frame with a bright ``size`` square at small-frame ``(x, y)``."""

        def paint(img: npt.NDArray[np.float32]) -> None:
            img[y : y + size, x : x + size] = value

        return self.frame(paint=paint, **kwargs)

    def feed(self, gate: Gate, frames: Iterable[Frame]) -> list[MotionResult]:
        """Feed ``frames`` to ``gate`` at 10 fps (continuing its clock) and return the results."""
        results = []
        for frame in frames:
            results.append(gate.update(frame, self.clock))
            self.clock += 0.1
        return results

    def warm(self, gate: Gate, count: int = 30) -> list[MotionResult]:
        """Let ``gate`` learn the still background for ``count`` frames."""
        return self.feed(gate, (self.frame() for _ in range(count)))
