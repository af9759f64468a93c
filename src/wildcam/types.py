"""The shared vocabulary of the pure-logic packages: boxes, images and the constants they share.

Motion, cascade, power, report and the training code depend on this module, not on the camera
backends or the bag tools. It imports nothing heavy at run time (numpy only when ``Image`` is
first looked up), so the command line and the bringup supervisor may use its constants too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

__all__ = ["ANIMAL", "DAY_S", "NOT_ANIMALS", "PRESET_NAMES", "SOURCE_KINDS", "Box", "Image"]

ANIMAL = "animal"
"""The cascade's class of an animal detection (MegaDetector's first category)."""
NOT_ANIMALS = ("person", "vehicle")
"""The classes of the people and vehicles the people-and-vehicles check finds beside a frame's
animals (MegaDetector's other two categories); every other class is an animal's."""

DAY_S = 86400.0
"""Seconds in a day."""

PRESET_NAMES = ("default", "empty", "nuisance", "day")
"""The synthetic scene presets (:mod:`wildcam.camera.presets` builds them)."""

SOURCE_KINDS = ("synthetic", "file", "folder", "device")
"""The camera source kinds (:func:`wildcam.camera.registry.make_source` opens them)."""

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Image = npt.NDArray[np.uint8]
    """An HxWx3 BGR uint8 image (the only image layout sources hand out)."""


def __getattr__(name: str) -> Any:
    if name == "Image":  # numpy is imported when the alias is first used at run time
        import numpy as np
        import numpy.typing as npt

        globals()["Image"] = image = npt.NDArray[np.uint8]
        return image
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Box(NamedTuple):
    """An axis-aligned box in full-frame pixels: top-left ``(x, y)``, size ``w`` x ``h``."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        """Area in pixels (0 for an empty box)."""
        return max(self.w, 0) * max(self.h, 0)

    def intersection(self, other: Box) -> int:
        """The area, in pixels, this box shares with ``other``."""
        ix = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        iy = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(ix, 0) * max(iy, 0)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0.0 when both are empty)."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def holds_centre_of(self, other: Box) -> bool:
        """Whether ``other``'s centre lies inside this box."""
        cx, cy = other.x + other.w / 2, other.y + other.h / 2
        return self.x <= cx < self.x + self.w and self.y <= cy < self.y + self.h

    def scaled(self, sx: float, sy: float) -> Box:
        """The box in a frame scaled by ``sx`` horizontally and ``sy`` vertically."""
        x0, y0 = round(self.x * sx), round(self.y * sy)
        x1, y1 = round((self.x + self.w) * sx), round((self.y + self.h) * sy)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a ``width`` x ``height`` frame (may be empty)."""
        x0, y0 = min(max(self.x, 0), width), min(max(self.y, 0), height)
        x1 = min(max(self.x + self.w, 0), width)
        y1 = min(max(self.y + self.h, 0), height)
        return Box(x0, y0, x1 - x0, y1 - y0)
