"""Camera driver logic without ROS: trigger bursts and the full-frame gate."""

from __future__ import annotations

import numpy as np
import pytest

from wildcam.camera.base import Frame
from wildcam.camera.capture import CameraConfig, FullFrameGate, TriggerBurst
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
