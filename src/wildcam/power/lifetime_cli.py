"""``wildcam lifetime``: how long a trap lasts at a site, and what each policy costs in capture.

Runs :func:`wildcam.power.lifetime.simulate` for one policy, or for every policy with
``--policy all`` (the Pareto of capture against lifetime), prints the figures and where every
constant came from, and with ``--plot DIR`` draws the state of charge over the year and the
Pareto figure as PNGs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from wildcam.errors import ConfigError
from wildcam.power.cells import BATTERIES
from wildcam.power.lifetime import (
    DIEL_PATTERNS,
    POLICIES,
    SHIPPED,
    Activity,
    LifetimeResult,
    constants_table,
    scenario,
    simulate,
)
from wildcam.power.profile import PROFILE_NAMES
from wildcam.power.solar import DEFAULT_CLEARNESS_52N, SolarConfig

__all__ = ["register"]

HELP = """\
Simulate a deployment day by day (a year in about a second) and print: days until the battery is
empty (or energy-neutral), events captured and missed with the reason (asleep, waking, pir
miss, power mode, battery empty), capture-to-alert latency, joules per captured event, bytes
per week, and the source of every constant.

Energy per warm second and per event comes from what the real graph measured
(bench/results/energy.json, from bench/energy.py), wake latencies from bench/results/wake.json
when it exists (else marked ASSUMPTION), the device's power states from its profile
(config/power_profiles/<name>.yaml). The policies are the real state and mode policy code.
On a controller-switched profile (pizero2w_mcu) the controller captures a burst on the PIR edge
while the SoC boots and holds bursts as long as the state policy says: --batch-s within the
lifetime budget (--target-days), --over-budget-batch-s over it, so close visits share a boot.
"""


def _clearness(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 12 comma-separated numbers, got {text!r}"
        ) from None
    if len(values) != 12:
        raise argparse.ArgumentTypeError(
            f"expected 12 monthly values (January first), got {len(values)}"
        )
    return values


def _date(text: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _pir_share(args: argparse.Namespace) -> dict[str, Any]:
    """The PIR share and its source: measured from a bag, given, or the ASSUMPTION default."""
    if args.pir_share_from:
        if args.pir_share is not None:
            raise ConfigError("give --pir-share or --pir-share-from, not both")
        from wildcam.report.pir import measure_pir_share

        share, source = measure_pir_share(args.pir_share_from, args.pir_slack_s)
        return {"pir_share": share, "pir_share_source": source}
    if args.pir_share is not None:
        return {"pir_share": args.pir_share, "pir_share_source": "scenario input (--pir-share)"}
    return {}


def _run(args: argparse.Namespace, policy: str) -> tuple[Any, LifetimeResult]:
    sc = scenario(
        args.profile,
        policy,
        burst_on_wake=args.burst_on_wake,
        batch_s=args.batch_s,
        over_budget_batch_s=args.over_budget_batch_s,
        schedule=args.schedule,
        target_days=args.target_days or args.days,
        warm_hold_s=args.warm_hold_s,
        utc_offset_h=args.utc_offset,
        battery=args.battery,
        days=args.days,
        start=args.start,
        initial_soc=args.soc,
        activity=Activity(
            events_per_day=args.events_per_day,
            pattern=args.pattern,
            visit_median_s=args.visit_median_s,
            **_pir_share(args),
            seed=args.seed,
        ),
        solar=SolarConfig(
            latitude=args.lat,
            longitude=args.lon,
            panel_w=args.panel_w,
            tilt_deg=args.tilt,
            azimuth_deg=args.azimuth,
            controller_efficiency=args.controller_efficiency,
            clearness=args.clearness,
            seed=args.seed,
        ),
        results_dir=Path(args.results) if args.results else None,
    )
    return sc, simulate(sc)


def _lifetime(args: argparse.Namespace) -> int:
    if args.states_table:
        from wildcam.power.profile import states_markdown

        print(states_markdown(), end="")
        return 0
    policies = POLICIES if args.policy == "all" else (args.policy,)
    runs = {p: _run(args, p) for p in policies}  # a ConfigError: one line on stderr, exit 2
    first_sc, first = next(iter(runs.values()))
    constants = constants_table(first_sc, first)
    if args.json:
        print(
            json.dumps(
                {
                    "runs": {p: r.summary() for p, (_, r) in runs.items()},
                    "constants": {
                        k: {"value": c.value, "source": c.source} for k, c in constants.items()
                    },
                },
                indent=2,
            )
        )
    else:
        for policy, (sc, r) in runs.items():
            life = (
                f"energy-neutral over {r.days_simulated} days"
                if r.energy_neutral
                else f"{r.days_until_empty:.0f} days until empty"
            )
            print(
                f"{policy:<12} {sc.profile} burst={sc.burst_on_wake}: {life}; captured "
                f"{r.captured}/{r.events} events ({r.capture_share_alive:.2f} of an "
                f"always-warm trap while alive), median alert {r.alert_percentile_s(50):.0f} s "
                f"(p95 {r.alert_percentile_s(95):.0f} s), {r.j_per_captured_event:.0f} J per "
                f"captured event, {r.bytes_per_week / 1e6:.1f} MB/week"
            )
            print("             missed: " + ", ".join(f"{k} {v}" for k, v in r.missed.items()))
        print("\nconstants:")
        for name, c in constants.items():
            print(f"  {name:<36} {c.value:<10.4g} {c.source}")
    if args.plot:
        from wildcam.power.lifetime_plot import plot_pareto, plot_soc

        out = Path(args.plot)
        soc = plot_soc({p: r for p, (_, r) in runs.items()}, args.start, out / "lifetime_soc.png")
        points = [
            (
                sc.profile,
                p,
                r.days_until_empty or r.days_simulated,
                r.capture_share_alive,
                r.energy_neutral,
            )
            for p, (sc, r) in runs.items()
        ]
        pareto = plot_pareto(points, args.days, out / "lifetime_pareto.png")
        print(f"figures: {soc} {pareto}")
    return 0


def register(sub: Any) -> None:
    """Add ``lifetime`` to the ``wildcam`` subcommands."""
    p = sub.add_parser(
        "lifetime",
        help="simulate a deployment for a year: days until empty, "
        "events captured and missed, alert latency, per policy",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("device")
    g.add_argument(
        "--profile",
        default=SHIPPED["profile"],
        choices=PROFILE_NAMES,
        help="power profile with its power states (default: %(default)s)",
    )
    g.add_argument(
        "--burst-on-wake",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the power controller captures a burst on the PIR edge while the SoC "
        "boots (default: where the profile's PIR powers it up)",
    )
    g.add_argument(
        "--batch-s",
        type=float,
        default=SHIPPED["batch_s"],
        help="with --burst-on-wake: the controller holds bursts up to this long so "
        "close visits share one boot (default %(default)s: alerts within 300 s)",
    )
    g.add_argument(
        "--over-budget-batch-s",
        type=float,
        default=SHIPPED["over_budget_batch_s"],
        help="the same while the state policy is over the lifetime budget (pir_wake, "
        "adaptive) or the battery is low (default %(default)s: Sentinel's 12 h "
        "batch period)",
    )
    g.add_argument(
        "--results",
        default="",
        metavar="DIR",
        help="where energy.json and wake.json are (default: bench/results)",
    )
    g = p.add_argument_group("policy")
    g.add_argument(
        "--policy",
        default=SHIPPED["policy"],
        choices=(*POLICIES, "all"),
        help="always_warm | pir_wake (rest asleep or in watch, PIR wakes) | "
        "scheduled (warm in the windows, asleep outside) | adaptive (scheduled, "
        "resting lower when over the lifetime budget) | all: every one, for the "
        "Pareto (default: %(default)s)",
    )
    g.add_argument(
        "--schedule",
        default="18:00-07:00",
        help="active windows, local time (scheduled, adaptive; default %(default)s)",
    )
    g.add_argument("--utc-offset", type=float, default=0.0, help="local time - UTC in hours")
    g.add_argument(
        "--target-days",
        type=float,
        default=0.0,
        help="lifetime target of the pir_wake and adaptive policies (default: --days)",
    )
    g.add_argument(
        "--warm-hold-s",
        type=float,
        default=60.0,
        help="stay warm this long after a trigger (default %(default)s)",
    )
    g = p.add_argument_group("battery")
    g.add_argument(
        "--battery",
        default="li18650x7",
        choices=tuple(BATTERIES),
        help="preset (sources in wildcam/power/cells.py; default %(default)s)",
    )
    g.add_argument("--soc", type=float, default=1.0, help="state of charge at the start")
    g = p.add_argument_group("animal activity (seeded)")
    g.add_argument(
        "--events-per-day",
        type=float,
        default=17.0,
        help="mean visits a day, Poisson (default %(default)s: Whytock et al. 2021)",
    )
    g.add_argument(
        "--pattern",
        default="nocturnal",
        choices=tuple(DIEL_PATTERNS),
        help="diel pattern (default %(default)s)",
    )
    g.add_argument(
        "--visit-median-s",
        type=float,
        default=20.0,
        help="median visit length, log-normal (ASSUMPTION default %(default)s)",
    )
    g.add_argument(
        "--pir-share",
        type=float,
        help="share of the visits the camera sees that the PIR also sees (ASSUMPTION "
        "default 0.9; it caps the capture of every PIR-woken policy)",
    )
    g.add_argument(
        "--pir-share-from",
        metavar="BAG",
        help="measure the PIR share from a bag recorded with the camera warm and pir_trigger "
        "on (motion, detection, power state and trigger topics; see wildcam.report.pir)",
    )
    g.add_argument(
        "--pir-slack-s",
        type=float,
        default=5.0,
        help="with --pir-share-from: a trigger this close to a motion event counts as the "
        "PIR seeing it (default %(default)s s)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of activity and clouds")
    g = p.add_argument_group("solar harvest (pvlib clear sky x seeded clouds)")
    g.add_argument("--panel-w", type=float, default=0.0, help="panel rated watts (0 = none)")
    g.add_argument("--lat", type=float, default=52.0, help="site latitude")
    g.add_argument("--lon", type=float, default=0.0, help="site longitude")
    g.add_argument(
        "--tilt",
        type=float,
        default=60.0,
        help="panel tilt in degrees (default %(default)s: latitude + ~10, winter)",
    )
    g.add_argument("--azimuth", type=float, default=180.0, help="panel azimuth (180 = south)")
    g.add_argument(
        "--controller-efficiency",
        type=float,
        default=0.8,
        help="panel to stored energy (ASSUMPTION default %(default)s)",
    )
    g.add_argument(
        "--clearness",
        type=_clearness,
        default=DEFAULT_CLEARNESS_52N,
        help="12 monthly clearness values (measured / clear-sky), January first "
        "(ASSUMPTION default: ~52N western Europe)",
    )
    g = p.add_argument_group("run")
    g.add_argument("--days", type=int, default=365, help="days to simulate")
    g.add_argument(
        "--start",
        type=_date,
        default=_date("2026-11-01"),
        help="first day, YYYY-MM-DD (default %(default)s)",
    )
    g.add_argument(
        "--plot", metavar="DIR", help="write lifetime_soc.png and lifetime_pareto.png there"
    )
    g.add_argument("--json", action="store_true", help="print the figures as JSON")
    g.add_argument(
        "--states-table",
        action="store_true",
        help="print the profiles' power states as the README's Markdown table",
    )
    p.set_defaults(func=_lifetime)
