"""Flow control of held bursts: one held frame in flight, removed only once the graph decided it.

The camera publishes a held frame and waits. The motion stage acknowledges every small frame it
processed (``motion/processed``), naming the motion event the frame is in, or 0 when it is in
none: such a frame is decided there (no motion), as the cascade will not analyse it. A frame in
an event is decided once the cascade acknowledges it too (``detections/processed``: analysed, or
skipped as part of a settled event). Then the camera removes the frame's file and publishes the
next, so the drain goes as fast as the slower stage. A frame not acknowledged within
``timeout_s`` (a stage restarted, a best-effort sample lost), or refused (``done`` false: the
stage could not take it), is sent again; after ``max_sends`` sends it is set aside, kept for a
person to look at, so one bad frame cannot hold the device awake. Acknowledgements of other
frames (live frames, repeats) are ignored. :class:`HeldPlayer` drives a
:class:`~wildcam.camera.held.HeldBurstSource` by these steps, one turn per camera tick or
acknowledgement. No ROS here; times are the caller's clock in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import Enum

from wildcam.camera.base import Frame
from wildcam.camera.held import HeldBurstSource

__all__ = ["HeldPacer", "HeldPlayer", "HeldTurn", "Step"]


class Step(Enum):
    """What the camera does with its held frames now."""

    SEND = "send"  # nothing in flight: read the next held frame and publish it
    WAIT = "wait"  # the frame in flight is not decided yet
    DECIDED = "decided"  # the frame in flight was decided: remove it, then send the next
    RESEND = "resend"  # not acknowledged in time, or refused: publish the same frame again
    SET_ASIDE = "set_aside"  # sent max_sends times without a decision: keep it aside, go on


@dataclass
class _InFlight:
    stamp_ns: int
    sent_s: float
    sends: int
    motion_event: int | None = None  # None: the motion stage has not acknowledged it yet
    cascade_done: bool = False
    refused: bool = False


class HeldPacer:
    """The held frame in flight and its acknowledgements."""

    def __init__(self, timeout_s: float = 10.0, max_sends: int = 3) -> None:
        if not (timeout_s > 0 and math.isfinite(timeout_s)) or max_sends < 1:
            raise ValueError("timeout_s must be > 0 and finite, max_sends >= 1")
        self.timeout_s, self.max_sends = timeout_s, max_sends
        self._flight: _InFlight | None = None

    @property
    def in_flight(self) -> int | None:
        """The stamp (ns) of the held frame waiting for its decision, if any."""
        return self._flight.stamp_ns if self._flight else None

    def sent(self, stamp_ns: int, now_s: float) -> None:
        """The held frame stamped ``stamp_ns`` was published (again, when it is in flight)."""
        flight = self._flight
        if flight is not None and flight.stamp_ns == stamp_ns:
            flight.sent_s, flight.sends = now_s, flight.sends + 1
            flight.motion_event, flight.cascade_done, flight.refused = None, False, False
        else:
            self._flight = _InFlight(stamp_ns, now_s, 1)

    def motion(self, stamp_ns: int, event_id: int, done: bool = True) -> None:
        """The motion stage processed (or, ``done`` false, could not take) a frame."""
        flight = self._accepted(stamp_ns, done)
        if flight is not None:
            flight.motion_event = event_id

    def cascade(self, stamp_ns: int, done: bool = True) -> None:
        """The cascade decided (or, ``done`` false, could not decide) a frame."""
        flight = self._accepted(stamp_ns, done)
        if flight is not None:
            flight.cascade_done = True

    def _accepted(self, stamp_ns: int, done: bool) -> _InFlight | None:
        """The frame in flight when the acknowledgement is its and not a refusal (noted)."""
        flight = self._flight
        if flight is None or flight.stamp_ns != stamp_ns:
            return None
        if not done:
            flight.refused = True
            return None
        return flight

    def step(self, now_s: float) -> Step:
        """What to do now; DECIDED and SET_ASIDE also clear the frame in flight."""
        flight = self._flight
        if flight is None:
            return Step.SEND
        if flight.motion_event is not None and (flight.motion_event == 0 or flight.cascade_done):
            self._flight = None
            return Step.DECIDED
        if not flight.refused and now_s - flight.sent_s < self.timeout_s:
            return Step.WAIT
        if flight.sends >= self.max_sends:
            self._flight = None
            return Step.SET_ASIDE
        return Step.RESEND


@dataclass
class HeldTurn:
    """What one turn of the held frames asks of the camera."""

    busy: bool  # the held frames take this tick: no live frame (they would overtake them)
    frame: Frame | None = None  # publish it now, stamped with its capture time
    status: str = ""  # the diagnostics' ``held`` value ('' = unchanged)
    counts: list[str] = field(default_factory=list)  # counters to add one to
    problems: list[str] = field(default_factory=list)  # errors to report


class HeldPlayer:
    """Drains ``source`` one frame at a time, paced by ``pacer``: publish one, remove it once
    the graph decided it, then the next. ``drained`` once nothing is held (the store is read
    again by the next player, at the next activation)."""

    def __init__(self, source: HeldBurstSource, pacer: HeldPacer) -> None:
        self.source, self.pacer = source, pacer
        self.drained = False

    def turn(
        self,
        now_s: float,
        listening: Callable[[], bool],
        measure: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> HeldTurn:
        """One turn at ``now_s``: ``listening()`` says whether the motion gate and the cascade
        take frames and acknowledge them; ``measure`` meters the decoding. The frame it
        returns counts as sent."""
        step = self.pacer.step(now_s)
        if step is Step.WAIT:
            return HeldTurn(busy=True)
        turn = HeldTurn(busy=True)
        if step is Step.DECIDED:
            self.source.commit()
            turn.counts.append("held_frames")
        elif step is Step.SET_ASIDE:
            aside = self.source.set_aside()
            turn.counts.append("held_set_aside")
            turn.problems.append(f"no decision after {self.pacer.max_sends} sends: {aside}")
        elif step is Step.RESEND:
            turn.counts.append("held_resends")
        with measure():
            frame = self.source.read()
        turn.problems += self.source.problems
        if frame is None or frame.captured_epoch_ns is None:
            self.drained, turn.busy, turn.status = True, False, "drained"
        elif not listening():
            turn.status = "waiting for the motion gate and the cascade"
        else:
            self.pacer.sent(frame.captured_epoch_ns, now_s)
            turn.frame, turn.status = frame, "publishing"
        return turn
