"""Battery model, sources, energy aggregate and the parameter push plan, without ROS."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from wildcam.errors import ConfigError, WildcamError
from wildcam.power.aggregate import EnergyAggregator, projected_life_h
from wildcam.power.apply import ApplyPlan
from wildcam.power.battery import Environment, SimBattery, hour_of_day, parse_windows
from wildcam.power.energy import StageEnergy
from wildcam.power.sources import (
    FixedSource,
    PowerSourceConfig,
    SimulatedSource,
    SysfsSource,
    make_power_source,
)

DAY = 86400.0


def test_charger_windows_parse_and_wrap_past_midnight() -> None:
    night, noon = parse_windows("22:00-06:30@5, 12-13@10")
    assert night.contains(23.0) and night.contains(6.0) and not night.contains(7.0)
    assert noon.watts == 10.0 and noon.contains(12.5)
    assert parse_windows("") == ()
    with pytest.raises(ConfigError):
        parse_windows("noon@5")


def test_environment_solar_curve_and_ambient() -> None:
    env = Environment(
        solar_peak_w=10.0,
        sunrise_h=6.0,
        sunset_h=18.0,
        ambient_mean_c=10.0,
        ambient_amplitude_c=5.0,
        warmest_h=15.0,
        utc_offset_h=2.0,
    )
    assert hour_of_day(10 * 3600.0, 2.0) == pytest.approx(12.0)
    assert env.solar_w(10 * 3600.0) == pytest.approx(10.0)  # local noon
    assert env.solar_w(2 * 3600.0) == 0.0
    assert env.ambient_c(13 * 3600.0) == pytest.approx(15.0)  # 15:00 local


def test_battery_integrates_idle_load_draws_and_charge() -> None:
    bat = SimBattery(capacity_wh=10.0, soc=0.5, idle_w=1.0)
    bat.advance(0.0)
    bat.draw(3600.0)  # 1 Wh reported by the stack
    bat.advance(3600.0)  # 1 h at 1 W idle
    assert bat.soc == pytest.approx(0.3)
    assert bat.load_w_now == pytest.approx(2.0) and not bat.charging
    sunny = SimBattery(
        capacity_wh=10.0,
        soc=0.5,
        idle_w=1.0,
        charge_efficiency=0.5,
        environment=Environment(chargers=parse_windows("0-24@4")),
    )
    sunny.advance(0.0)
    sunny.advance(3600.0)
    assert sunny.soc == pytest.approx(0.6) and sunny.charging
    sunny.advance(10 * 3600.0)
    assert sunny.soc == 1.0  # full stays full


def _sysfs(root: Path, battery: dict[str, str], thermal: str | None = "45500") -> Path:
    bat = root / "class" / "power_supply" / "BAT0"
    bat.mkdir(parents=True)
    for name, value in {"type": "Battery", **battery}.items():
        (bat / name).write_text(value + "\n")
    if thermal is not None:
        zone = root / "class" / "thermal" / "thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "temp").write_text(thermal + "\n")
    return root


def test_sysfs_reads_a_charge_based_gauge(tmp_path: Path) -> None:
    root = _sysfs(
        tmp_path,
        {
            "status": "Discharging",
            "capacity": "42",
            "voltage_now": "3700000",
            "current_now": "500000",
            "charge_now": "2000000",
            "charge_full": "5000000",
            "present": "1",
        },
    )
    r = SysfsSource(root).read(0.0)
    assert r.percentage == pytest.approx(0.42) and r.voltage == pytest.approx(3.7)
    assert r.current == pytest.approx(-0.5) and r.charging is False and r.present
    assert r.charge_ah == pytest.approx(2.0) and r.capacity_ah == pytest.approx(5.0)
    assert r.temperature_c == pytest.approx(45.5) and math.isnan(r.battery_temperature_c)


def test_sysfs_energy_gauge_without_capacity_and_unknown_fields(tmp_path: Path) -> None:
    root = _sysfs(
        tmp_path,
        {
            "status": "Unknown",
            "voltage_now": "4000000",
            "energy_now": "8000000",
            "energy_full": "16000000",
        },
        thermal=None,
    )
    r = SysfsSource(root).read(0.0)
    assert r.percentage == pytest.approx(0.5) and r.charge_ah == pytest.approx(2.0)
    assert r.charging is None and math.isnan(r.temperature_c) and math.isnan(r.current)


def test_sysfs_without_battery_is_unknown_not_zero(tmp_path: Path) -> None:
    r = SysfsSource(tmp_path).read(0.0)
    assert not r.present and math.isnan(r.percentage) and r.charging is None


def test_simulated_source_drains_reported_energy_and_heats_with_load() -> None:
    cfg = PowerSourceConfig(
        backend="simulated",
        capacity_wh=10.0,
        initial_soc=0.5,
        solar_peak_w=0.0,
        extra_load_w=0.15,
        ambient_amplitude_c=0.0,
        self_heating_c_per_w=10.0,
    )  # rpi4b idle 2.85 W + 0.15 W = 3 W
    source = make_power_source(cfg)
    assert isinstance(source, SimulatedSource)
    source.read(0.0)
    source.draw(3600.0 * 1.0)
    r = source.read(3600.0)
    assert r.percentage == pytest.approx(0.5 - (3.0 + 1.0) / 10.0)
    assert r.temperature_c == pytest.approx(15.0 + 10.0 * 4.0)
    assert r.current < 0 and r.charging is False


def test_fixed_source_sentinels_are_unknown() -> None:
    assert math.isnan(FixedSource(PowerSourceConfig(backend="fixed")).read(0.0).percentage)
    r = FixedSource(
        PowerSourceConfig(backend="fixed", fixed_percentage=0.3, fixed_temperature_c=20.0)
    ).read(0.0)
    assert r.percentage == 0.3 and r.temperature_c == 20.0


def test_source_config_cross_checks() -> None:
    with pytest.raises(ConfigError):
        PowerSourceConfig(sunrise_h=20.0, sunset_h=6.0)
    with pytest.raises(ConfigError):
        PowerSourceConfig(chargers="always")


def test_aggregate_rates_by_stage_and_node_and_life() -> None:
    agg = EnergyAggregator(window_s=3600.0)
    agg.add(10.0, "camera_driver", 10.0, [StageEnergy("capture", 100, joules=3.0)])
    agg.add(10.0, "motion_detector", 10.0, [StageEnergy("motion", 100, joules=1.0)])
    s = agg.summary(10.0, idle_w=2.0)
    assert s.j_per_h_by_stage == {"capture": pytest.approx(1080.0), "motion": pytest.approx(360.0)}
    assert s.j_per_h_by_node["camera_driver"] == pytest.approx(1080.0)
    assert s.average_power_w == pytest.approx(2.4)
    assert projected_life_h(24.0, s.average_power_w) == pytest.approx(10.0)
    assert math.isnan(projected_life_h(math.nan, 2.0))
    later = agg.summary(10_000.0, idle_w=2.0)  # the reports left the window
    assert later.average_power_w == pytest.approx(2.0) and later.total_j == pytest.approx(4.0)


def test_push_plan_retries_with_backoff_then_reports_failure() -> None:
    plan = ApplyPlan(("cam", "up"), max_attempts=3, backoff_s=1.0)
    plan.set_mode({"cam": {"fps": 2.0}, "up": {"enabled": False}}, 0.0)
    assert plan.due(0.0) == []  # nobody seen yet
    plan.seen("cam", 0.0)
    assert plan.due(0.0, ready=lambda n: False) == []  # service not ready: no attempt used
    assert plan.due(0.0) == [("cam", {"fps": 2.0})]
    plan.result("cam", 0.0, {"fps": "fps=2.0 is outside [5, 10]"})
    assert plan.due(0.5) == [] and plan.due(1.0) == [("cam", {"fps": 2.0})]
    plan.result("cam", 1.0, None)  # no answer
    assert plan.due(2.5) == [] and plan.due(3.0) == [("cam", {"fps": 2.0})]
    plan.result("cam", 3.0, {"fps": "refused"})
    assert plan.report()["cam"].startswith("failed after 3 attempt(s): fps: refused")
    assert plan.due(100.0) == []
    # A restart (seen again) or a new mode tries again; success is ok.
    plan.seen("cam", 200.0)
    assert plan.due(200.0) == [("cam", {"fps": 2.0})]
    plan.result("cam", 200.0, {})
    assert plan.report() == {"cam": "ok", "up": "absent"}
    plan.mismatch("cam", 300.0)
    assert plan.due(300.0) == [("cam", {"fps": 2.0})]


def test_bag_source_replays_battery_and_temperature(tmp_path: Path) -> None:
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from sensor_msgs.msg import BatteryState, Temperature

    from wildcam.bags.storage import BAG_VERSION
    from wildcam.bags.typestore import typestore

    store, bag = typestore(), tmp_path / "power_bag"
    with Writer(bag, version=BAG_VERSION) as writer:
        conns = {}
        for topic, msgtype in (
            ("power/battery", "sensor_msgs/msg/BatteryState"),
            ("power/temperature", "sensor_msgs/msg/Temperature"),
        ):
            msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
            conns[topic] = writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=store.hash_rihs01(msgtype)
            )
        t0 = 1_000_000_000_000
        for i, pct in enumerate((0.9, 0.8, 0.7)):
            msg = BatteryState(
                percentage=pct,
                voltage=math.nan,
                present=True,
                power_supply_status=BatteryState.POWER_SUPPLY_STATUS_DISCHARGING,
            )
            writer.write(conns["power/battery"], t0 + i * 10**10, serialize_message(msg))
        writer.write(
            conns["power/temperature"],
            t0 + 5 * 10**9,
            serialize_message(Temperature(temperature=41.0)),
        )
    source = make_power_source(PowerSourceConfig(backend="bag", bag=str(bag), bag_loop=True))
    first = source.read(500.0)
    assert first.percentage == pytest.approx(0.9) and math.isnan(first.temperature_c)
    assert first.charging is False and math.isnan(first.voltage)
    later = source.read(515.0)
    assert later.percentage == pytest.approx(0.8) and later.temperature_c == pytest.approx(41.0)
    assert source.read(521.0).percentage == pytest.approx(0.9)  # looped (21 s bag)
    with pytest.raises(WildcamError):
        make_power_source(PowerSourceConfig(backend="bag", bag=str(tmp_path / "missing")))


def test_implausible_readings_are_unknown_and_reported() -> None:
    from wildcam.power.sources import PowerReading, checked_reading

    for bad in (-0.2, 1.5, 1e9, math.inf, -math.inf):
        reading, problems = checked_reading(PowerReading(percentage=bad, voltage=3.9))
        assert math.isnan(reading.percentage) and reading.voltage == 3.9
        assert len(problems) == 1 and "percentage" in problems[0]
    reading, problems = checked_reading(
        PowerReading(percentage=0.5, voltage=-3.0, temperature_c=1e6, battery_temperature_c=-300.0)
    )
    assert reading.percentage == 0.5 and math.isnan(reading.voltage)
    assert math.isnan(reading.temperature_c) and math.isnan(reading.battery_temperature_c)
    assert len(problems) == 3
    same, problems = checked_reading(PowerReading(percentage=0.0, voltage=math.nan))
    assert same.percentage == 0.0 and math.isnan(same.voltage) and problems == ()
