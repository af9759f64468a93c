"""Kill -9 trials of the uploader worker during active upload (used by the crash test and the
benchmark).

Each trial starts ``python -m wildcam.upload.worker`` on the same queue directory, lets it
store and upload frames, and SIGKILLs it after a random number of stored items plus a random
delay. After the last trial one more worker drains the queue. :func:`verify` then checks that
every key the workers reported as stored is at the gateway exactly once, that nothing else is
there, and that no content was stored twice under different keys.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.upload.items import items_for_frame
from wildcam.upload.worker import synthetic_frame

__all__ = ["CrashReport", "run_trials", "verify"]


@dataclass
class CrashReport:
    """Outcome of a series of trials."""

    trials: int = 0
    stored: set[str] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    killed_with_queue: int = 0


def _worker(queue: Path, url: str, token: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "wildcam.upload.worker", "--queue", str(queue),
            "--gateway", url, "--token-file", str(token), *extra]


def run_trials(queue: Path, url: str, token: Path, trials: int, seed: int = 0,
               frames: int = 40) -> CrashReport:
    """Run ``trials`` kill -9 trials, then drain; the stored keys (not yet verified)."""
    rng = random.Random(seed)
    report = CrashReport(trials=trials)
    for trial in range(trials):
        proc = subprocess.Popen(_worker(queue, url, token, "--produce", str(frames),
                                        "--run", f"trial{trial}", "--batch", "8"),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        kill_after = rng.randint(1, 2 * frames - 10)  # items stored before the kill, at least
        seen = 0
        for line in proc.stdout:
            if line.startswith("stored "):
                report.stored.add(line.split()[1])
                seen += 1
                if seen >= kill_after:
                    break
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for line in proc.stdout:  # what it reported before it died is still in the pipe
            if line.startswith("stored "):
                report.stored.add(line.split()[1])
        proc.stdout.close()
        if proc.returncode == -signal.SIGKILL:
            report.killed_with_queue += 1
    drain = subprocess.run(_worker(queue, url, token, "--produce", "0"), capture_output=True,
                           text=True, timeout=120)
    if drain.returncode != 0:
        raise AssertionError(f"drain failed: {drain.stdout[-500:]} {drain.stderr[-2000:]}")
    return report


def verify(report: CrashReport, gateway_items: list[dict[str, Any]], runs: int,
           frames: int = 40) -> CrashReport:
    """Fill ``lost``, ``duplicates`` and ``unexpected`` from the gateway's listing."""
    possible = {it.key for trial in range(runs) for i in range(frames)
                for it in items_for_frame(synthetic_frame(f"trial{trial}", i), False)}
    keys = Counter(i["key"] for i in gateway_items)
    contents = Counter(i["sha256"] for i in gateway_items)
    report.lost = sorted(report.stored - set(keys))
    report.duplicates = sorted({k for k, n in keys.items() if n > 1} |
                               {i["key"] for i in gateway_items if contents[i["sha256"]] > 1})
    report.unexpected = sorted(set(keys) - possible)
    return report
