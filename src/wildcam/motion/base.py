"""What every motion gate returns, and the interface the gates share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from wildcam.motion.config import MotionConfig
from wildcam.types import Box

__all__ = ["Gate", "MotionResult"]


@dataclass(frozen=True, slots=True)
class MotionResult:
    """The gate's verdict on one small frame.

    ``rois`` are full-frame pixel boxes (scaled up from the small frame, padded, clipped),
    largest first. While ``recalibrating`` (the first frame, and the frames after an
    illumination change or IR switch) ``motion`` is always False. ``event_id`` names the open
    event, including on the frame that ends it (``event_ended``); None between events.
    """

    stamp: float
    motion: bool
    rois: tuple[Box, ...]
    changed_fraction: float
    illumination_change: bool
    ir_switch: bool
    recalibrating: bool
    event_id: int | None
    event_started: bool
    event_ended: bool


class Gate(Protocol):
    """A motion gate: one small grey frame in, one :class:`MotionResult` out."""

    def update(
        self,
        small_gray: npt.NDArray[np.uint8],
        stamp: float,
        *,
        chroma: float | None = None,
    ) -> MotionResult:
        """Process one reduced grey frame taken at ``stamp`` (seconds)."""
        ...

    def reconfigure(self, config: MotionConfig) -> None:
        """Apply a new configuration, keeping the learnt background where possible."""
        ...
