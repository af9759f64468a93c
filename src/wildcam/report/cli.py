"""``wildcam report BAG``: the day report of a recorded run.

The scene's ground truth, the gateway listing and the baseline default to the files a
``wildcam run`` writes beside its bag (``ground_truth.json``, ``gateway.json``,
``baseline.json`` in the bag's directory or its parent).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["RUN_FILES", "find_beside", "print_summary", "register"]

RUN_FILES = {"truth": "ground_truth.json", "gateway": "gateway.json", "baseline": "baseline.json"}
"""Files a run writes beside its bag, by role."""


def find_beside(bag: Path, name: str) -> Path | None:
    """``name`` inside the bag directory or beside it, if either exists."""
    for candidate in (bag / name, bag.parent / name):
        if candidate.is_file():
            return candidate
    return None


def print_summary(summary: Any) -> None:
    """The summary table as aligned text lines."""
    rows = summary.rows()
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def _report(args: argparse.Namespace) -> int:
    from wildcam.report import build_report, load_run, summarize

    bag = Path(args.bag)
    paths = {
        role: Path(given) if given else find_beside(bag, RUN_FILES[role])
        for role, given in (
            ("truth", args.truth),
            ("gateway", args.gateway),
            ("baseline", args.baseline),
        )
    }
    if paths["truth"] is None:
        print(
            f"wildcam report: no --truth given and no {RUN_FILES['truth']} beside {bag}: "
            "visits are not scored"
        )
    # A missing or broken bag is a WildcamError: ``wildcam`` says so in one line, exit code 2.
    run = load_run(
        bag, paths["truth"], gateway=paths["gateway"], baseline=paths["baseline"], fps=args.fps
    )
    summary = summarize(run)
    page = build_report(run, Path(args.out), summary)
    print(f"wildcam report: {page}")
    print_summary(summary)
    return 0


def register(sub: Any) -> None:
    """Add the ``report`` subcommand to the ``wildcam`` parser's subparsers."""
    rep = sub.add_parser("report", help="write report.html + PNG figures for a recorded run")
    rep.add_argument("bag", help="the run's bag directory")
    rep.add_argument(
        "--truth",
        default="",
        help=f"scene ground-truth JSON (default: {RUN_FILES['truth']} beside the bag)",
    )
    rep.add_argument(
        "--gateway",
        default="",
        help=f"gateway listing JSON (default: {RUN_FILES['gateway']} beside the bag, if any)",
    )
    rep.add_argument(
        "--baseline",
        default="",
        help="always-on baseline JSON (default: "
        f"{RUN_FILES['baseline']} beside the bag, else estimated from the run)",
    )
    rep.add_argument(
        "--fps",
        type=float,
        default=None,
        help="the camera's frame rate (default: the scene's; 10 without truth)",
    )
    rep.add_argument("--out", default="out", help="output directory (default: out/)")
    rep.set_defaults(func=_report)
