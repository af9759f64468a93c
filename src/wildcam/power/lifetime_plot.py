"""Figures of the lifetime model: state of charge over the year, and capture against lifetime.

matplotlib (Agg) is imported here only, so node processes never load it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from wildcam.power.lifetime import LifetimeResult

__all__ = ["plot_pareto", "plot_soc"]


def plot_soc(runs: Mapping[str, LifetimeResult], start: dt.datetime, path: Path) -> Path:
    """State of charge at the end of each day, one line per labelled run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for label, run in runs.items():
        days = [start + dt.timedelta(days=d + 1) for d in range(len(run.soc_daily))]
        percent = [100 * s for s in run.soc_daily]
        # matplotlib plots dates through its units registry, which its stubs do not know
        ax.plot(days, percent, label=label)  # type: ignore[arg-type]
    ax.set_ylabel("state of charge (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Battery over the deployment (wildcam lifetime)")
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_pareto(
    points: Sequence[tuple[str, str, float, float, bool]], horizon_days: int, path: Path
) -> Path:
    """Capture share against days of life for ``(device, policy, days, capture,
    energy_neutral)`` points: colour per device, marker per policy; energy-neutral runs sit at
    the horizon, drawn hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    devices = list(dict.fromkeys(p[0] for p in points))
    policies = list(dict.fromkeys(p[1] for p in points))
    markers = "osD^vP*Xh"
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for device, policy, days, capture, neutral in points:
        colour = f"C{devices.index(device) % 10}"
        ax.scatter(
            [days],
            [capture],
            s=55,
            marker=markers[policies.index(policy) % len(markers)],
            facecolors="none" if neutral else colour,
            edgecolors=colour,
            linewidths=1.5,
        )
    for i, device in enumerate(devices):
        ax.plot([], [], color=f"C{i % 10}", lw=5, label=device)
    for i, policy in enumerate(policies):
        ax.scatter([], [], color="grey", marker=markers[i % len(markers)], label=policy)
    ax.axvline(horizon_days, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel(
        f"days until the battery is empty (hollow: energy-neutral over {horizon_days} days)"
    )
    ax.set_ylabel("events captured / always-warm trap")
    low = min((p[3] for p in points), default=0.0)
    ax.set_ylim(max(0.0, low - 0.1), 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax.set_title("Capture against lifetime, per device and policy")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
