"""Kill -9 trials of the uploader worker during active upload (used by the crash test and the
benchmark).

Each trial starts ``python bench/upload_worker.py`` on the same queue directory, lets it
store and upload frames, and SIGKILLs it after a random number of stored items plus a random
delay. After the last trial one more worker drains the queue. :func:`verify` then checks that
every key the workers reported as stored is at the gateway exactly once, that nothing else is
there, and that no content was stored twice under different keys.

With ``poison_every`` the workers also queue poison items (:func:`upload_worker.
poison_items`): they must end in the dead-letter table, never at the gateway, and never hold
the rest back. :func:`run_full_disk_trials` runs workers on a small file system that fills up
(while the gateway is unreachable, then taken by another writer) and checks the queue drains.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upload_worker import synthetic_frame  # beside this file
from wildcam.upload.items import items_for_frame

WORKER = Path(__file__).with_name("upload_worker.py")

__all__ = ["FULL_DISK_THUMBNAIL", "CrashReport", "run_full_disk_trials", "run_trials", "verify"]

FULL_DISK_THUMBNAIL = 30_000  # bytes: a few dozen frames fill the small file system


@dataclass
class CrashReport:
    """Outcome of a series of trials."""

    trials: int = 0
    stored: set[str] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    killed_with_queue: int = 0
    poison: set[str] = field(default_factory=set)
    poison_delivered: list[str] = field(default_factory=list)
    full_refusals: int = 0  # puts refused for a full disk (full-disk trials)


def _worker(queue: Path, url: str, token: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(WORKER),
        "--queue",
        str(queue),
        "--gateway",
        url,
        "--token-file",
        str(token),
        *extra,
    ]


def run_trials(
    queue: Path,
    url: str,
    token: Path,
    trials: int,
    seed: int = 0,
    frames: int = 40,
    poison_every: int = 0,
    first: int = 0,
) -> CrashReport:
    """Run ``trials`` kill -9 trials (runs ``trial<first>`` on), then drain; the stored keys
    (not yet verified)."""
    rng = random.Random(seed)
    report = CrashReport(trials=trials)
    extra = ["--poison-every", str(poison_every)] if poison_every else []
    for trial in range(first, first + trials):
        proc = subprocess.Popen(
            _worker(
                queue,
                url,
                token,
                "--produce",
                str(frames),
                "--run",
                f"trial{trial}",
                "--batch",
                "8",
                *extra,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
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
    _drain(queue, url, token)
    report.poison = {k for k in report.stored if k.startswith("poison-")}
    return report


def _drain(queue: Path, url: str, token: Path) -> None:
    drain = subprocess.run(
        _worker(queue, url, token, "--produce", "0"), capture_output=True, text=True, timeout=120
    )
    if drain.returncode != 0:
        raise AssertionError(f"drain failed: {drain.stdout[-500:]} {drain.stderr[-2000:]}")


def run_full_disk_trials(
    disk: Path, url: str, token: Path, trials: int, seed: int = 0, frames: int = 60, first: int = 0
) -> CrashReport:
    """``trials`` times: a worker fills the small file system ``disk`` while the gateway is
    unreachable and is killed -9 at a random moment; another writer takes the space left;
    then a worker must drain the queue to the gateway at ``url``. The stored keys."""
    rng = random.Random(seed)
    report = CrashReport(trials=trials)
    queue, filler = disk / "queue", disk / "other-writer"
    dead = "http://127.0.0.1:9"  # discard port: nothing listens, the link is down
    for trial in range(first, first + trials):
        proc = subprocess.Popen(
            _worker(
                queue,
                dead,
                token,
                "--produce",
                str(frames),
                "--run",
                f"trial{trial}",
                "--thumbnail-bytes",
                str(FULL_DISK_THUMBNAIL),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        kill_after = rng.randint(frames // 2, frames)  # puts tried before the kill
        seen = 0
        for line in proc.stdout:
            if line.startswith("stored "):
                report.stored.add(line.split()[1])
            if line.startswith("full"):
                report.full_refusals += 1
            if line.startswith(("stored ", "full")):
                seen += 1
                if seen >= kill_after:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for line in proc.stdout:
            if line.startswith("stored "):
                report.stored.add(line.split()[1])
        proc.stdout.close()
        report.killed_with_queue += proc.returncode == -signal.SIGKILL
        try:
            with open(filler, "wb") as fh:  # the disk is full for everyone now
                for _ in range(10_000):
                    fh.write(b"\0" * 65536)
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError:
            pass
        _drain(queue, url, token)
        filler.unlink(missing_ok=True)
    return report


def verify(
    report: CrashReport,
    gateway_items: list[dict[str, Any]],
    runs: int,
    frames: int = 40,
    first: int = 0,
    thumbnail_bytes: int = 2048,
) -> CrashReport:
    """Fill ``lost``, ``duplicates``, ``unexpected`` and ``poison_delivered`` from the
    gateway's listing (runs ``trial<first>`` to ``trial<first + runs - 1>``)."""
    possible = {
        it.key
        for trial in range(first, first + runs)
        for i in range(frames)
        for it in items_for_frame(synthetic_frame(f"trial{trial}", i, thumbnail_bytes), False)
    }
    possible |= report.poison
    keys = Counter(i["key"] for i in gateway_items)
    contents = Counter(i["sha256"] for i in gateway_items)
    report.poison_delivered = sorted(report.poison & set(keys))
    report.lost = sorted(report.stored - report.poison - set(keys))
    report.duplicates = sorted(
        {k for k, n in keys.items() if n > 1}
        | {i["key"] for i in gateway_items if contents[i["sha256"]] > 1}
    )
    report.unexpected = sorted(set(keys) - possible)
    return report
