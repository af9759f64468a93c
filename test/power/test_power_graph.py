"""The power manager in a real graph: live reconfiguration from another process, thermal override,
restarted nodes, and a time-accelerated 48-hour run on a simulated clock."""

from __future__ import annotations

import time
from typing import Any

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.parameter import parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, Temperature

from wildcam.msg import EnergyReport, PowerState
from wildcam.power.battery import Environment
from wildcam.power.policy import load_policy
from wildcam.power.simulate import Scenario, simulate
from wildcam.ros.energy import ENERGY_QOS
from wildcam.ros.qos import LATCHED

pytestmark = pytest.mark.graph
CAMERA = (
    "wildcam.nodes.camera_driver",
    "-p",
    "width:=160",
    "-p",
    "height:=120",
    "-p",
    "uri:=empty",
)
MANAGER = ("wildcam.nodes.power_manager", "-p", "verify_period_s:=1.0")


def _get(probe, node: str, name: str) -> Any:  # type: ignore[no-untyped-def]
    client = AsyncParameterClient(probe.node, node)
    if not client.wait_for_services(timeout_sec=0.5):
        return None
    future = client.get_parameters([name])
    if not probe.spin_until(future.done, 2.0) or future.result() is None:
        return None
    return parameter_value_to_python(future.result().values[0])


def _wait_param(probe, node: str, name: str, value: Any, timeout_s: float) -> float:  # type: ignore[no-untyped-def]
    """Poll ``node``'s parameter service until ``name`` is ``value``; return the seconds taken."""
    start = time.monotonic()
    assert probe.spin_until(lambda: _get(probe, node, name) == value, timeout_s), (
        f"{node}.{name} never became {value!r} (is {_get(probe, node, name)!r})"
    )
    return time.monotonic() - start


def test_manual_override_reconfigures_nodes_and_survives_a_restart(probe, procs) -> None:  # type: ignore[no-untyped-def]
    states = probe.collect(PowerState, "power/state", LATCHED)
    camera = procs.node(*CAMERA)
    procs.node("wildcam.nodes.motion_detector")
    procs.node(*MANAGER)
    assert probe.spin_until(lambda: bool(states), 30.0), "no power/state"
    assert states[-1].mode_name == "normal" and not states[-1].manual_override
    _wait_param(probe, "camera_driver", "fps", 5.0, 30.0)  # the normal mode's set arrived

    results = probe.set_parameters("power_manager", override_mode="aggressive")
    assert results[0].successful, results[0].reason
    took = _wait_param(probe, "camera_driver", "fps", 10.0, 5.0)
    _wait_param(probe, "motion_detector", "event_start_frames", 1, 5.0)
    assert probe.spin_until(lambda: states[-1].mode_name == "aggressive", 5.0)
    assert states[-1].manual_override and "manual override" in states[-1].reason
    print(f"override -> camera fps observed after {took:.2f} s")

    bad = probe.set_parameters("power_manager", override_mode="turbo")
    assert not bad[0].successful and "override_mode" in bad[0].reason
    bad = probe.set_parameters("power_manager", update_period_s=-1.0)
    assert not bad[0].successful and "update_period_s" in bad[0].reason
    assert states[-1].mode_name == "aggressive"

    # A restarted camera comes back with its defaults and is given the current mode again.
    assert probe.set_parameters("power_manager", override_mode="low_power")[0].successful
    _wait_param(probe, "camera_driver", "fps", 2.0, 5.0)
    camera.terminate()
    camera.wait(timeout=10)
    procs.node(*CAMERA, "-p", "fps:=7.0")
    _wait_param(probe, "camera_driver", "fps", 2.0, 30.0)

    # Clearing the override with no battery reading (a host without a gauge): back to the
    # policy's default mode at once, and power/state says so.
    assert probe.set_parameters("power_manager", override_mode="critical")[0].successful
    assert probe.spin_until(lambda: states[-1].mode_name == "critical", 5.0)
    assert probe.set_parameters("power_manager", override_mode="")[0].successful
    assert probe.spin_until(lambda: states[-1].mode_name == "normal", 5.0), states[-1]
    assert not states[-1].manual_override
    assert "override cleared" in states[-1].reason and "battery unknown" in states[-1].reason
    _wait_param(probe, "camera_driver", "fps", 5.0, 5.0)


