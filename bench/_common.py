"""Shared benchmark helpers: where results go, machine info, the real-data directory.

Every benchmark writes one flat JSON object to ``bench/results/<name>.json`` (numbers and
short strings only, a ``generated`` UTC timestamp and a few ``machine_*`` keys) and prints
the same keys as a table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

Value = float | int | str | bool | None


def machine_info() -> dict[str, Value]:
    """A few keys that say where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "machine_cpu": cpu,
        "machine_cores": os.cpu_count() or 0,
        "machine_python": platform.python_version(),
        "machine_numpy": np.__version__,
        "machine_opencv": cv2.__version__,
    }


def write_results(name: str, values: Mapping[str, Value]) -> Path:
    """Write ``values`` (plus timestamp and machine info) to ``bench/results/<name>.json``."""
    record: dict[str, Value] = {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **values,
        **machine_info(),
    }
    for key, value in record.items():
        if not isinstance(value, (float, int, str, bool, type(None))):
            raise TypeError(f"{key}: results must be flat, got {type(value).__name__}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print_table(record)
    print(f"wrote {path.relative_to(REPO)}")
    return path


def print_table(values: Mapping[str, Value]) -> None:
    """Print ``key  value`` rows, floats with 4 significant digits."""
    width = max(len(k) for k in values)
    for key, value in values.items():
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")


def data_dir(given: str | None) -> Path:
    """The real-data directory: ``given``, else ``$WILDCAM_DATA``, else ``../shared/data``."""
    if given:
        return Path(given)
    env = os.environ.get("WILDCAM_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def single_thread() -> None:
    """Pin OpenCV to one thread so timings measure the algorithm, not the core count."""
    cv2.setNumThreads(1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of process ``pid``, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
