"""What every wake source is: the :class:`WakeSource` Protocol and the :class:`WakeEvent` it
reports, with times on a caller-given clock (the node clock, simulated or not)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Clock", "WakeEvent", "WakeSource"]

Clock = Callable[[], float]
"""Seconds since the epoch on the clock events are stamped with (e.g. the ROS node clock)."""


@dataclass(frozen=True)
class WakeEvent:
    """Something that wakes the trap: a PIR edge or an RTC alarm that went off."""

    t_s: float  # when it happened, on the source's clock
    source: str  # "pir" or "rtc"
    active: bool = True  # False: the PIR output went inactive (end of its pulse)


class WakeSource(Protocol):
    """A backend that wakes the trap.

    ``arm(wake_at_s)`` makes it ready: an RTC alarm for ``wake_at_s`` (its clock's seconds), a
    PIR's line requested with edge detection (``wake_at_s`` is ignored). ``disarm()`` undoes it.
    ``poll(timeout_s)`` returns the events that happened since the last poll, waiting up to
    ``timeout_s`` for one where the backend can wait (a GPIO line); ``close()`` frees it.
    """

    name: str

    def arm(self, wake_at_s: float | None = None) -> None: ...

    def disarm(self) -> None: ...

    def poll(self, timeout_s: float = 0.0) -> list[WakeEvent]: ...

    def close(self) -> None: ...
