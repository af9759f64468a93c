"""Power profiles and the energy ledger, without ROS."""

from __future__ import annotations

import pytest

from wildcam.errors import ConfigError
from wildcam.power.energy import EnergyLedger
from wildcam.power.profile import PROFILE_NAMES, LinkProfile, PowerProfile, load_profile


def _profile(**changes: object) -> PowerProfile:
    values: dict[str, object] = dict(
        name="t", idle_w=1.0, active_core_w=2.0, slowdown=3.0, capture_j_per_frame=0.5,
        links={"wifi": LinkProfile(4.0), "lte": LinkProfile(10.0, tail_s=10.0, tail_w=1.0)},
        upload_link="wifi")
    values.update(changes)
    return PowerProfile(**values)  # type: ignore[arg-type]


def test_shipped_profiles_load_with_their_documented_constants() -> None:
    assert {"rpi4b", "pizero2w"} <= set(PROFILE_NAMES)
    pi4, zero = load_profile("rpi4b"), load_profile("pizero2w")
    assert 2.7 <= pi4.idle_w <= 2.9 and pi4.active_core_w == pytest.approx(0.88)
    assert zero.idle_w == pytest.approx(0.6) and zero.slowdown > pi4.slowdown > 1.0
    for p in (pi4, zero):
        assert 2.0 <= p.link("wifi").j_per_mb <= 5.0
        assert p.link("cellular").j_per_mb > p.link("wifi").j_per_mb
        assert p.link("cellular").tail_j > 1.0 and p.capture_j_per_frame > 0


@pytest.mark.parametrize("name", ["nope", "../rpi4b", "RPI4B"])
def test_unknown_or_unsafe_profile_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        load_profile(name)


def test_profile_validation() -> None:
    with pytest.raises(ConfigError, match="upload_link"):
        _profile(upload_link="satellite")
    with pytest.raises(ConfigError, match="idle_w"):
        _profile(idle_w=-1.0)
    with pytest.raises(ConfigError):
        PowerProfile.from_mapping({"name": "x", "idle_w": 1.0, "bogus": 3, "links": {}})


def test_cpu_time_is_scaled_by_slowdown_and_capture_adds_the_camera() -> None:
    ledger = EnergyLedger(_profile())
    ledger.add_cpu("motion", 0.1)
    ledger.add_cpu("motion", 0.1)
    ledger.add_cpu("capture", 0.01, count=2)
    capture, motion = ledger.take()
    assert (motion.stage, motion.count) == ("motion", 2)
    assert motion.device_seconds == pytest.approx(0.6)
    assert motion.joules == pytest.approx(0.2 * 3.0 * 2.0)
    assert capture.joules == pytest.approx(0.01 * 3.0 * 2.0 + 2 * 0.5)
    assert ledger.take() == []  # emptied


def test_transfers_pay_per_megabyte_and_one_tail_per_radio_session() -> None:
    ledger = EnergyLedger(_profile())
    first = ledger.add_transfer("upload", 2_000_000, now_s=0.0, link="lte")
    assert first.joules == pytest.approx(20.0 + 10.0)  # 2 MB x 10 J/MB + full tail
    inside = ledger.add_transfer("upload", 1_000_000, now_s=4.0, link="lte")
    assert inside.joules == pytest.approx(10.0 + 4.0)  # tail extended by 4 s only
    later = ledger.add_transfer("upload", 0, now_s=100.0, link="lte")
    assert later.joules == pytest.approx(10.0)
    wifi = ledger.add_transfer("upload", 500_000, now_s=100.0)
    assert wifi.joules == pytest.approx(2.0)
    (total,) = ledger.take()
    assert total.count == 4 and total.nbytes == 3_500_000
    assert total.joules == pytest.approx(30.0 + 14.0 + 10.0 + 2.0)


def test_profile_switch_applies_to_later_work() -> None:
    ledger = EnergyLedger(_profile())
    ledger.add_cpu("motion", 1.0)
    ledger.set_profile(_profile(slowdown=1.0))
    ledger.add_cpu("motion", 1.0)
    (motion,) = ledger.take()
    assert motion.joules == pytest.approx(6.0 + 2.0)
