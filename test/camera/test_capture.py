"""Camera driver logic without ROS: holding the device, trigger bursts and the full-frame gate."""

from __future__ import annotations

import numpy as np
import pytest

from wildcam.camera.base import Frame
from wildcam.camera.capture import (
    CameraConfig,
    CaptureControl,
    FullFrameGate,
    SceneClock,
    TriggerBurst,
)
from wildcam.errors import ConfigError
from wildcam.params import build_config


def _frame(i: int) -> Frame:
    return Frame(image=np.zeros((4, 4, 3), np.uint8), stamp=i / 10, index=i)


def test_trigger_burst_counts_down_and_extends() -> None:
    burst = TriggerBurst()
    assert not burst.take()
    burst.trigger(3)
    assert [burst.take() for _ in range(4)] == [True, True, True, False]
    burst.trigger(2)
    burst.take()
    burst.trigger(5)
    assert sum(burst.take() for _ in range(10)) == 5


def test_gate_releases_pre_frames_event_frames_and_post_frames_once() -> None:
    gate = FullFrameGate("motion", pre_frames=2, post_frames=1)
    assert all(gate.push(i, _frame(i)) == [] for i in range(10))
    released = gate.motion(key=8, started=True, ended=False)  # event on frame 8, noticed at 9
    assert [k for k, _ in released] == [6, 7, 8, 9]
    assert [k for k, _ in gate.push(10, _frame(10))] == [10]
    assert gate.motion(key=10, started=False, ended=True) == []
    assert [k for k, _ in gate.push(11, _frame(11))] == [11]  # one post frame
    assert gate.push(12, _frame(12)) == []
    assert [k for k, _ in gate.motion(key=12, started=True, ended=False)] == [12]  # no repeats


@pytest.mark.parametrize(("policy", "expected"), [("always", [0, 1, 2]), ("never", [])])
def test_gate_policies(policy: str, expected: list[int]) -> None:
    gate = FullFrameGate(policy)
    out = [k for i in range(3) for k, _ in gate.push(i, _frame(i))]
    assert out == expected
    assert gate.motion(0, True, False) == []


def test_camera_config_ranges() -> None:
    with pytest.raises(ConfigError, match="fps"):
        build_config(CameraConfig, {"fps": 0.0})
    with pytest.raises(ConfigError, match="full_frames"):
        build_config(CameraConfig, {"full_frames": "sometimes"})
    assert build_config(CameraConfig, {"fps": 5}).fps == 5.0


WARM = CameraConfig()
WATCH = CameraConfig(trigger_mode=True, burst_frames=3, burst_fps=20.0, release_after_s=1.0)
SLEEP = CameraConfig(enabled=False)


def test_warm_streams_holds_the_device_and_a_trigger_marks_a_burst() -> None:
    control = CaptureControl()
    assert all(control.capture(WARM, t / 10) for t in range(5))
    assert not control.in_burst
    assert control.trigger(WARM)
    bursts = [
        control.capture(WARM, 1.0) and control.in_burst for _ in range(WARM.burst_frames + 2)
    ]
    assert bursts == [True] * WARM.burst_frames + [False, False]
    assert control.hold(WARM, 100.0)
    assert control.period_s(WARM) == pytest.approx(0.1)


def test_watch_holds_the_device_only_for_a_burst_and_its_hold() -> None:
    control = CaptureControl()
    assert control.capture(WATCH, -5.0)  # the first frame after enabling: sensor check
    assert not control.capture(WATCH, 0.0) and not control.hold(WATCH, 0.0)
    assert control.trigger(WATCH)  # open and take the first frame at once
    assert control.hold(WATCH, 0.0)
    taken = [t for t in (0.0, 0.05, 0.1, 0.15, 0.2) if control.capture(WATCH, t)]
    assert taken == [0.0, 0.05, 0.1]
    assert control.hold(WATCH, 0.5) and not control.hold(WATCH, 1.1)  # released after the hold
    assert control.period_s(WATCH) == pytest.approx(0.05)


def test_sleep_ignores_triggers_and_releases() -> None:
    control = CaptureControl()
    assert not control.trigger(SLEEP)
    assert not control.capture(SLEEP, 0.0) and not control.hold(SLEEP, 0.0)


def test_scene_clock_goes_on_while_the_camera_is_closed() -> None:
    clock = SceneClock()
    assert clock.index(50.0, 10.0) == 0  # starts with the camera
    assert clock.index(50.101, 10.0) == 1 and clock.index(50.199, 10.0) == 2  # jitter
    assert clock.index(80.0, 10.0) == 300  # closed for half a minute: the scene went on
    assert clock.index(81.0, 5.0) == 305  # a new rate from now on


def test_forced_frames_are_published_once() -> None:
    gate = FullFrameGate("motion", pre_frames=2, post_frames=0)
    assert [k for k, _ in gate.push(1, _frame(1), force=True)] == [1]
    assert gate.push(2, _frame(2)) == []
    assert [k for k, _ in gate.motion(key=1, started=True, ended=False)] == [2]
