"""``wildcam power-sim``: the power policy against a simulated battery for days, in milliseconds.

Prints the mode timeline (time, mode, the level the policy acted on, reason) and the hours spent
in each mode; ``--json`` prints the same as JSON. Useful to tune ``config/power_policy.yaml``
before a trap goes out.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from wildcam.power.battery import Environment, parse_windows
from wildcam.power.policy import MODES, load_policy
from wildcam.power.profile import DEFAULT_PROFILE, load_profile
from wildcam.power.simulate import DEFAULT_MODE_LOAD_W, Scenario, simulate

__all__ = ["register"]


def _power_sim(args: argparse.Namespace) -> int:
    scenario = Scenario(
        environment=Environment(
            solar_peak_w=args.solar_peak_w,
            sunrise_h=args.sunrise,
            sunset_h=args.sunset,
            chargers=parse_windows(args.chargers),
            ambient_mean_c=args.ambient_c,
            ambient_amplitude_c=args.ambient_swing_c,
        ),
        capacity_wh=args.capacity_wh,
        initial_soc=args.soc,
        idle_w=load_profile(args.profile).idle_w,
        start_s=args.start_hour * 3600.0,
        hours=args.hours,
        gauge_noise=args.noise,
        mode_load_w={**DEFAULT_MODE_LOAD_W, **dict(args.load)},
    )
    result = simulate(load_policy(args.policy).policy, scenario)
    rows = [
        {
            "hour": round((c.t_s - scenario.start_s) / 3600.0, 2),
            "mode": c.mode,
            "battery": round(c.battery, 3),
            "reason": c.reason,
        }
        for c in result.changes
    ]
    hours = {k: round(v, 2) for k, v in result.time_in_mode_h().items()}
    if args.json:
        print(json.dumps({"changes": rows, "hours_in_mode": hours}, indent=2))
        return 0
    for row in rows:
        print(f"{row['hour']:7.2f} h  {row['mode']:<10} {row['battery']:6.1%}  {row['reason']}")
    print("hours in mode: " + ", ".join(f"{k} {v:.1f}" for k, v in hours.items()))
    return 0


def _load(text: str) -> tuple[str, float]:
    mode, _, watts = text.partition("=")
    try:
        if mode not in MODES or float(watts) < 0:
            raise ValueError(text)
        return mode, float(watts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected MODE=WATTS with MODE one of {', '.join(MODES)}, got {text!r}"
        ) from None


def register(sub: Any) -> None:
    """Add ``power-sim`` and ``lifetime`` to the ``wildcam`` subcommands."""
    from wildcam.power.lifetime_cli import register as register_lifetime

    register_lifetime(sub)
    p = sub.add_parser(
        "power-sim",
        help="run the power policy against a simulated battery "
        "(solar, chargers, ambient) for days and print the mode timeline",
    )
    p.add_argument("--hours", type=float, default=48.0, help="hours to simulate (default 48)")
    p.add_argument("--start-hour", type=float, default=18.0, help="local hour of the start")
    p.add_argument(
        "--capacity-wh",
        type=float,
        default=40.0,
        help="battery capacity in watt-hours (default 40)",
    )
    p.add_argument("--soc", type=float, default=0.5, help="state of charge at the start")
    p.add_argument(
        "--solar-peak-w",
        type=float,
        default=25.0,
        help="solar panel output at noon in watts (default 25; 0: no panel)",
    )
    p.add_argument("--sunrise", type=float, default=6.0, help="local hour of sunrise (default 6)")
    p.add_argument("--sunset", type=float, default=20.0, help="local hour of sunset (default 20)")
    p.add_argument(
        "--chargers",
        default="",
        help="charger windows and their power, e.g. "
        "'22:00-06:00@5' (several separated by commas; default: none)",
    )
    p.add_argument(
        "--ambient-c", type=float, default=12.0, help="mean air temperature in deg C (default 12)"
    )
    p.add_argument(
        "--ambient-swing-c",
        type=float,
        default=8.0,
        help="day/night temperature swing around the mean in deg C (default 8)",
    )
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="power profile (idle power)")
    p.add_argument("--policy", default="", help="policy file (default: the package's)")
    p.add_argument("--noise", type=float, default=0.0, help="gauge noise (std. dev., 0..1)")
    p.add_argument(
        "--load",
        action="append",
        default=[],
        metavar="MODE=WATTS",
        type=_load,
        help="power above idle in a mode (default: "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_MODE_LOAD_W.items())
        + ")",
    )
    p.add_argument(
        "--json", action="store_true", help="print the timeline and hours in each mode as JSON"
    )
    p.set_defaults(func=_power_sim)
