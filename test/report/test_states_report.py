"""The report's device states: scene frames through a closed camera, time and board energy by
state, and why the missed visits were missed."""

from __future__ import annotations

import dataclasses
import math

import pytest

from wildcam.power.profile import load_profile
from wildcam.report.bag import frame_indices
from wildcam.report.data import ModeSwitch, RunData, Timebase, TruthVisit
from wildcam.report.states import summarize_states

MS = 1_000_000


def test_frame_indices_skip_the_frames_of_a_closed_camera() -> None:
    stamps = [0, 100 * MS, 200 * MS, 1200 * MS, 1305 * MS, 1398 * MS]
    assert list(frame_indices(stamps)) == [0, 1, 2, 12, 13, 14]
    assert list(frame_indices([5])) == [0]


def _switch(t_s: float, state: str, reason: str = "") -> ModeSwitch:
    return ModeSwitch(t_s, 2, "normal", "", math.nan, False, False, state, reason)


def test_time_energy_and_missed_visits_by_state() -> None:
    # One scene second is an hour: warm 2 h, watch 4 h, sleep 6 h, warm again 12 h.
    run = RunData(
        duration_s=24.0,
        fps=10.0,
        frames=0,
        timebase=Timebase(3600.0, 0.0),
        visits=(
            TruthVisit(1.0, 1.5, "deer"),
            TruthVisit(3.0, 3.5, "fox"),
            TruthVisit(5.8, 6.5, "deer"),
            TruthVisit(8.0, 9.0, "fox"),
        ),
        modes=(
            _switch(0.0, "warm"),
            _switch(1.0, "warm"),
            _switch(2.0, "watch"),
            _switch(6.0, "sleep"),
            _switch(12.0, "warm"),
        ),
        profile="rpi5",
    )
    states = summarize_states(run, detected=[run.visits[0]])
    assert states is not None
    assert states.hours == {"sleep": 6.0, "watch": 4.0, "warm": 14.0}
    rpi5 = load_profile("rpi5").states
    assert states.joules["sleep"] == pytest.approx(6 * 3600 * rpi5.off_w)
    assert states.joules["warm"] == pytest.approx(14 * 3600 * rpi5.idle_w)
    assert states.transitions_j == pytest.approx(rpi5.shutdown_j + rpi5.boot_j)
    assert states.wakes == 1
    assert states.missed == {"in watch, no trigger": 2, "asleep": 1}
    rows = dict(states.rows())
    assert rows["visits missed by state"] == "1 asleep, 2 in watch, no trigger"
    assert summarize_states(dataclasses.replace(run, modes=()), []) is None
