"""Pairing full frames with motion events, in either arrival order."""

from __future__ import annotations

from wildcam.cascade.pairing import FramePairing, MotionInfo
from wildcam.types import Box

S = 1_000_000_000
ROI = (Box(1, 2, 3, 4),)


def event(
    t: float,
    event_id: int = 1,
    started: bool = False,
    ended: bool = False,
    rois: tuple[Box, ...] = ROI,
) -> MotionInfo:
    return MotionInfo(round(t * S), event_id, rois, started, ended)


def test_frame_after_its_event_pairs_at_once() -> None:
    pairing: FramePairing[str] = FramePairing()
    assert pairing.event(event(10.0, started=True)) == ([], [])
    [paired] = pairing.frame(10 * S, "f10")
    assert (paired.frame, paired.event.event_id, paired.event.rois) == ("f10", 1, ROI)
    assert not paired.closes


def test_frame_before_its_event_waits_for_it() -> None:
    pairing: FramePairing[str] = FramePairing()
    assert pairing.frame(10 * S, "f10") == [] and pairing.waiting == 1
    paired, ended = pairing.event(event(10.0, started=True, ended=True))
    assert [p.frame for p in paired] == ["f10"] and paired[0].closes and ended == []
    assert pairing.waiting == 0


def test_pre_event_frames_join_the_open_event() -> None:
    pairing: FramePairing[str] = FramePairing(pre_event_s=1.0)
    pairing.event(event(10.0, started=True))
    assert [p.event.event_id for p in pairing.frame(round(9.5 * S), "pre")] == [1]
    assert pairing.frame(8 * S, "too old") == [] and pairing.dropped == 1


def test_frames_no_event_will_claim_are_dropped() -> None:
    pairing: FramePairing[str] = FramePairing(pre_event_s=0.5)
    pairing.frame(5 * S, "quiet")  # no event will ever name it
    pairing.frame(round(9.8 * S), "pre")  # waits: its event may still come
    paired, _ = pairing.event(event(10.0, started=True))
    assert [p.frame for p in paired] == ["pre"] and pairing.dropped == 1
    # After the event ended: a post-event frame without an event of its own.
    pairing.event(event(11.0, ended=True))
    pairing.frame(12 * S, "post")
    pairing.event(event(30.0, event_id=2, started=True))
    assert pairing.dropped == 2 and pairing.waiting == 0


def test_ended_event_without_a_frame_is_reported() -> None:
    pairing: FramePairing[str] = FramePairing()
    pairing.event(event(10.0, started=True))
    assert pairing.event(event(11.0, ended=True)) == ([], [1])


def test_waiting_frames_are_bounded_and_flags_without_event_ignored() -> None:
    pairing: FramePairing[int] = FramePairing(max_frames=3)
    for i in range(5):
        pairing.frame(i * S, i)
    assert pairing.waiting == 3 and pairing.dropped == 2
    assert pairing.event(MotionInfo(4 * S, 0, ())) == ([], [])  # an IR-switch flag
    assert pairing.waiting == 3
