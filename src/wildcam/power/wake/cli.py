"""``wildcam rtc-sleep``: arm the RTC wake alarm and halt or suspend, as the power manager's sleep
state does; for checking a trap's wake path by hand. ``--dry-run`` arms nothing and halts
nothing, it prints what would be written and run."""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Sequence
from typing import Any

from wildcam.errors import ConfigError
from wildcam.power.wake.rtc import RtcConfig, SysfsRtc, run_command

__all__ = ["register"]


def _rtc_sleep(args: argparse.Namespace) -> int:
    config = RtcConfig(
        sysfs_root=args.sysfs_root,
        rtc=args.rtc,
        sleep_command=args.sleep_command,
        min_sleep_s=args.min_sleep,
    )
    if args.seconds < config.min_sleep_s:
        raise ConfigError(
            f"{args.seconds:.0f} s is less than --min-sleep {config.min_sleep_s:.0f} s"
        )
    wake_at = time.time() + args.seconds
    if args.dry_run:
        print(
            f"would write 0, then the alarm for {time.ctime(wake_at)} to "
            f"{SysfsRtc(config).dir / 'wakealarm'}, then run: {config.sleep_command}"
        )
        return 0
    rtc = SysfsRtc(config, runner=_announce_and_run)
    rtc.arm(wake_at)
    print(
        f"RTC {config.rtc} alarm set: {rtc.read_alarm()} (RTC seconds), wakes at "
        f"{time.ctime(rtc.wake_at_s or wake_at)}",
        flush=True,
    )
    rtc.sleep()
    return 0


def _announce_and_run(argv: Sequence[str]) -> int:
    print(f"running: {shlex.join(argv)}", flush=True)
    return run_command(argv)


def register(sub: Any) -> None:
    """Add ``rtc-sleep`` to the ``wildcam`` subcommands."""
    p = sub.add_parser(
        "rtc-sleep",
        help="arm the RTC wake alarm SECONDS from now, then halt or "
        "suspend (checks a trap's wake path; needs write access to wakealarm)",
    )
    p.add_argument("seconds", type=float, help="seconds until the alarm")
    p.add_argument(
        "--command",
        dest="sleep_command",
        default=RtcConfig.sleep_command,
        help="halt or suspend command; {seconds} and {epoch} are filled in (default: %(default)s)",
    )
    p.add_argument("--rtc", default=RtcConfig.rtc, help="RTC device (default: %(default)s)")
    p.add_argument("--sysfs-root", default=RtcConfig.sysfs_root, help=argparse.SUPPRESS)
    p.add_argument(
        "--min-sleep",
        type=float,
        default=RtcConfig.min_sleep_s,
        help="refuse alarms sooner than this (default: %(default)s s)",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would happen, do nothing")
    p.set_defaults(func=_rtc_sleep)
