"""Wake sources against fakes: the RTC on a fake sysfs tree with a fake command runner, the PIR
through a fake ``gpiod.request_lines`` (no /dev/gpiochip here) with the real gpiod types."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import gpiod
import pytest
from gpiod.line import Bias, Clock, Edge

from wildcam.errors import ConfigError, DeviceError
from wildcam.power.wake import (
    GpiodPir,
    HoldOff,
    PirConfig,
    RtcConfig,
    SimulatedPir,
    SimulatedRtc,
    SysfsRtc,
    WakeEvent,
    make_wake_source,
)
from wildcam.power.wake.pir import edge_time_s, parse_edges

NOW = 1_800_000_000.0


class FakeClock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def rtc_tree(root: Path, since_epoch: int | None) -> Path:
    rtc = root / "class" / "rtc" / "rtc0"
    rtc.mkdir(parents=True)
    (rtc / "wakealarm").write_text("\n")
    if since_epoch is not None:
        (rtc / "since_epoch").write_text(f"{since_epoch}\n")
    return rtc


def test_rtc_alarm_is_set_in_rtc_seconds_and_the_halt_command_gets_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The RTC runs 3600 s ahead of the system clock (local time zone): the alarm follows it.
    rtc = rtc_tree(tmp_path, int(NOW) + 3600)
    writes: list[str] = []
    real_write = Path.write_text

    def spy(path: Path, text: str, *a: Any, **k: Any) -> int:
        if path.name == "wakealarm":
            writes.append(text.strip())
        return real_write(path, text, *a, **k)

    commands: list[list[str]] = []
    clock = FakeClock()
    config = RtcConfig(
        sysfs_root=str(tmp_path),
        sleep_command="rtcwake -m mem -s {seconds} --note {epoch} --hold {batch_s}",
    )
    source = SysfsRtc(config, clock, runner=lambda argv: commands.append(list(argv)) or 0)
    monkeypatch.setattr(Path, "write_text", spy)
    source.arm(NOW + 600.4)
    monkeypatch.undo()
    alarm = int(NOW) + 3600 + 601
    assert writes == ["0", str(alarm)]  # cleared first (EBUSY otherwise)
    assert (rtc / "wakealarm").read_text().strip() == str(alarm)
    assert source.wake_at_s == pytest.approx(NOW + 600.4)
    clock.t += 0.4
    source.sleep(batch_s=239.6)
    assert commands == [
        ["rtcwake", "-m", "mem", "-s", "600", "--note", str(alarm), "--hold", "240"]
    ]
    assert source.poll() == []
    clock.t = NOW + 601
    assert source.poll() == [WakeEvent(NOW + 600.4, "rtc")]
    assert source.poll() == []
    source.disarm()
    assert source.read_alarm() is None


def test_rtc_without_since_epoch_uses_the_clock(tmp_path: Path) -> None:
    rtc_tree(tmp_path, None)
    source = make_wake_source(RtcConfig(sysfs_root=str(tmp_path)), FakeClock())
    source.arm(NOW + 120)
    assert isinstance(source, SysfsRtc) and source.read_alarm() == int(NOW) + 120


def test_rtc_refusals_are_clear_errors(tmp_path: Path) -> None:
    clock = FakeClock()
    with pytest.raises(DeviceError, match="does not exist"):
        SysfsRtc(RtcConfig(sysfs_root=str(tmp_path)), clock).arm(NOW + 600)
    rtc = rtc_tree(tmp_path, int(NOW))
    source = SysfsRtc(RtcConfig(sysfs_root=str(tmp_path)), clock, runner=lambda argv: 1)
    with pytest.raises(ConfigError, match="min_sleep_s"):
        source.arm(NOW + 5)
    with pytest.raises(ConfigError, match="arm the RTC"):
        source.sleep()
    source.arm(NOW + 600)
    with pytest.raises(DeviceError, match="exited with status 1"):
        source.sleep()
    # A write the kernel refuses (here ENOSPC from /dev/full) and an alarm that reads back
    # otherwise (an RTC that ignores it: /dev/null reads empty) are device errors.
    (rtc / "wakealarm").unlink()
    os.symlink("/dev/full", rtc / "wakealarm")
    with pytest.raises(DeviceError, match="cannot write"):
        source.arm(NOW + 600)
    (rtc / "wakealarm").unlink()
    os.symlink("/dev/null", rtc / "wakealarm")
    with pytest.raises(DeviceError, match="reads None"):
        source.arm(NOW + 600)
    with pytest.raises(ConfigError):
        RtcConfig(rtc="../rtc0")
    for bad in ("  ", "rtcwake -s {minutes}", "echo {", "sh -c 'echo \""):
        with pytest.raises(ConfigError, match="sleep_command"):
            RtcConfig(sleep_command=bad)


def test_simulated_rtc_records_the_sleep_and_says_when_to_wake() -> None:
    clock = FakeClock()
    rtc = make_wake_source(RtcConfig(backend="simulated_rtc", min_sleep_s=0.0), clock)
    assert isinstance(rtc, SimulatedRtc)
    with pytest.raises(ConfigError):
        rtc.sleep()
    rtc.arm(NOW + 30)
    rtc.sleep()
    assert rtc.sleeping and rtc.wake_at_s == NOW + 30 and rtc.sleeps == [(NOW, NOW + 30)]
    clock.t = NOW + 29
    assert rtc.poll() == [] and rtc.sleeping
    clock.t = NOW + 31
    assert rtc.poll() == [WakeEvent(NOW + 30, "rtc")] and not rtc.sleeping


class FakeRequest:
    """A libgpiod LineRequest with queued edge events."""

    def __init__(self, events: list[gpiod.EdgeEvent]) -> None:
        self.events = events
        self.released = False
        self.waits: list[float] = []

    def wait_edge_events(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return bool(self.events)

    def read_edge_events(self) -> list[gpiod.EdgeEvent]:
        events, self.events = self.events, []
        return events

    def release(self) -> None:
        self.released = True


def edge(rising: bool, ns: int, seqno: int = 1) -> gpiod.EdgeEvent:
    kind = gpiod.EdgeEvent.Type.RISING_EDGE if rising else gpiod.EdgeEvent.Type.FALLING_EDGE
    return gpiod.EdgeEvent(kind.value, ns, 17, seqno, seqno)


def test_gpiod_pir_requests_the_line_and_stamps_edges_on_the_callers_clock() -> None:
    calls: list[tuple[str, str, dict[Any, gpiod.LineSettings]]] = []
    request = FakeRequest([edge(True, 9_000_000_000), edge(False, 9_500_000_000, 2)])

    def request_lines(path: str, consumer: str, config: dict[Any, gpiod.LineSettings]) -> Any:
        calls.append((path, consumer, config))
        return request

    config = PirConfig(
        chip="/dev/gpiochip4", line="23", bias="pull_up", active_low=True, debounce_ms=20.0
    )
    pir = GpiodPir(
        config, clock=FakeClock(), request_lines=request_lines, monotonic_ns=lambda: 10_000_000_000
    )
    assert pir.poll(0.1) == []  # not armed yet
    pir.arm()
    pir.arm()  # once
    ((path, consumer, lines),) = calls
    settings = lines[23]
    assert path == "/dev/gpiochip4" and consumer == "wildcam-pir"
    assert settings.edge_detection == Edge.BOTH and settings.bias == Bias.PULL_UP
    assert settings.active_low and settings.debounce_period == timedelta(milliseconds=20)
    assert settings.event_clock == Clock.MONOTONIC
    events = pir.poll(0.25)
    assert request.waits == [0.25]
    # Edges 1.0 s and 0.5 s before the monotonic "now" land 1.0 s and 0.5 s before the clock.
    assert events == [
        WakeEvent(pytest.approx(NOW - 1.0), "pir", True),
        WakeEvent(pytest.approx(NOW - 0.5), "pir", False),
    ]
    assert pir.poll(0.0) == []
    pir.close()
    assert request.released and pir.poll(0.0) == []


def test_gpiod_pir_line_names_rising_only_and_a_missing_chip() -> None:
    seen: list[Any] = []

    def request_lines(path: str, consumer: str, config: dict[Any, gpiod.LineSettings]) -> Any:
        seen.extend(config.items())
        raise FileNotFoundError(2, "No such file or directory")

    pir = GpiodPir(PirConfig(line="GPIO17", both_edges=False), request_lines=request_lines)
    with pytest.raises(DeviceError, match="cannot request PIR line GPIO17 on /dev/gpiochip0"):
        pir.arm()
    assert seen[0][0] == "GPIO17" and seen[0][1].edge_detection == Edge.RISING


def test_edge_time_conversion() -> None:
    assert edge_time_s(5_000_000_000, 7_000_000_000, 100.0) == pytest.approx(98.0)


def test_hold_off_drops_retriggers_and_their_falling_edges() -> None:
    hold = HoldOff(2.0)
    seq = [(0.0, True), (1.0, False), (1.5, True), (1.8, False), (2.5, True), (3.0, False)]
    kept = [(t, a) for t, a in seq if hold.accept(WakeEvent(t, "pir", a))]
    assert kept == [(0.0, True), (1.0, False), (2.5, True), (3.0, False)]
    assert not HoldOff(0.0).accept(WakeEvent(0.0, "pir", False))  # a pulse never seen starting


def test_simulated_pir_reports_due_edges_only_while_armed() -> None:
    clock = FakeClock(100.0)
    pir = SimulatedPir(clock, [(101.0, True), (103.0, False)])
    pir.push(102.0, True)
    assert pir.poll() == []  # disarmed: nothing, nothing due
    pir.arm()
    clock.t = 102.5
    assert pir.poll() == [WakeEvent(101.0, "pir"), WakeEvent(102.0, "pir")]
    pir.disarm()
    clock.t = 104.0
    assert pir.poll() == []  # dropped while disarmed
    # Configured edges count from the first nonzero clock reading (a simulated clock reads 0
    # until its first /clock).
    sim = FakeClock(0.0)
    source = make_wake_source(PirConfig(backend="simulated_pir", simulated_edges="1-2, 0.5"), sim)
    source.arm()
    assert source.poll() == []
    sim.t = 10.0
    assert source.poll() == []
    sim.t = 11.5
    assert source.poll() == [WakeEvent(10.5, "pir"), WakeEvent(11.0, "pir")]
    sim.t = 12.0
    assert source.poll() == [WakeEvent(12.0, "pir", False)]


def test_simulated_edge_text() -> None:
    assert parse_edges(" 5-8, 20 ,") == [(5.0, True), (8.0, False), (20.0, True)]
    for bad in ("x", "5-4", "-1", "3-a"):
        with pytest.raises(ConfigError):
            PirConfig(simulated_edges=bad)


def test_rtc_sleep_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wildcam.cli import main

    rtc = rtc_tree(tmp_path, None)
    marker = tmp_path / "halted"
    argv = [
        "rtc-sleep",
        "600",
        "--sysfs-root",
        str(tmp_path),
        "--command",
        f"touch {marker}-{{seconds}}",
    ]
    assert main([*argv, "--dry-run"]) == 0
    assert "would write 0" in capsys.readouterr().out
    assert (rtc / "wakealarm").read_text().strip() == "" and not list(tmp_path.glob("halted*"))
    assert main(argv) == 0
    alarm = int((rtc / "wakealarm").read_text())
    assert 598 <= alarm - time.time() <= 602  # armed against the wall clock
    assert [p.name for p in tmp_path.glob("halted*")] in (["halted-600"], ["halted-599"])
    assert main(["rtc-sleep", "10", "--sysfs-root", str(tmp_path)]) == 2
    assert "less than --min-sleep" in capsys.readouterr().err
