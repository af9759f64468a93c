"""Device states in a real graph: the power manager puts the camera in watch from a lifetime target
and a trigger then brings a burst; a sleep and a wake (the graph stopped and started again, as a
halt and a boot do) lose no queued item and resume mode, state and budget."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import BatteryState, Image

from graph_helpers import detection_array  # test-local helpers
from wildcam.gateway import Gateway, GatewayConfig
from wildcam.msg import DetectionArray, PowerState, Trigger, UploadStatus
from wildcam.ros.qos import EVENTS, LATCHED, SENSOR_SUB

pytestmark = pytest.mark.graph
CAMERA = (
    "wildcam.nodes.camera_driver",
    "-p",
    "width:=160",
    "-p",
    "height:=120",
    "-p",
    "uri:=empty",
    "-p",
    "burst_frames:=4",
    "-p",
    "burst_fps:=20.0",
)


def test_lifetime_target_puts_the_camera_in_watch_and_a_trigger_bursts(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    states = probe.collect(PowerState, "power/state", LATCHED)
    raw = probe.collect(Image, "camera/image_raw", SENSOR_SUB)
    procs.node(*CAMERA)
    # Ten years on 37 Wh: far more than the warm board may spend, so the policy watches.
    procs.node(
        "wildcam.nodes.power_manager",
        "-p",
        "update_period_s:=0.2",
        "-p",
        "target_days:=3650.0",
        "-p",
        "battery_capacity_wh:=37.0",
        "-p",
        f"state_file:={tmp_path / 'state.json'}",
    )
    battery = probe.node.create_publisher(BatteryState, "power/battery", 10)
    trigger = probe.node.create_publisher(Trigger, "camera/trigger", 10)
    assert probe.spin_until(lambda: battery.get_subscription_count() > 0, 30.0)

    def watching() -> bool:
        battery.publish(BatteryState(percentage=0.9, present=True))
        return bool(states) and states[-1].device_state == "watch"

    assert probe.spin_until(watching, 30.0), [s.device_state_reason for s in states]
    assert "lifetime budget" in states[-1].device_state_reason
    assert states[-1].mode_name == "normal"  # the mode goes on beside the state
    assert probe.spin_until(
        lambda: probe.get_parameter("camera_driver", "trigger_mode") is True, 20.0
    ), "the watch state's camera set was not pushed"
    probe.spin_for(0.5)
    assert raw == [], "watch: no frame without a trigger"
    trigger.publish(Trigger(source=Trigger.SOURCE_PIR, active=True))
    assert probe.spin_until(lambda: len(raw) >= 4, 10.0)
    probe.spin_for(0.5)
    assert len(raw) == 4


def test_sleep_and_wake_lose_no_queued_item_and_resume_mode_state_and_budget(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("graph-test-token-0123456789\n")
    manager = (
        "wildcam.nodes.power_manager",
        "-p",
        "update_period_s:=0.2",
        "-p",
        "summary_period_s:=0.5",
        "-p",
        f"state_file:={tmp_path / 'state.json'}",
    )
    states = probe.collect(PowerState, "power/state", LATCHED)
    status = probe.collect(UploadStatus, "uploader/status")
    summaries = probe.collect(DiagnosticStatus, "power/energy_summary")
    with Gateway(GatewayConfig(store=tmp_path / "gw", token_file=token, port=0)) as gw:
        uploader = (
            "wildcam.nodes.uploader",
            "-p",
            f"gateway_url:={gw.url}",
            "-p",
            f"token_file:={token}",
            "-p",
            f"queue_dir:={tmp_path / 'queue'}",
            "-p",
            "link_backend:=simulated",
            "-p",
            "idle_period_s:=0.1",
        )
        procs.node(*uploader)
        procs.node(*manager)
        assert probe.spin_until(lambda: bool(states), 30.0)
        for name, value in (("override_mode", "aggressive"), ("override_state", "sleep")):
            assert probe.set_parameters("power_manager", **{name: value})[0].successful
        assert probe.spin_until(lambda: states[-1].device_state == "sleep", 10.0)
        pub = probe.node.create_publisher(DetectionArray, "detections/events", EVENTS)
        assert probe.spin_until(lambda: pub.get_subscription_count() > 0, 30.0)
        # The sleep set disables the uploader: what is detected now waits in the queue.
        assert probe.spin_until(lambda: probe.get_parameter("uploader", "enabled") is False, 20.0)
        for i in range(4):
            pub.publish(detection_array(i))
        assert probe.spin_until(lambda: status and status[-1].queue_depth == 8, 15.0)
        assert gw.store.counters().get("items", 0) == 0

        def budget() -> float:
            for msg in reversed(summaries):
                values = {kv.key: kv.value for kv in msg.values}
                if "budget_spent_j" in values:
                    return float(values["budget_spent_j"])
            return math.nan

        assert probe.spin_until(lambda: budget() > 0, 10.0)
        procs.stop_all()  # the halt
        spent = budget()
        assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"

        states.clear()
        summaries.clear()
        procs.started.clear()
        procs.node(*uploader)  # the boot: the same queue and state file, no override
        procs.node(*manager)
        assert probe.spin_until(lambda: bool(states), 30.0)
        assert "resumed from" in procs.log("power_manager")
        assert "mode aggressive, device state sleep" in procs.log("power_manager")
        # Awake, the state policy (always active, no target) chooses warm; the mode is kept
        # (battery unknown), so the uploader is enabled again and sends everything queued.
        assert probe.spin_until(lambda: states[-1].device_state == "warm", 10.0)
        assert states[-1].mode_name == "aggressive"
        assert probe.spin_until(lambda: budget() >= spent, 10.0)
        assert probe.spin_until(lambda: gw.store.counters().get("items", 0) == 8, 30.0), procs.log(
            "uploader"
        )
        kinds = sorted(i["kind"] for i in gw.store.items())
        assert kinds == ["metadata"] * 4 + ["thumbnail"] * 4


def test_sleep_deactivates_the_managed_camera_and_waking_activates_it(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    small = probe.collect(Image, "camera/small/image_raw", SENSOR_SUB)
    states = probe.collect(PowerState, "power/state", LATCHED)
    procs.node(*CAMERA, "-p", "fps:=10.0")
    procs.node(
        "wildcam.nodes.power_manager",
        "-p",
        "update_period_s:=0.2",
        "-p",
        f"state_file:={tmp_path / 'state.json'}",
    )
    assert probe.spin_until(lambda: probe.lifecycle_state("camera_driver") == "active", 30.0)
    assert probe.spin_until(lambda: bool(states), 30.0)
    assert probe.set_parameters("power_manager", override_state="sleep")[0].successful
    assert probe.spin_until(lambda: probe.lifecycle_state("camera_driver") == "inactive", 20.0), (
        procs.log("power_manager")
    )
    # Through the lifecycle, not the parameter: the camera stays enabled while asleep.
    assert probe.get_parameter("camera_driver", "enabled") is True
    probe.spin_for(0.5)  # frames already in flight
    mark = len(small)
    probe.spin_for(1.0)
    assert len(small) == mark, "a deactivated camera captures nothing"
    assert probe.set_parameters("power_manager", override_state="warm")[0].successful
    assert probe.spin_until(lambda: probe.lifecycle_state("camera_driver") == "active", 20.0), (
        procs.log("power_manager")
    )
    assert probe.spin_until(lambda: len(small) >= mark + 3, 20.0)
