"""Flow control of held bursts: a held frame is decided by the motion gate alone when it is in no
motion event and by the cascade too when it is; unacknowledged or refused frames are sent again,
and set aside after ``max_sends``; acknowledgements of other frames change nothing; the player
drains a held store by these steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildcam.camera.held import FakeController, HeldBurstSource
from wildcam.camera.held_pace import HeldPacer, HeldPlayer, HeldTurn, Step

S = 1_782_000_000_100_000_000


def test_nothing_in_flight_sends() -> None:
    pacer = HeldPacer()
    assert pacer.in_flight is None and pacer.step(0.0) is Step.SEND


def test_a_frame_without_motion_is_decided_by_the_motion_stage_alone() -> None:
    pacer = HeldPacer(timeout_s=5.0)
    pacer.sent(S, 0.0)
    assert pacer.in_flight == S and pacer.step(1.0) is Step.WAIT
    pacer.motion(S, event_id=0)
    assert pacer.step(1.0) is Step.DECIDED
    assert pacer.in_flight is None and pacer.step(1.0) is Step.SEND


def test_a_frame_in_an_event_waits_for_the_cascade_in_either_order() -> None:
    pacer = HeldPacer(timeout_s=5.0)
    pacer.sent(S, 0.0)
    pacer.motion(S, event_id=3)
    assert pacer.step(4.0) is Step.WAIT  # the gate saw motion: the cascade must decide it
    pacer.cascade(S)
    assert pacer.step(4.0) is Step.DECIDED
    pacer.sent(S + 1, 5.0)
    pacer.cascade(S + 1)  # the cascade's acknowledgement overtook the gate's
    assert pacer.step(5.0) is Step.WAIT
    pacer.motion(S + 1, event_id=3)
    assert pacer.step(5.0) is Step.DECIDED


def test_acknowledgements_of_other_frames_change_nothing() -> None:
    pacer = HeldPacer(timeout_s=5.0)
    pacer.motion(S, 0)  # nothing in flight
    pacer.cascade(S)
    pacer.sent(S, 0.0)
    pacer.motion(S - 1, 0)  # a live frame, or a repeat of an earlier one
    pacer.cascade(S - 1, done=False)
    assert pacer.step(1.0) is Step.WAIT


def test_an_unacknowledged_frame_is_sent_again_then_set_aside() -> None:
    pacer = HeldPacer(timeout_s=2.0, max_sends=2)
    pacer.sent(S, 0.0)
    assert pacer.step(1.9) is Step.WAIT
    assert pacer.step(2.0) is Step.RESEND
    assert pacer.step(2.5) is Step.RESEND  # until it is sent again
    pacer.sent(S, 3.0)
    pacer.motion(S, event_id=1)  # motion saw it, the cascade never answers
    assert pacer.step(4.9) is Step.WAIT
    assert pacer.step(5.0) is Step.SET_ASIDE
    assert pacer.in_flight is None


def test_a_resend_forgets_the_acknowledgements_of_the_earlier_send() -> None:
    pacer = HeldPacer(timeout_s=2.0)
    pacer.sent(S, 0.0)
    pacer.cascade(S)
    assert pacer.step(2.0) is Step.RESEND
    pacer.sent(S, 2.0)
    pacer.motion(S, event_id=4)  # the cascade must decide this send
    assert pacer.step(2.1) is Step.WAIT


def test_a_refusal_resends_at_once_and_counts_as_a_send() -> None:
    pacer = HeldPacer(timeout_s=100.0, max_sends=2)
    pacer.sent(S, 0.0)
    pacer.motion(S, 0, done=False)  # the gate had no camera_info yet
    assert pacer.step(0.1) is Step.RESEND
    pacer.sent(S, 0.1)
    pacer.motion(S, 2)
    pacer.cascade(S, done=False)  # no model
    assert pacer.step(0.2) is Step.SET_ASIDE


@pytest.mark.parametrize(("timeout_s", "max_sends"), [(0.0, 3), (float("inf"), 3), (1.0, 0)])
def test_bad_settings_are_refused(timeout_s: float, max_sends: int) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        HeldPacer(timeout_s, max_sends)


def test_the_player_drains_the_held_frames_one_decided_frame_at_a_time(tmp_path: Path) -> None:
    controller = FakeController(tmp_path / "held", suffix=".png")
    grey = np.full((48, 64, 3), 90, np.uint8)
    controller.write(S, [(S + 1, grey), (S + 2, grey)])
    pacer = HeldPacer(timeout_s=5.0, max_sends=2)
    player = HeldPlayer(HeldBurstSource(tmp_path / "held"), pacer)
    deaf = player.turn(0.0, listening=lambda: False)
    assert deaf.busy and deaf.frame is None and "waiting" in deaf.status
    first = player.turn(0.1, listening=lambda: True)
    assert first.frame is not None and first.frame.captured_epoch_ns == S + 1
    assert first.status == "publishing" and pacer.in_flight == S + 1
    assert player.turn(1.0, lambda: True) == HeldTurn(busy=True)  # undecided: nothing more
    pacer.motion(S + 1, event_id=0)
    second = player.turn(1.1, lambda: True)  # decided: removed, the next one goes out
    assert second.counts == ["held_frames"] and second.frame is not None
    assert second.frame.captured_epoch_ns == S + 2
    resend = player.turn(6.2, lambda: True)  # unacknowledged: the same frame again
    assert resend.counts == ["held_resends"] and resend.frame is not None
    assert resend.frame.captured_epoch_ns == S + 2
    aside = player.turn(11.3, lambda: True)  # two sends: kept aside for a person, then drained
    assert aside.counts == ["held_set_aside"] and "no decision after 2 sends" in aside.problems[0]
    assert not aside.busy and aside.frame is None and aside.status == "drained"
    assert player.drained and len(list((tmp_path / "held").rglob(".undecided-*"))) == 1
