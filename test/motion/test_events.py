"""EventTracker: debounced start, gap-based end, ids."""

from __future__ import annotations

from wildcam.motion import EventTracker


def steps(tracker: EventTracker, pattern: str) -> list[tuple[int | None, bool, bool]]:
    """Step through ``pattern`` ('x' = motion, '.' = still)."""
    return [tuple(tracker.step(c == "x")) for c in pattern]  # type: ignore[misc]


def test_event_opens_after_n_motion_frames_and_closes_after_gap() -> None:
    out = steps(EventTracker(start_frames=3, end_frames=2), "xx.xxx.x..x...")
    started = [i for i, s in enumerate(out) if s[1]]
    ended = [i for i, s in enumerate(out) if s[2]]
    assert started == [5]  # the single frame and the pair do not open an event
    assert out[6] == (1, False, False)  # a one-frame gap keeps it open
    assert ended == [9]
    assert out[9] == (1, False, True)  # the id is reported with the end
    assert out[10] == (None, False, False)  # one motion frame alone: no new event


def test_ids_count_up_and_close_ends_the_open_event() -> None:
    tracker = EventTracker(start_frames=1, end_frames=1)
    out = steps(tracker, "x.x")
    assert [s[0] for s in out] == [1, 1, 2]
    assert tracker.current == 2
    assert tuple(tracker.close()) == (2, False, True)
    assert tracker.current is None
    assert tuple(tracker.close()) == (None, False, False)


def test_configure_keeps_the_open_event() -> None:
    tracker = EventTracker(start_frames=1, end_frames=10)
    tracker.step(True)
    tracker.configure(start_frames=1, end_frames=2)
    out = steps(tracker, "..")
    assert out == [(1, False, False), (1, False, True)]


def test_a_hold_opens_an_event_at_once_and_keeps_it_for_its_frames() -> None:
    tracker = EventTracker(start_frames=3, end_frames=2)
    tracker.hold(3)
    out = steps(tracker, "......")
    # opened on the first held frame (no start_frames run needed), still frames after the hold
    # then close it as any quiet gap does
    assert out == [
        (1, True, False),
        (1, False, False),
        (1, False, False),
        (1, False, False),
        (1, False, True),
        (None, False, False),
    ]


def test_a_hold_during_an_event_extends_it_and_close_drops_it() -> None:
    tracker = EventTracker(start_frames=1, end_frames=1)
    assert steps(tracker, "x") == [(1, True, False)]
    tracker.hold(2)
    assert steps(tracker, "...") == [(1, False, False), (1, False, False), (1, False, True)]
    tracker.hold(5)
    assert tuple(tracker.close()) == (None, False, False)
    assert steps(tracker, ".") == [(None, False, False)]  # the hold went with the close
