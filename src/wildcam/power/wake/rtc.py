"""The RTC wake alarm: Linux ``/sys/class/rtc/rtcN/wakealarm`` plus a halt or suspend command,
and a simulated RTC for time-accelerated runs.

Kernel ABI (``Documentation/ABI/testing/sysfs-class-rtc``; ``drivers/rtc/rtc-sysfs.c``):
``since_epoch`` reads the RTC's time in seconds since the epoch, in the RTC's own time zone
(ideally UTC); ``wakealarm`` reads empty or the alarm time in the same seconds, and writing a
time in the future enables the alarm. Writing a future time while an alarm is already enabled
fails with EBUSY, so the alarm is cleared first by writing a time not in the future (``0``).
The alarm is therefore set in RTC seconds, ``since_epoch + (wake_at - now)``, which holds even
when the RTC runs on local time or has drifted from the system clock; it is read back, because
some RTCs keep only minutes (the alarm then fires up to a minute late) or ignore the write.
"""

from __future__ import annotations

import math
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wildcam.errors import ConfigError, DeviceError
from wildcam.params import check_ranges, param
from wildcam.power.wake.base import Clock, WakeEvent

__all__ = ["RTC_BACKENDS", "CommandRunner", "RtcConfig", "SimulatedRtc", "SysfsRtc", "run_command"]

RTC_BACKENDS = ("rtc", "simulated_rtc")

CommandRunner = Callable[[Sequence[str]], int]
"""Runs a command line (argv) and returns its exit status; tests pass a fake."""


def run_command(argv: Sequence[str]) -> int:
    """Run ``argv`` and return its exit status (a missing program is a :class:`DeviceError`)."""
    try:
        return subprocess.run(list(argv), check=False, timeout=120).returncode
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DeviceError(f"cannot run {shlex.join(argv)}: {err}") from err


@dataclass(frozen=True)
class RtcConfig:
    """Settings of the RTC wake alarm (the power manager's sleep state uses them)."""

    backend: str = param(
        "rtc",
        "RTC wake alarm: the Linux sysfs RTC or a simulated one.",
        choices=RTC_BACKENDS,
        read_only=True,
    )
    sysfs_root: str = param(
        "/sys", "Root of sysfs (tests point it at a fake tree).", read_only=True
    )
    rtc: str = param("rtc0", "RTC device under /sys/class/rtc.", read_only=True)
    sleep_command: str = param(
        "systemctl poweroff",
        "Command that halts or suspends once the alarm is set; "
        "{seconds} and {epoch} are replaced by the time to the alarm and its epoch time, "
        "{batch_s} by how long a power controller may hold PIR bursts before it powers the "
        "device up (e.g. 'rtcwake -m mem -s {seconds}', 'systemctl suspend').",
        read_only=True,
    )
    min_sleep_s: float = param(
        60.0,
        "Shortest sleep worth a halt: an alarm sooner than this "
        "is refused (RTCs with minute alarms; shutdown and boot take "
        "tens of seconds).",
        min=0.0,
        max=86400.0,
        read_only=True,
    )

    def __post_init__(self) -> None:
        check_ranges(self)
        if "/" in self.rtc or not self.rtc:
            raise ConfigError(f"rtc={self.rtc!r} is not a device name like rtc0")
        try:
            words = [
                w.format(seconds=1, epoch=1, batch_s=1) for w in shlex.split(self.sleep_command)
            ]
        except (ValueError, KeyError, IndexError) as err:
            raise ConfigError(
                f"sleep_command {self.sleep_command!r}: {err!r} (only {{seconds}}, "
                f"{{epoch}} and {{batch_s}} are filled in)"
            ) from None
        if not words:
            raise ConfigError("sleep_command is empty")


