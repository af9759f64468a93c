"""The hardware side in a real graph: PIR edges become stamped ``camera/trigger`` messages, the
real backends stay up without their devices and say why on ``/diagnostics`` (bad settings exit
2 with the reason), and the power manager sets the measured battery power against the modelled
one."""

from __future__ import annotations

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import BatteryState

from wildcam.errors import EXIT_CONFIG
from wildcam.msg import Trigger
from wildcam.power.profile import load_profile

pytestmark = pytest.mark.graph


def _stamp_s(msg: Trigger) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_simulated_pir_edges_become_stamped_triggers_with_hold_off(probe, procs) -> None:  # type: ignore[no-untyped-def]
    triggers = probe.collect(Trigger, "camera/trigger")
    # Edges 8 s after start leave time for discovery; 8.8-9.2 re-triggers within the hold-off.
    procs.node(
        "wildcam.nodes.pir_trigger",
        "-p",
        "backend:=simulated_pir",
        "-p",
        "simulated_edges:=8-8.5, 8.8-9.2, 11",
        "-p",
        "hold_off_s:=1.0",
        "-p",
        "wait_s:=0.05",
    )
    assert probe.wait_matched("camera/trigger", 8.0), "pir_trigger did not come up in time"
    assert probe.spin_until(lambda: len(triggers) >= 3, 30.0), procs.log("pir_trigger")
    probe.spin_for(0.5)
    got = [(round(_stamp_s(m) - _stamp_s(triggers[0]), 2), m.active, m.source) for m in triggers]
    assert got == [
        (0.0, True, Trigger.SOURCE_PIR),
        (0.5, False, Trigger.SOURCE_PIR),
        (3.0, True, Trigger.SOURCE_PIR),
    ]
    now = probe.node.get_clock().now().nanoseconds * 1e-9
    assert 0.0 < now - _stamp_s(triggers[-1]) < 30.0  # stamped with the edge, on this clock


def test_real_backends_without_their_devices_stay_up_and_say_why(probe, procs) -> None:  # type: ignore[no-untyped-def]
    statuses = probe.collect(DiagnosticArray, "/diagnostics")
    pir = procs.node("wildcam.nodes.pir_trigger", "-p", "chip:=/dev/gpiochip-absent")
    ina = procs.node(
        "wildcam.nodes.power_source",
        "-p",
        "backend:=ina219",
        "-p",
        "i2c_bus:=250",
        "-p",
        "counter_file:=''",
        "-p",
        "period_s:=0.2",
    )

    def latest(name: str) -> DiagnosticStatus | None:
        found = [s for a in statuses for s in a.status if s.name == name]
        return found[-1] if found else None

    def both_report() -> bool:
        p, i = latest("/pir_trigger"), latest("/power_source")
        return (
            p is not None
            and "cannot request PIR line 17 on /dev/gpiochip-absent" in p.message
            and i is not None
            and "cannot open I2C bus 250" in i.message
        )

    assert probe.spin_until(both_report, 60.0), (
        procs.log("pir_trigger"),
        procs.log("power_source"),
    )
    assert latest("/pir_trigger").level == DiagnosticStatus.ERROR  # degraded
    assert latest("/power_source").level == DiagnosticStatus.WARN  # read errors
    assert pir.poll() is None and ina.poll() is None  # still up
    # A setting the chip cannot take is a configuration error: the reason, no traceback, and
    # the code bringup does not respawn.
    bad = procs.node(
        "wildcam.nodes.power_source", "-p", "backend:=ina219", "-p", "max_current_a:=5.0"
    )
    assert bad.wait(timeout=60) == EXIT_CONFIG
    assert "shunt range" in procs.log("power_source") and "Traceback" not in procs.log(
        "power_source"
    )


def test_energy_summary_sets_measured_power_against_the_model(probe, procs) -> None:  # type: ignore[no-untyped-def]
    summaries = probe.collect(DiagnosticStatus, "power/energy_summary")
    battery = probe.node.create_publisher(BatteryState, "power/battery", 10)
    procs.node(
        "wildcam.nodes.power_manager", "-p", "summary_period_s:=0.5", "-p", "power_profile:=rpi4b"
    )

    def measured() -> dict[str, str] | None:
        msg = BatteryState(voltage=5.0, current=-0.6, percentage=0.8, present=True)
        msg.header.stamp = probe.node.get_clock().now().to_msg()
        battery.publish(msg)
        probe.spin_for(0.1)
        values = {kv.key: kv.value for kv in summaries[-1].values} if summaries else {}
        return values if "measured.average_power_w" in values else None

    assert probe.spin_until(lambda: measured() is not None, 30.0), (
        [kv.key for kv in summaries[-1].values] if summaries else "no energy summary"
    )
    values = measured()
    assert values is not None
    assert float(values["measured.average_power_w"]) == pytest.approx(3.0)
    # No node reported energy: the model is the profile's idle power alone.
    idle_w = load_profile("rpi4b").idle_w
    assert float(values["modelled_over_measured"]) == pytest.approx(idle_w / 3.0, abs=2e-3)
