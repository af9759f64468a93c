"""Pair full frames with the motion events they belong to (both keyed by header stamp).

Full frames reach the cascade only around motion, and in either order with their event: the
camera driver releases its buffered frames (stamped before the event began) after the event
start arrives, while during an event a frame is published as soon as it is captured, before the
motion gate has looked at it. So:

* a frame whose stamp names a known event is paired with that event;
* a frame stamped shortly before the open event's start (``pre_event_s``) is one of the frames
  the driver kept from before the start: it is paired with the open event and its first regions;
* any other frame waits (at most ``max_frames`` of them) for its event. Events arrive in stamp
  order, so a waiting frame older than the newest event will never get one and is dropped.

Nothing here knows ROS; frames are opaque (the node keeps the messages, converting only what is
analysed).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from wildcam.types import Box

__all__ = ["FramePairing", "MotionInfo", "Paired"]

T = TypeVar("T")


@dataclass(frozen=True)
class MotionInfo:
    """What the cascade needs of one motion-event message."""

    stamp_ns: int
    event_id: int
    rois: tuple[Box, ...]
    started: bool = False
    ended: bool = False


@dataclass(frozen=True)
class Paired(Generic[T]):
    """A frame ready for analysis, with its event; ``closes``: the event ends with this frame."""

    frame: T
    stamp_ns: int
    event: MotionInfo
    closes: bool = False


@dataclass
class _Open:
    event_id: int
    start_ns: int
    rois: tuple[Box, ...]


class FramePairing(Generic[T]):
    """The waiting frames, the recent events and the open event."""

    def __init__(
        self, max_frames: int = 30, pre_event_s: float = 1.5, max_events: int = 512
    ) -> None:
        self.max_frames, self.max_events = max_frames, max_events
        self.pre_event_ns = round(pre_event_s * 1e9)
        self._frames: OrderedDict[int, T] = OrderedDict()
        self._events: OrderedDict[int, MotionInfo] = OrderedDict()
        self._open: _Open | None = None
        self._newest_event_ns = -1
        self.dropped = 0

    def frame(self, stamp_ns: int, frame: T) -> list[Paired[T]]:
        """A full frame arrived; return it paired, or nothing (it waits or is dropped)."""
        event = self._events.get(stamp_ns)
        if event is not None:
            return [Paired(frame, stamp_ns, event, event.ended)]
        pre = self._pre_event(stamp_ns, frame)
        if pre is not None:
            return [pre]
        if stamp_ns < self._newest_event_ns:
            self.dropped += 1
            return []
        self._frames[stamp_ns] = frame
        while len(self._frames) > self.max_frames:
            self._frames.popitem(last=False)
            self.dropped += 1
        return []

    def event(self, info: MotionInfo) -> tuple[list[Paired[T]], list[int]]:
        """A motion event arrived: the frames it releases, and events that ended frameless."""
        if info.event_id == 0:  # an illumination/IR flag outside any event
            return [], []
        self._events[info.stamp_ns] = info
        while len(self._events) > self.max_events:
            self._events.popitem(last=False)
        self._newest_event_ns = max(self._newest_event_ns, info.stamp_ns)
        if self._open is None or self._open.event_id != info.event_id:
            self._open = _Open(info.event_id, info.stamp_ns, info.rois)
        out: list[Paired[T]] = []
        for stamp in [s for s in self._frames if s <= info.stamp_ns]:
            frame = self._frames.pop(stamp)
            if stamp == info.stamp_ns:
                out.append(Paired(frame, stamp, info, info.ended))
                continue
            pre = self._pre_event(stamp, frame)
            if pre is None:
                self.dropped += 1
            else:
                out.append(pre)
        out.sort(key=lambda p: p.stamp_ns)
        ended: list[int] = []
        if info.ended:
            self._open = None
            if not any(p.closes for p in out):
                ended.append(info.event_id)
        return out, ended

    def _pre_event(self, stamp_ns: int, frame: T) -> Paired[T] | None:
        open_ = self._open
        if open_ is None or not open_.start_ns - self.pre_event_ns <= stamp_ns < open_.start_ns:
            return None
        return Paired(frame, stamp_ns, MotionInfo(stamp_ns, open_.event_id, open_.rois))

    @property
    def waiting(self) -> int:
        """Frames waiting for their event."""
        return len(self._frames)
