"""Power profiles and the energy ledger, without ROS."""

from __future__ import annotations

import pytest

from wildcam.errors import ConfigError
from wildcam.power.energy import EnergyLedger
from wildcam.power.profile import (
    CAPTURE_BASIS_FPS,
    PROFILE_NAMES,
    LinkProfile,
    PowerProfile,
    PowerStates,
    load_profile,
)


def _states(**changes: object) -> PowerStates:
    values: dict[str, object] = dict(
        off_w=0.01,
        suspend_w=None,
        idle_w=1.0,
        camera_standby_w=0.1,
        camera_streaming_w=0.25,
        ir_w=1.0,
        boot_s=20.0,
        boot_j=40.0,
        resume_s=20.0,
        resume_j=40.0,
        shutdown_s=5.0,
        shutdown_j=5.0,
        wake_sources=("rtc",),
        sleep_kind="halt",
    )
    values.update(changes)
    return PowerStates(**values)  # type: ignore[arg-type]


def _profile(**changes: object) -> PowerProfile:
    values: dict[str, object] = dict(
        name="t",
        states=_states(camera_streaming_w=5.0),
        active_core_w=2.0,
        slowdown=3.0,
        capture_j_per_frame=0.5,
        links={"wifi": LinkProfile(4.0), "lte": LinkProfile(10.0, tail_s=10.0, tail_w=1.0)},
        upload_link="wifi",
    )
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


def test_every_profile_describes_the_whole_device_in_its_power_states() -> None:
    assert {"rpi4b", "pizero2w", "rpi5", "pizero2w_mcu"} <= set(PROFILE_NAMES)
    for name in PROFILE_NAMES:
        p = load_profile(name)
        s = p.states
        assert p.idle_w == s.idle_w
        assert 0 <= s.off_w < s.idle_w and s.boot_j > 0 and s.boot_s > 0 and s.shutdown_j > 0
        assert s.suspend_w is None and (s.resume_s, s.resume_j) == (s.boot_s, s.boot_j)
        # the camera is counted once: the per-frame figure is the streaming power per frame
        assert p.capture_j_per_frame * CAPTURE_BASIS_FPS == pytest.approx(s.camera_streaming_w)
        assert s.warm_w == pytest.approx(s.idle_w + s.camera_streaming_w)
    pi4, pi5, mcu = load_profile("rpi4b"), load_profile("rpi5"), load_profile("pizero2w_mcu")
    # the Pi 4B has no RTC: nothing wakes it at a set time; the Pi 5's RTC alarm does
    assert not pi4.states.can_sleep and pi4.states.can_watch
    assert pi5.states.can_sleep and "rtc" in pi5.states.wake_sources
    assert pi5.states.off_w <= 0.01 < pi4.states.off_w  # POWER_OFF_ON_HALT=1 vs default
    assert not pi5.states.pir_wakes_from_off
    # the controller-switched Zero sleeps at sub-milliwatt and wakes on a PIR edge
    assert mcu.states.sleep_kind == "power_cut" and mcu.states.pir_wakes_from_off
    assert mcu.states.off_w < 0.001 and mcu.idle_w == load_profile("pizero2w").idle_w


def test_every_profile_constant_has_a_source_or_is_an_assumption() -> None:
    """Each number of the states section carries a comment or follows one closely (its source
    or ASSUMPTION): the house rule on constants."""
    from wildcam.power.profile import profile_dir

    for name in PROFILE_NAMES:
        lines = (profile_dir() / f"{name}.yaml").read_text().splitlines()
        inside = False
        for i, line in enumerate(lines):
            if line.startswith("states:"):
                inside = True
                continue
            if inside and line and not line.startswith(" "):
                break
            value = line.split("#")[0].partition(":")[2].strip()
            if inside and value.replace(".", "", 1).isdigit():
                commented = (
                    "#" in line
                    or lines[i - 1].strip().startswith("#")
                    or any(lines[j].strip().startswith("#") for j in range(max(0, i - 3), i))
                )
                assert commented, f"{name}.yaml: {line.strip()} has no source comment"


def test_power_states_validation() -> None:
    _states()  # valid
    with pytest.raises(ConfigError, match="wake_sources"):
        _states(wake_sources=("moon",))
    with pytest.raises(ConfigError, match="sleep_kind"):
        _states(sleep_kind="hibernate")
    with pytest.raises(ConfigError, match="suspend_w"):
        _states(sleep_kind="suspend")
    with pytest.raises(ConfigError, match="resume"):
        _states(resume_s=1.0)
    with pytest.raises(ConfigError, match="off_w <= suspend_w"):
        _states(off_w=2.0)
    with pytest.raises(ConfigError, match="boot_j"):
        _states(boot_j=-1.0)
    suspend = _states(sleep_kind="suspend", suspend_w=0.3, resume_s=2.0, resume_j=3.0)
    assert suspend.resume_j == 3.0
    with pytest.raises(ConfigError, match="counted once"):
        _profile(capture_j_per_frame=0.1)
    with pytest.raises(ConfigError, match="states"):
        PowerProfile.from_mapping(
            {
                "name": "x",
                "active_core_w": 1.0,
                "slowdown": 1.0,
                "capture_j_per_frame": 0.025,
                "upload_link": "wifi",
                "links": {"wifi": {"j_per_mb": 1.0}},
                "states": {"idle_w": 1.0},
            }
        )


@pytest.mark.parametrize("name", ["nope", "../rpi4b", "RPI4B"])
def test_unknown_or_unsafe_profile_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        load_profile(name)


def test_profile_validation() -> None:
    with pytest.raises(ConfigError, match="upload_link"):
        _profile(upload_link="satellite")
    with pytest.raises(ConfigError, match="slowdown"):
        _profile(slowdown=-1.0)
    with pytest.raises(ConfigError):
        PowerProfile.from_mapping({"name": "x", "states": {}, "bogus": 3, "links": {}})


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


def test_readme_power_states_table_is_generated_from_the_profiles() -> None:
    from pathlib import Path

    from wildcam.power.profile import states_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    begin, end = "<!-- power-states:begin -->\n", "<!-- power-states:end -->"
    table = readme.split(begin, 1)[1].split(end, 1)[0]
    assert table == states_markdown(), "regenerate: wildcam lifetime --states-table"
    assert "| off_w |" in table and "`pizero2w_mcu`" in table
