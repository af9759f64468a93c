"""Simulated time for time-accelerated runs: ``speed`` simulated seconds per wall second from a
start epoch (the ``sim_clock`` node publishes it on ``/clock``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from wildcam.params import check_ranges, param

__all__ = ["SimClockConfig", "SimTime"]


@dataclass(frozen=True)
class SimClockConfig:
    """The ``sim_clock`` node's parameters."""

    speed: float = param(
        1.0, "Simulated seconds per wall second (live; 0 pauses).", min=0.0, max=1e6
    )
    start_time: float = param(
        0.0,
        "Simulated epoch seconds at start (0 = the wall time now).",
        min=0.0,
        max=4e9,
        read_only=True,
    )
    rate_hz: float = param(20.0, "/clock messages per wall second (live).", min=1.0, max=1000.0)

    def __post_init__(self) -> None:
        check_ranges(self)


class SimTime:
    """Integrates speed x wall time, so a speed change continues from the current time."""

    def __init__(self, start_s: float, wall_s: float | None = None) -> None:
        self.sim_s = start_s
        self._wall = time.monotonic() if wall_s is None else wall_s

    def advance(self, speed: float, wall_s: float | None = None) -> float:
        """Simulated seconds now, the wall time since the last call counted at ``speed``."""
        wall = time.monotonic() if wall_s is None else wall_s
        self.sim_s += max(0.0, wall - self._wall) * speed
        self._wall = wall
        return self.sim_s