class SysfsRtc:
    """The Linux RTC class: arm ``wakealarm``, then halt or suspend with ``sleep_command``."""

    name = "rtc"

    def __init__(
        self, config: RtcConfig, clock: Clock = time.time, runner: CommandRunner = run_command
    ) -> None:
        self.config, self.clock, self.runner = config, clock, runner
        self.dir = Path(config.sysfs_root) / "class" / "rtc" / config.rtc
        self._alarm_epoch: int | None = None  # RTC seconds
        self._wake_at_s: float | None = None  # clock seconds

    def _rtc_now(self) -> float:
        """The RTC's own seconds (``since_epoch``), else the clock's."""
        try:
            return float(int((self.dir / "since_epoch").read_text().strip()))
        except (OSError, ValueError):
            return self.clock()

    def _write(self, value: int) -> None:
        path = self.dir / "wakealarm"
        if not path.exists():
            raise DeviceError(
                f"{path} does not exist: no RTC {self.config.rtc} with a wake "
                f"alarm (wrong rtc, or the RTC driver has no alarm support)"
            )
        try:
            path.write_text(f"{value}\n")
        except OSError as err:
            raise DeviceError(f"cannot write {value} to {path}: {err}") from err

    def read_alarm(self) -> int | None:
        """The alarm as the kernel reports it (RTC seconds); ``None`` when none is set (the
        kernel reads empty, a fake tree keeps the ``0`` written to clear it)."""
        try:
            text = (self.dir / "wakealarm").read_text().strip()
        except OSError as err:
            raise DeviceError(f"cannot read {self.dir / 'wakealarm'}: {err}") from err
        try:
            return int(text) or None if text else None
        except ValueError:
            raise DeviceError(f"{self.dir / 'wakealarm'} holds {text!r}, not seconds") from None

    def arm(self, wake_at_s: float | None = None) -> None:
        """Set the alarm for ``wake_at_s`` (clock seconds): clear, write, read back."""
        if wake_at_s is None:
            raise ConfigError("the RTC alarm needs a wake time")
        now = self.clock()
        if wake_at_s - now < self.config.min_sleep_s:
            raise ConfigError(
                f"wake time {wake_at_s:.0f} is {wake_at_s - now:.0f} s away; "
                f"the RTC alarm needs at least min_sleep_s="
                f"{self.config.min_sleep_s:.0f} s"
            )
        alarm = math.ceil(self._rtc_now() + (wake_at_s - now))
        self._write(0)
        self._write(alarm)
        got = self.read_alarm()
        if got is None or not alarm <= got < alarm + 60:  # minute-resolution RTCs round up
            raise DeviceError(f"{self.dir / 'wakealarm'} reads {got} after writing {alarm}")
        self._alarm_epoch, self._wake_at_s = got, wake_at_s + (got - alarm)

    def disarm(self) -> None:
        """Clear the alarm."""
        self._write(0)
        self._alarm_epoch = self._wake_at_s = None

    @property
    def wake_at_s(self) -> float | None:
        """When the armed alarm goes off (clock seconds), or ``None``."""
        return self._wake_at_s

    def sleep(self, batch_s: float = 0.0) -> None:
        """Halt or suspend with the configured command (``batch_s``: the controller's burst
        hold, for ``{batch_s}``); the alarm must be armed."""
        if self._alarm_epoch is None or self._wake_at_s is None:
            raise ConfigError("arm the RTC alarm before sleeping: nothing would wake the trap")
        seconds = max(0, math.ceil(self._wake_at_s - self.clock()))
        argv = [
            word.format(seconds=seconds, epoch=self._alarm_epoch, batch_s=round(batch_s))
            for word in shlex.split(self.config.sleep_command)
        ]
        code = self.runner(argv)
        if code != 0:
            raise DeviceError(f"{shlex.join(argv)} exited with status {code}")

    def poll(self, timeout_s: float = 0.0) -> list[WakeEvent]:
        """After a resume: the alarm's event once its time has passed (never waits)."""
        if self._wake_at_s is None or self.clock() < self._wake_at_s:
            return []
        event = WakeEvent(self._wake_at_s, "rtc")
        self._alarm_epoch = self._wake_at_s = None
        return [event]

    def close(self) -> None:
        """The alarm stays set: it must outlive this process to wake the halted board."""


class SimulatedRtc:
    """An RTC for simulated runs: records the alarm and the sleeps, and says when to wake.

    ``sleep()`` does not stop anything; a simulated graph asks :attr:`sleeping` and
    :attr:`wake_at_s`, or polls until the RTC event comes, and then resumes.
    """

    name = "simulated_rtc"

    def __init__(self, config: RtcConfig | None = None, clock: Clock = time.time) -> None:
        self.config = config or RtcConfig(backend="simulated_rtc")
        self.clock = clock
        self.wake_at_s: float | None = None
        self.sleeping = False
        self.sleeps: list[tuple[float, float]] = []  # (went to sleep, alarm time)
        self.batch_s = 0.0  # the burst hold of the last sleep

    def arm(self, wake_at_s: float | None = None) -> None:
        """Record the alarm (the same checks as the real RTC)."""
        if wake_at_s is None:
            raise ConfigError("the RTC alarm needs a wake time")
        if wake_at_s - self.clock() < self.config.min_sleep_s:
            raise ConfigError(
                f"wake time is less than min_sleep_s={self.config.min_sleep_s:.0f} s away"
            )
        self.wake_at_s = wake_at_s

    def disarm(self) -> None:
        """Forget the alarm."""
        self.wake_at_s = None

    def sleep(self, batch_s: float = 0.0) -> None:
        """Enter the simulated sleep (recording the controller's burst hold); the alarm must be
        armed."""
        if self.wake_at_s is None:
            raise ConfigError("arm the RTC alarm before sleeping: nothing would wake the trap")
        self.sleeping, self.batch_s = True, batch_s
        self.sleeps.append((self.clock(), self.wake_at_s))

    def poll(self, timeout_s: float = 0.0) -> list[WakeEvent]:
        """The alarm's event once the clock has reached it; the sleep ends there."""
        if self.wake_at_s is None or self.clock() < self.wake_at_s:
            return []
        event = WakeEvent(self.wake_at_s, "rtc")
        self.wake_at_s, self.sleeping = None, False
        return [event]

    def close(self) -> None:
        """Nothing to free."""
