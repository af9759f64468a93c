"""Sleep against the camera's deactivation in a real graph (the power manager and a stand-in
camera whose deactivation answers when the test says so): the sleep command runs only after the
answer, a wake meanwhile cancels it and leaves the camera active, and a camera that never
answers delays the sleep by ``sleep_wait_s`` only."""

from __future__ import annotations

from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Empty, String

pytestmark = pytest.mark.graph
HELD_CAMERA = Path(__file__).with_name("held_camera.py")


def _manager(procs, tmp_path: Path, wait_s: float) -> None:  # type: ignore[no-untyped-def]
    procs.start([str(HELD_CAMERA)], "held_camera")
    procs.node(
        "wildcam.nodes.power_manager",
        "-p",
        "update_period_s:=0.2",
        "-p",
        f"sleep_wait_s:={wait_s}",
        "-p",
        f"state_file:={tmp_path / 'state.json'}",
    )


def _status(diags: list[DiagnosticArray]) -> tuple[str, dict[str, str]]:
    """The power manager's latest message and values."""
    for array in reversed(diags):
        for status in array.status:
            if status.name.endswith("power_manager"):
                return status.message, {kv.key: kv.value for kv in status.values}
    return "", {}


def test_sleep_waits_for_the_deactivation_and_a_wake_meanwhile_leaves_the_camera_active(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    held = probe.collect(Empty, "test/held")
    states = probe.collect(String, "test/state")
    release = probe.node.create_publisher(Empty, "test/release", 10)
    _manager(procs, tmp_path, wait_s=60.0)

    def values() -> dict[str, str]:
        return _status(diags)[1]

    assert probe.spin_until(lambda: values().get("lifecycle.camera_driver") == "active: ok", 30.0)
    assert probe.wait_matched("test/held")
    assert probe.spin_until(lambda: release.get_subscription_count() == 1, 10.0)

    assert probe.set_parameters("power_manager", override_state="sleep")[0].successful
    assert probe.spin_until(lambda: len(held) >= 1, 20.0), procs.log("power_manager")
    mark = len(diags)
    assert probe.spin_until(lambda: len(diags) >= mark + 2, 10.0)  # two reports while held
    assert "rtc" not in values(), "the sleep command ran before the camera answered"
    assert values()["sleep_command"].startswith("waiting for the managed nodes")

    # Awake again while the deactivation is held: no sleep, and the camera ends active.
    assert probe.set_parameters("power_manager", override_state="warm")[0].successful
    assert probe.spin_until(lambda: values().get("sleep_command") == "none: awake", 10.0)
    release.publish(Empty())
    assert probe.spin_until(lambda: "inactive" in [m.data for m in states], 10.0)
    assert probe.spin_until(
        lambda: (
            states[-1].data == "active" and values().get("lifecycle.camera_driver") == "active: ok"
        ),
        20.0,
    ), procs.log("power_manager")
    assert probe.lifecycle_state("camera_driver") == "active", procs.log("held_camera")
    assert "rtc" not in values()

    # Asleep once more, answered: the sleep command follows the answer.
    mark = len(held)
    assert probe.set_parameters("power_manager", override_state="sleep")[0].successful
    assert probe.spin_until(lambda: len(held) > mark, 20.0)
    release.publish(Empty())
    assert probe.spin_until(lambda: values().get("rtc", "").startswith("sleeping until"), 20.0)
    assert values()["sleep_command"] == "ran" and "sleep" not in values()  # no error
    assert probe.lifecycle_state("camera_driver") == "inactive"


def test_a_camera_that_never_answers_delays_the_sleep_by_sleep_wait_s_only(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    held = probe.collect(Empty, "test/held")
    _manager(procs, tmp_path, wait_s=1.0)
    assert probe.spin_until(
        lambda: _status(diags)[1].get("lifecycle.camera_driver") == "active: ok", 30.0
    )
    assert probe.set_parameters("power_manager", override_state="sleep")[0].successful
    assert probe.spin_until(lambda: len(held) >= 1, 20.0)
    assert probe.spin_until(
        lambda: _status(diags)[1].get("rtc", "").startswith("sleeping until"), 20.0
    ), procs.log("power_manager")
    values = _status(diags)[1]
    assert values["sleep_command"] == "ran" and values["sleep"] == "1"  # the error, counted