def test_thermal_override_wins(probe, procs) -> None:  # type: ignore[no-untyped-def]
    states = probe.collect(PowerState, "power/state", LATCHED)
    battery = probe.node.create_publisher(BatteryState, "power/battery", 10)
    temperature = probe.node.create_publisher(Temperature, "power/temperature", 10)
    procs.node(*CAMERA)
    procs.node(*MANAGER, "-p", "override_mode:=aggressive")
    assert probe.spin_until(lambda: bool(states) and states[-1].mode_name == "aggressive", 30.0)
    assert probe.spin_until(
        lambda: temperature.get_subscription_count() > 0 and battery.get_subscription_count() > 0,
        10.0,
    )
    _wait_param(probe, "camera_driver", "fps", 10.0, 30.0)

    def hot() -> bool:
        battery.publish(
            BatteryState(
                percentage=0.95,
                present=True,
                power_supply_status=BatteryState.POWER_SUPPLY_STATUS_CHARGING,
            )
        )
        temperature.publish(Temperature(temperature=82.0))
        return states[-1].mode_name == "low_power"

    assert probe.spin_until(hot, 10.0), [s.reason for s in states]
    assert states[-1].reason.startswith("thermal override") and states[-1].temperature == 82.0
    _wait_param(probe, "camera_driver", "fps", 2.0, 5.0)


START = 1_700_006_400.0 + 18 * 3600.0  # an 18:00 UTC
SCENARIO = Scenario(
    environment=Environment(
        solar_peak_w=25.0,
        sunrise_h=6.0,
        sunset_h=20.0,
        ambient_mean_c=12.0,
        ambient_amplitude_c=8.0,
    ),
    capacity_wh=40.0,
    initial_soc=0.5,
    start_s=START,
    hours=48.0,
    mode_load_w={m: 0.0 for m in ("critical", "low_power", "normal", "aggressive")},
)


