"""Motion event segmentation: turn a per-frame motion flag into numbered events.

An event opens after ``start_frames`` consecutive motion frames and closes after
``end_frames`` consecutive frames without motion. Event ids count up from 1 for the life of
the tracker. On the frame an event closes, ``event_id`` still names it (with ``ended`` set),
so a consumer sees the id together with the end. :meth:`EventTracker.hold` (a trigger) counts
the next frames as motion frames and opens an event on the first of them.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["EventState", "EventTracker"]


class EventState(NamedTuple):
    """Event status after one frame."""

    event_id: int | None
    started: bool
    ended: bool


_IDLE = EventState(None, False, False)


class EventTracker:
    """Debounce a motion flag into events (see the module docstring)."""

    __slots__ = (
        "_current",
        "_end_frames",
        "_held",
        "_last_id",
        "_quiet",
        "_run",
        "_start_frames",
        "_state",
    )

    def __init__(self, start_frames: int, end_frames: int) -> None:
        """Track events that open after ``start_frames`` and close after ``end_frames``."""
        self._start_frames = start_frames
        self._end_frames = end_frames
        self._last_id = 0
        self._current: int | None = None
        self._run = 0  # consecutive motion frames while idle
        self._quiet = 0  # consecutive still frames while an event is open
        self._held = 0  # frames still counted as motion after a trigger
        self._state = _IDLE

    @property
    def current(self) -> int | None:
        """Id of the open event, or None."""
        return self._current

    def configure(self, start_frames: int, end_frames: int) -> None:
        """Change the thresholds; the open event (if any) and the id counter are kept."""
        self._start_frames = start_frames
        self._end_frames = end_frames

    def hold(self, frames: int) -> None:
        """Count the next ``frames`` frames as motion frames whatever their flag, the first of
        them opening an event if none is open (a trigger: something is there, moving or not)."""
        self._held = max(self._held, frames)

    def step(self, motion: bool) -> EventState:
        """Advance one frame with its motion flag and return the event state."""
        current = self._current
        if self._held:
            self._held -= 1
            motion = True
            if current is None:
                self._run = self._start_frames - 1
        if current is None:
            if not motion:
                self._run = 0
                return _IDLE
            self._run += 1
            if self._run < self._start_frames:
                return _IDLE
            self._last_id += 1
            self._current = self._last_id
            self._run = 0
            self._quiet = 0
            self._state = EventState(self._last_id, False, False)
            return EventState(self._last_id, True, False)
        if motion:
            self._quiet = 0
            return self._state
        self._quiet += 1
        if self._quiet < self._end_frames:
            return self._state
        self._current = None
        self._quiet = 0
        return EventState(current, False, True)

    def close(self) -> EventState:
        """End the open event now (e.g. at the end of a stream); idle state if none is open."""
        current = self._current
        self._current = None
        self._run = 0
        self._quiet = 0
        self._held = 0
        if current is None:
            return _IDLE
        return EventState(current, False, True)
