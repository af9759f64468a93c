"""Upload policy, time windows, energy budget, link backends, backoff, config checks."""

from __future__ import annotations

import math
import random

import pytest
from upload_helpers import config  # test-local helpers

from wildcam.errors import ConfigError, TransportError
from wildcam.upload.link import GatewayProbe, SimulatedLink, parse_link_profile
from wildcam.upload.policy import EnergyBudget, PowerFacts, decide, in_windows, parse_windows
from wildcam.upload.transport import Backoff

NOON = 1_700_000_000 - 1_700_000_000 % 86400 + 12 * 3600  # a UTC noon


def test_windows_parse_and_wrap_over_midnight() -> None:
    windows = parse_windows("22:00-06:00, 12:00-12:30")
    assert windows == ((1320, 360), (720, 750))
    assert in_windows(windows, NOON + 600)
    assert not in_windows(windows, NOON + 3600)
    assert in_windows(windows, NOON + 11 * 3600)  # 23:00
    assert in_windows(windows, NOON + 15 * 3600)  # 03:00 next day
    assert in_windows((), NOON)
    for bad in ("25:00-01:00", "12-13", "12:00-12:60"):
        with pytest.raises(ConfigError):
            parse_windows(bad)


def test_decide_names_the_reason() -> None:
    cfg = config()
    ok = PowerFacts(battery=0.8, charging=False)
    assert decide(cfg, NOON, ok, 0.0).allowed
    assert decide(config(enabled=False), NOON, ok, 0.0).reason == "disabled"
    assert decide(config(only_on_charger=True), NOON, ok, 0.0).reason == "not charging"
    assert decide(config(only_on_charger=True), NOON, PowerFacts(0.8, True), 0.0).allowed
    assert "battery" in decide(config(min_battery=0.9), NOON, ok, 0.0).reason
    assert decide(config(min_battery=0.9), NOON, PowerFacts(math.nan), 0.0).allowed  # unknown
    assert "windows" in decide(config(windows="00:00-01:00"), NOON, ok, 0.0).reason
    assert "budget" in decide(config(daily_energy_budget_j=10.0), NOON, ok, 10.0).reason
    assert "link" in decide(cfg, NOON, ok, 0.0, link_quality=0.1).reason
    assert decide(cfg, NOON, ok, 0.0, link_quality=0.5).allowed


def test_energy_budget_resets_at_utc_midnight() -> None:
    budget = EnergyBudget()
    budget.add(NOON, 5.0)
    budget.add(NOON + 3600, 2.5)
    assert budget.spent(NOON + 7200) == 7.5
    assert budget.spent(NOON + 12 * 3600 + 1) == 0.0


def test_simulated_link_follows_its_profile() -> None:
    now = [0.0]
    link = SimulatedLink("10:0.9,5:0.1", clock=lambda: now[0])
    samples = []
    for t in (0, 9.9, 10, 14.9, 15, 26):
        now[0] = t
        samples.append(link.quality())
    assert samples == [0.9, 0.9, 0.1, 0.1, 0.9, 0.1]
    for bad in ("", "x:1", "10:1.5", "0:0.5"):
        with pytest.raises(ConfigError):
            parse_link_profile(bad)


class FakeProbe:
    def __init__(self, latencies: list[float | None]) -> None:
        self.latencies = latencies

    def probe(self) -> float:
        value = self.latencies.pop(0)
        if value is None:
            raise TransportError("connection refused")
        return value


def test_gateway_probe_maps_latency_to_quality() -> None:
    probe = GatewayProbe(FakeProbe([0.05, 5.1, None, 10.0]), timeout_s=10.0)
    assert probe.quality() == 1.0
    assert probe.quality() == pytest.approx(0.5, abs=0.01)
    assert probe.quality() == 0.0
    assert probe.quality() == 0.0


def test_backoff_is_exponential_jittered_capped_and_never_zero() -> None:
    backoff = Backoff(1.0, 30.0, random.Random(1))
    delays = [backoff.failure() for _ in range(10)]
    for n, delay in enumerate(delays):
        ceiling = min(30.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jitter
    backoff.success()
    assert backoff.failure() <= 1.0


def test_config_rejects_inconsistent_values() -> None:
    with pytest.raises(ConfigError):
        config(backoff_base_s=10.0, backoff_max_s=1.0)
    with pytest.raises(ConfigError):
        config(gateway_url="ftp://x")
    with pytest.raises(ConfigError):
        config(windows="nonsense")
    with pytest.raises(ConfigError):
        config(compression="brotli")
    assert config(send_full_frames=True).max_priority == 2 and config().max_priority == 1
