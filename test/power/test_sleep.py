"""The sleep command and the camera's deactivation without ROS: the command waits for the answer,
a hung camera delays it by ``sleep_wait_s`` at most, and a wake in between cancels it and
activates the camera only after the deactivation answered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from wildcam.power.calls import PlanCalls
from wildcam.power.manager import ManagerConfig, ManagerCore
from wildcam.power.policy import load_policy
from wildcam.power.sleep import sleep_now
from wildcam.power.wake.rtc import SimulatedRtc

MIDNIGHT = 1_782_000_000.0  # 2026-06-21 00:00 UTC
CAMERA = "camera_driver"


def _core(tmp_path: Path) -> tuple[ManagerCore, PlanCalls]:
    cfg = ManagerConfig(state_file=str(tmp_path / "state.json"), sleep_wait_s=10.0)
    core = ManagerCore(cfg, load_policy(), MIDNIGHT)
    calls = PlanCalls(core.lifecycle)
    core.step(MIDNIGHT + 0.5, 0.0)
    core.step(MIDNIGHT + 1.0, 0.0)  # the clock runs: goals are set (active)
    calls.watch({CAMERA}, 0.0)
    return core, calls


def _override(core: ManagerCore, state: str, now_s: float, wall_s: float) -> None:
    core.reconfigure(dataclasses.replace(core.config, override_state=state), now_s)
    core.step(now_s, wall_s)


def _send(core: ManagerCore, calls: PlanCalls, wall_s: float) -> list[tuple[str, int, str]]:
    """The lifecycle calls the node would make now: (node, token, goal)."""
    return [
        (node, calls.start(node, wall_s), goal["lifecycle"])
        for node, goal in core.lifecycle.due(wall_s, ready=calls.idle)
    ]


def _answer(core: ManagerCore, calls: PlanCalls, node: str, token: int, wall_s: float) -> None:
    if calls.finish(node, token):
        core.lifecycle.result(node, wall_s, {})


def test_the_sleep_command_waits_for_the_camera_to_answer_its_deactivation(
    tmp_path: Path,
) -> None:
    core, calls = _core(tmp_path)
    [(_, token, goal)] = _send(core, calls, 0.0)
    _answer(core, calls, CAMERA, token, 0.1)
    assert goal == "active" and core.sleep.due(core.lifecycle, 0.2) is None  # awake: no sleep
    _override(core, "sleep", MIDNIGHT + 2.0, 1.0)
    assert core.sleep.due(core.lifecycle, 1.0) is None  # the deactivation is not even sent
    [(_, token, goal)] = _send(core, calls, 1.25)
    assert goal == "inactive"
    assert core.sleep.due(core.lifecycle, 5.0) is None  # in flight: no answer yet
    _answer(core, calls, CAMERA, token, 5.0)
    due = core.sleep.due(core.lifecycle, 5.25)
    assert due is not None and due.state.state == "sleep" and due.late == ()
    assert core.sleep.due(core.lifecycle, 5.5) is None  # it runs once


def test_a_hung_camera_delays_the_sleep_by_sleep_wait_s_at_most(tmp_path: Path) -> None:
    core, calls = _core(tmp_path)
    _override(core, "sleep", MIDNIGHT + 2.0, 1.0)
    _send(core, calls, 1.0)
    assert core.sleep.due(core.lifecycle, 10.9) is None
    calls.expire(10.9, timeout_s=2.0)  # the call timed out: retried, still no answer
    due = core.sleep.due(core.lifecycle, 11.0)
    assert due is not None and due.late == (CAMERA,)


def test_a_camera_not_in_the_graph_does_not_hold_the_sleep(tmp_path: Path) -> None:
    core, calls = _core(tmp_path)
    calls.watch(set(), 0.5)  # it left (crashed)
    _override(core, "sleep", MIDNIGHT + 2.0, 1.0)
    due = core.sleep.due(core.lifecycle, 1.0)
    assert due is not None and due.late == ()


def test_a_wake_during_the_deactivation_cancels_the_sleep_and_activates_after_the_answer(
    tmp_path: Path,
) -> None:
    core, calls = _core(tmp_path)
    _override(core, "sleep", MIDNIGHT + 2.0, 1.0)
    [(_, deactivate, _)] = _send(core, calls, 1.0)
    _override(core, "warm", MIDNIGHT + 3.0, 2.0)  # a PIR trigger, a command: awake again
    assert core.sleep.pending is None  # the sleep command will not run
    # The activation waits for the deactivation's answer: sent now, it could be overtaken by
    # it and the camera would stay inactive while the device is awake.
    assert _send(core, calls, 2.0) == []
    _answer(core, calls, CAMERA, deactivate, 3.0)  # the old goal's answer changes nothing ...
    assert core.lifecycle.nodes[CAMERA].state == "pending"
    [(_, activate, goal)] = _send(core, calls, 3.0)  # ... and the activation follows it
    assert goal == "active"
    _answer(core, calls, CAMERA, activate, 3.5)
    assert core.lifecycle.nodes[CAMERA].state == "ok"
    assert core.sleep.due(core.lifecycle, 100.0) is None


def test_sleep_now_arms_saves_then_halts_and_the_manager_reports_overrides(
    tmp_path: Path,
) -> None:
    core, calls = _core(tmp_path)
    _override(core, "sleep", MIDNIGHT + 2.0, 1.0)
    _, token, _ = _send(core, calls, 1.0)[0]
    _answer(core, calls, CAMERA, token, 1.5)
    due = core.sleep.due(core.lifecycle, 2.0)
    assert due is not None and due.problem() == ""
    rtc = SimulatedRtc(clock=lambda: MIDNIGHT + 2.0)
    order: list[str] = []
    text = sleep_now(rtc, due.state, lambda: order.append(f"{rtc.wake_at_s} {rtc.sleeping}"))
    assert order == [f"{due.state.wake_at_s} False"] and rtc.sleeping  # armed, saved, asleep
    assert text.startswith(f"sleeping until {due.state.wake_at_s}")
    assert core.status_values()["device_state"] == "sleep"
    late = dataclasses.replace(due, late=(CAMERA,), wait_s=10.0)
    assert late.problem() == (
        "camera_driver did not answer its deactivation within 10 s: sleeping anyway"
    )
    # Parameter events: a managed value the plan did not push is a manual override.
    core.plan.seen(CAMERA, 2.0)
    for n, _ in core.plan.due(2.0):
        core.plan.result(n, 2.0, {})
    assert core.hand_set(CAMERA, [("fps", 0.5), ("jpeg_quality", 10)]) == [("fps", 0.5)]
    assert core.override_values() == {"manual_override.camera_driver.fps": "0.5"}
