"""The lifetime model: solar against pvlib, battery bookkeeping, edges, reproducibility, CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from wildcam.errors import ConfigError
from wildcam.power.cells import BATTERIES, battery_preset
from wildcam.power.lifetime import (
    MISS_REASONS,
    Activity,
    Climate,
    LifetimeScenario,
    MeasuredCosts,
    constants_table,
    scenario,
    simulate,
)
from wildcam.power.profile import load_profile
from wildcam.power.solar import SolarConfig, clearsky_poa_w_m2, hourly_harvest_w

MIDSUMMER = dt.datetime(2026, 6, 21, tzinfo=dt.UTC)
CLEAR = (1.0,) * 12


def test_solar_matches_pvlib_clear_sky_totals_for_a_known_site_and_day() -> None:
    import pandas as pd
    import pvlib

    site = SolarConfig(latitude=52.0, longitude=0.0, altitude_m=50.0, tilt_deg=0.0)
    ours_wh = clearsky_poa_w_m2(site, MIDSUMMER, 1).sum()  # hourly means -> Wh/m²
    minutes = pd.date_range(MIDSUMMER, periods=24 * 60, freq="1min")
    ghi = pvlib.location.Location(52.0, 0.0, tz="UTC", altitude=50.0).get_clearsky(
        minutes, model="ineichen"
    )["ghi"]
    pvlib_wh = float(ghi.sum()) / 60.0
    assert ours_wh == pytest.approx(pvlib_wh, rel=0.02)
    assert 6000 < pvlib_wh < 9000  # a clear midsummer day at 52 N: ~7-8 kWh/m²
    # a panel under a clear sky delivers rated W x POA / 1000 x the controller's efficiency
    panel = dataclasses.replace(site, panel_w=10.0, controller_efficiency=0.5, clearness=CLEAR)
    harvest_wh = hourly_harvest_w(panel, MIDSUMMER, 1).sum()
    assert harvest_wh == pytest.approx(10.0 * ours_wh / 1000.0 * 0.5, rel=0.01)
    winter = clearsky_poa_w_m2(
        dataclasses.replace(site, tilt_deg=60.0), dt.datetime(2026, 12, 21, tzinfo=dt.UTC), 1
    ).sum()
    assert 0 < winter < ours_wh


def test_clouds_are_seeded_and_follow_the_monthly_clearness() -> None:
    a = hourly_harvest_w(SolarConfig(panel_w=10.0, seed=1), MIDSUMMER, 60)
    b = hourly_harvest_w(SolarConfig(panel_w=10.0, seed=1), MIDSUMMER, 60)
    c = hourly_harvest_w(SolarConfig(panel_w=10.0, seed=2), MIDSUMMER, 60)
    clear = hourly_harvest_w(SolarConfig(panel_w=10.0, clearness=CLEAR), MIDSUMMER, 60)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 0.35 < a.sum() / clear.sum() < 0.75  # June/July clearness 0.55 by default
    with pytest.raises(ConfigError, match="clearness"):
        SolarConfig(clearness=(0.5,) * 11)


def _run(**changes: object) -> tuple[LifetimeScenario, object]:
    sc = scenario(days=int(changes.pop("days", 30)), start=MIDSUMMER, **changes)
    return sc, simulate(sc)


def test_battery_bookkeeping_energy_in_equals_out_plus_change_in_charge() -> None:
    for changes in (
        {},
        {"solar": SolarConfig(panel_w=10.0)},
        {"battery": "lead_acid_12v7ah", "solar": SolarConfig(panel_w=5.0)},
    ):
        _, r = _run(**changes)
        out = r.total_load_j + r.self_discharge_j + (r.store_end_j - r.store_start_j)
        assert r.harvest_in_j == pytest.approx(out, rel=1e-9, abs=1e-6)
        assert r.total_load_j == pytest.approx(sum(r.energy_by_kind_j.values()), rel=1e-9)
        assert r.captured + sum(r.missed.values()) == r.events
        assert tuple(r.missed) == MISS_REASONS


def test_an_empty_battery_stops_the_trap_and_misses_the_rest() -> None:
    _, r = _run(policy="always_warm", initial_soc=0.02)
    assert r.days_until_empty is not None and r.days_until_empty < 1.0
    assert r.missed["battery empty"] > 0.9 * r.events
    assert r.soc_daily[-1] == 0.0 and not r.energy_neutral


def test_a_full_battery_in_the_sun_stays_full_and_spills() -> None:
    _, r = _run(solar=SolarConfig(panel_w=20.0, clearness=CLEAR), initial_soc=1.0)
    assert r.energy_neutral and not r.reached_critical and r.min_soc > 0.95
    assert r.harvest_spilled_j > r.harvest_in_j > 0


def test_cold_cells_refuse_charge_and_deliver_less() -> None:
    frozen = Climate(mean_c=-20.0, seasonal_amplitude_c=0.0, daily_amplitude_c=0.0)
    mild = Climate(mean_c=15.0, seasonal_amplitude_c=0.0, daily_amplitude_c=0.0)
    sun = SolarConfig(panel_w=10.0, clearness=CLEAR)
    _, cold = _run(policy="always_warm", climate=frozen, solar=sun, initial_soc=0.5)
    _, warm = _run(policy="always_warm", climate=mild, initial_soc=0.5)
    assert cold.harvest_in_j == 0.0  # Li-ion: no charging below 0 °C
    assert cold.days_until_empty is not None and warm.days_until_empty is not None
    assert cold.days_until_empty < warm.days_until_empty  # the cold locks energy away
    assert battery_preset("li18650x7").usable_fraction(-20.0) < 1.0
    with pytest.raises(ConfigError, match="unknown battery"):
        battery_preset("potato")
    assert {"li18650x7", "lithium_aa_x8", "lead_acid_12v7ah"} <= set(BATTERIES)


def test_same_seed_reproduces_and_another_seed_differs() -> None:
    def figures(seed: int) -> dict[str, object]:
        _, r = _run(activity=Activity(seed=seed), solar=SolarConfig(panel_w=5.0, seed=seed))
        out = r.summary()
        out.pop("sim_wall_s")
        return out

    assert figures(3) == figures(3)
    assert figures(3) != figures(4)


def test_policies_trade_capture_for_lifetime() -> None:
    _, warm = _run(policy="always_warm", days=2)
    _, pir = _run(policy="pir_wake", batch_s=0.0, over_budget_batch_s=0.0, days=20)
    assert warm.capture_share_alive == pytest.approx(1.0) and not warm.reached_critical
    _, drained = _run(policy="always_warm", days=20)
    assert pir.energy_neutral and not drained.energy_neutral
    # near empty the mode policy's critical tier closes the camera: "power mode" misses
    assert drained.reached_critical and drained.missed["power mode"] > 0
    assert pir.capture_share_alive < 1.0 and pir.missed["pir miss"] > 0
    # without the controller's burst, visits shorter than the boot are missed while waking
    _, slow = _run(policy="pir_wake", burst_on_wake=False, days=20)
    assert slow.missed["waking"] > 0 and pir.missed["waking"] == 0
    # a Pi 4B cannot sleep (no RTC): PIR wake means watch, at idle power
    _, pi4 = _run(profile="rpi4b", policy="pir_wake", days=5)
    assert pi4.time_in_state_h["sleep"] == 0.0 and pi4.time_in_state_h["watch"] > 0
    with pytest.raises(ConfigError, match="burst_on_wake"):
        scenario(profile="rpi4b", burst_on_wake=True)
    # batching trades alert latency for boots
    _, batched = _run(policy="pir_wake", batch_s=3600.0, over_budget_batch_s=3600.0, days=20)
    assert batched.wakes < pir.wakes
    assert batched.alert_percentile_s(50) > pir.alert_percentile_s(50)


def test_outside_the_windows_only_a_pir_that_powers_the_device_up_is_heard() -> None:
    """As in the power manager (ManagerCore.on_trigger): asleep outside the windows, a PIR edge
    wakes a controller-switched device (its burst is captured); a halted Pi 5 sleeps through."""
    _, mcu = _run(profile="pizero2w_mcu", policy="scheduled", days=10)
    _, pi5 = _run(profile="rpi5", policy="scheduled", days=10)
    assert mcu.missed["asleep"] == 0 and mcu.time_in_state_h["sleep"] > 0
    assert pi5.missed["asleep"] > 0 and pi5.time_in_state_h["sleep"] > 0


def test_the_state_policy_holds_bursts_longer_only_when_over_the_lifetime_budget() -> None:
    """The controller's hold comes from the real StatePolicy: a target the battery cannot
    reach at one boot per PIR event puts it over budget, and the bursts wait for one boot."""
    hold: dict[str, object] = {
        "policy": "pir_wake",
        "batch_s": 240.0,
        "over_budget_batch_s": 43200.0,
        "days": 20,
    }
    _, easy = _run(target_days=0.0, **hold)  # no target: never over budget
    _, tight = _run(target_days=3650.0, **hold)  # ten years on one pack: over budget
    assert easy.alert_percentile_s(95) < 600.0 < tight.alert_percentile_s(50)
    assert tight.wakes < easy.wakes / 2
    assert tight.total_load_j < easy.total_load_j
    assert tight.captured == pytest.approx(easy.captured, rel=0.05)  # held, not lost


def _energy_json(directory: Path, **changes: object) -> None:
    data = json.loads(
        (Path(__file__).resolve().parents[2] / "bench" / "results" / "energy.json").read_text()
    )
    data.update(changes)
    (directory / "energy.json").write_text(json.dumps(data))


def test_costs_come_from_the_measured_files_and_wake_json_when_present(tmp_path: Path) -> None:
    zero = load_profile("pizero2w_mcu")
    with pytest.raises(ConfigError, match=r"energy\.json"):
        MeasuredCosts.load(zero, tmp_path)
    _energy_json(tmp_path)
    costs = MeasuredCosts.load(zero, tmp_path)
    assert "energy.json" in costs.event_j.source and costs.event_j.value > 0
    assert costs.watch_latency_s.source.startswith("ASSUMPTION: wake.json absent")
    (tmp_path / "wake.json").write_text(
        json.dumps(
            {
                "trigger_to_frame_ms_warm": 20.0,
                "trigger_to_frame_ms_watch": 150.0,
                "first_frame_to_decision_s_median": 1.5,
                "scene_animal_enters_s": 1.0,
            }
        )
    )
    costs = MeasuredCosts.load(zero, tmp_path)
    assert costs.watch_latency_s.value == pytest.approx(0.15 * zero.slowdown)
    assert costs.decision_s.value == pytest.approx(0.5 * zero.slowdown)
    assert "wake.json" in costs.watch_latency_s.source
    # more measured analysis energy makes every captured event dearer
    _energy_json(tmp_path, j_per_day_cascade_stage3=10 * 2317.7)
    assert MeasuredCosts.load(zero, tmp_path).event_j.value > costs.event_j.value
    (tmp_path / "energy.json").write_text("{}")
    with pytest.raises(ConfigError, match="joules_per_day"):
        MeasuredCosts.load(zero, tmp_path)


def test_constants_name_their_sources() -> None:
    sc, r = _run(days=5)
    table = constants_table(sc, r)
    assert {"profile.boot_j", "battery.capacity_wh", "graph.event_j", "activity.pir_share"} <= set(
        table
    )
    assert all(c.source for c in table.values())


def test_cli_explains_inputs_runs_every_policy_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wildcam.cli import main

    with pytest.raises(SystemExit):
        main(["lifetime", "--help"])
    text = capsys.readouterr().out
    for word in (
        "--panel-w",
        "--battery",
        "--events-per-day",
        "--pattern",
        "--pir-share",
        "--clearness",
        "energy.json",
        "wake.json",
    ):
        assert word in text
    assert main(["lifetime", "--days", "10", "--policy", "all", "--plot", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "always_warm" in out and "constants:" in out
    assert (tmp_path / "lifetime_soc.png").stat().st_size > 1000
    assert (tmp_path / "lifetime_pareto.png").stat().st_size > 1000
    assert main(["lifetime", "--days", "0"]) == 2
    assert "days >= 1" in capsys.readouterr().err
    assert main(["lifetime", "--days", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"]["pir_wake"]["days_simulated"] == 5