def test_48_hours_on_a_simulated_clock(probe, procs) -> None:  # type: ignore[no-untyped-def]
    """sim_clock at 3600x; simulated battery; the graph's timeline matches the pure simulation.

    A mode change 1.5 simulated hours late is 1.5 s of wall-clock lag between the nodes.
    """
    expected = simulate(load_policy().policy, SCENARIO)
    states = probe.collect(PowerState, "power/state", LATCHED)
    reports = probe.collect(EnergyReport, "energy", ENERGY_QOS)
    summaries = probe.collect(DiagnosticStatus, "power/energy_summary")
    clock: list[Clock] = []
    probe.node.create_subscription(
        Clock, "/clock", lambda m: clock[:1].clear() or clock.append(m), 1
    )
    sim = ("-p", "use_sim_time:=true")
    procs.node("wildcam.nodes.sim_clock", "-p", "speed:=0.0", "-p", f"start_time:={START}")
    procs.node(
        "wildcam.nodes.power_source",
        *sim,
        "-p",
        "backend:=simulated",
        "-p",
        "capacity_wh:=40.0",
        "-p",
        "initial_soc:=0.5",
        "-p",
        "solar_peak_w:=25.0",
        "-p",
        "ambient_mean_c:=12.0",
        "-p",
        "ambient_amplitude_c:=8.0",
        "-p",
        "period_s:=60.0",
    )
    procs.node(*MANAGER, *sim, "-p", "stale_after_s:=3600.0")
    procs.node(*CAMERA, *sim)
    # Start the clock once everyone listens to it.
    assert probe.spin_until(lambda: probe.node.count_subscribers("/clock") >= 4, 30.0)
    assert probe.spin_until(lambda: bool(states), 30.0)
    assert probe.set_parameters("sim_clock", speed=3600.0)[0].successful
    wall = time.monotonic()

    def sim_s() -> float:
        return Time.from_msg(clock[-1].clock).nanoseconds * 1e-9 if clock else 0.0

    assert probe.spin_until(lambda: sim_s() >= START + 48 * 3600.0, 120.0), sim_s() - START
    elapsed = time.monotonic() - wall

    # power/state also carries device-state changes (low battery: watch); compare the modes.
    changes = [s for i, s in enumerate(states) if i == 0 or states[i - 1].mode_name != s.mode_name]
    got = [s.mode_name for s in changes]
    assert got == expected.modes(), (
        got,
        [(round((c.t_s - START) / 3600, 1), c.mode, c.reason) for c in expected.changes],
    )
    for state, want in zip(changes[1:], expected.changes[1:], strict=False):
        t = Time.from_msg(state.header.stamp).nanoseconds * 1e-9
        assert abs(t - want.t_s) < 1.5 * 3600.0, (state.mode_name, (t - want.t_s) / 3600)
    # The camera's energy reports cover simulated periods; the manager aggregates them.
    capture = [
        s for r in reports if r.node == "camera_driver" for s in r.stages if s.stage == "capture"
    ]
    assert capture and all(s.joules >= s.count * 0.025 for s in capture)
    keys = {kv.key for s in summaries for kv in s.values}
    assert {"j_per_h.node.camera_driver", "average_power_w", "projected_battery_h"} <= keys
    print(f"48 h simulated in {elapsed:.1f} s wall; modes {got}")


def test_a_parameter_set_by_hand_is_kept_and_reported_until_cleared(probe, procs) -> None:  # type: ignore[no-untyped-def]
    from diagnostic_msgs.msg import DiagnosticArray

    from wildcam.srv import ClearOverrides

    diags = probe.collect(DiagnosticArray, "/diagnostics")
    procs.node(*CAMERA)
    procs.node(*MANAGER)

    def manager() -> dict[str, str]:
        """The power manager's latest diagnostics values (other nodes publish there too)."""
        for array in reversed(diags):
            for status in array.status:
                if status.name.endswith("power_manager"):
                    return {kv.key: kv.value for kv in status.values}
        return {}

    def reported() -> dict[str, str]:
        return {k: v for k, v in manager().items() if k.startswith("manual_override.")}

    # The normal mode's set arrived, and the manager has its answer: a value set by hand before
    # that answer counts as the node's start-up configuration, not as an override.
    _wait_param(probe, "camera_driver", "fps", 5.0, 30.0)
    assert probe.spin_until(lambda: manager().get("apply.camera_driver") == "ok", 30.0)
    assert probe.set_parameters("camera_driver", fps=2.0)[0].successful  # ros2 param set

    assert probe.spin_until(
        lambda: reported() == {"manual_override.camera_driver.fps": "2.0"}, 10.0
    ), reported()
    # Verification (every second here) and a mode change keep it.
    assert probe.set_parameters("power_manager", override_mode="aggressive")[0].successful
    assert probe.spin_until(lambda: manager().get("mode") == "aggressive", 10.0)
    probe.spin_for(2.5)
    assert _get(probe, "camera_driver", "fps") == 2.0

    client = probe.node.create_client(ClearOverrides, "/power_manager/clear_overrides")
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(ClearOverrides.Request(node="camera_driver"))
    assert probe.spin_until(future.done, 10.0)
    assert list(future.result().cleared) == ["camera_driver.fps"]
    _wait_param(probe, "camera_driver", "fps", 10.0, 10.0)  # the aggressive mode's value
    assert probe.spin_until(lambda: reported() == {}, 10.0)
