"""Uploader throughput, memory and crash safety against a local gateway, durability on.

Throughput: one ``bench/upload_worker.py`` process stores 5,000 synthetic frames
(10,000 items: metadata + a 2 KB thumbnail each) in its durable queue — every item fsync'd
before it counts as stored — while its sender uploads them in batches to a gateway on
127.0.0.1 that fsyncs before it acknowledges; the clock stops when the last item is
acknowledged and deleted. ``items_per_s`` is 10,000 over that time. The same run with
durability off (``--no-fsync`` in the worker; the gateway unchanged) is measured beside it as
the baseline that shows what the fsyncs cost. ``rss_mb_start`` is the worker's resident memory
once set up, ``rss_mb_after_10k_items`` after the last acknowledgement.

Crash safety: ``--trials`` (default 50) kill -9 trials of the worker at random moments during
active upload on one queue (``bench/upload_crash.py``), then a drain; ``lost`` counts items a
worker reported as stored that never reached the gateway, ``duplicates`` items stored twice
(same key or same content), ``resends_deduplicated`` the resends the gateway recognised by
idempotency key (the acknowledgements a kill cut off).

Poison: ``--poison-trials`` (default 20) more kill -9 trials whose workers also queue, every 7th
frame, an item the gateway refuses (300 KB incompressible against a 0.25 MB body limit) and one
that breaks the wire limits; ``dead_lettered`` counts the items in the queue's dead-letter table
after the drain, ``poison_delivered`` poison that reached the gateway (must be 0). Full disk:
``--full-disk-trials`` (default 20) runs on a 1.5 MiB tmpfs (needs root; 0 trials and a note
when it cannot be mounted): a worker fills it while the gateway is unreachable and is killed -9,
another writer takes the space left, and a worker must drain the queue to the gateway.
``lost`` and ``duplicates`` sum all three kinds of trials.

Usage: ``.venv/bin/python bench/uploader.py [--trials 50] [--poison-trials 20]
[--full-disk-trials 20] [--frames 5000]``
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_results
from upload_crash import (  # beside this file
    FULL_DISK_THUMBNAIL,
    WORKER,
    CrashReport,
    run_full_disk_trials,
    run_trials,
    verify,
)
from wildcam.gateway import Gateway, GatewayConfig
from wildcam.upload.queue import DurableQueue


def throughput(work: Path, name: str, frames: int, fsync: bool) -> dict[str, float]:
    """One worker run of ``frames`` frames against a fresh gateway; rate and memory."""
    token = work / "token"
    with Gateway(GatewayConfig(store=work / f"gateway-{name}", token_file=token, port=0)) as gw:
        cmd = [
            sys.executable,
            str(WORKER),
            "--queue",
            str(work / name),
            "--gateway",
            gw.url,
            "--token-file",
            str(token),
            "--produce",
            str(frames),
            "--run",
            name,
            "--timeout",
            "600",
        ] + ([] if fsync else ["--no-fsync"])
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"worker failed: {done.stdout[-500:]} {done.stderr[-2000:]}")
        items = gw.store.counters()["items"]
    ready = re.search(r"ready rss_kb=(\d+)", done.stdout)
    end = re.search(r"done left=0 seconds=([\d.]+) rss_kb=(\d+)", done.stdout)
    assert ready and end, done.stdout[-500:]
    if items != 2 * frames:
        raise SystemExit(f"{name}: the gateway holds {items} items, expected {2 * frames}")
    return {
        "items_per_s": items / float(end.group(1)),
        "seconds": float(end.group(1)),
        "rss_mb_start": int(ready.group(1)) / 1024,
        "rss_mb_end": int(end.group(2)) / 1024,
    }


def poison_trials(work: Path, trials: int) -> tuple[CrashReport, int]:
    """Kill -9 trials with poison items; the report and the dead letters after the drain."""
    with Gateway(
        GatewayConfig(
            store=work / "gateway-poison", token_file=work / "token", port=0, max_body_mb=0.25
        )
    ) as gw:
        report = run_trials(
            work / "poison-queue",
            gw.url,
            work / "token",
            trials,
            seed=7,
            poison_every=7,
            first=1000,
        )
        report = verify(report, gw.store.items(limit=10**7), trials, first=1000)
    queue = DurableQueue(work / "poison-queue", 10**9, 86400)
    dead = queue.stats().dead_letters
    queue.close()
    return report, dead


def full_disk_trials(work: Path, trials: int) -> tuple[CrashReport | None, str]:
    """Full-disk trials on a small tmpfs; (None, why) when none can be mounted."""
    disk = work / "small-disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        return None, f"cannot mount a tmpfs: {mounted.stderr.strip()}"
    try:
        with Gateway(
            GatewayConfig(store=work / "gateway-full", token_file=work / "token", port=0)
        ) as gw:
            report = run_full_disk_trials(
                disk, gw.url, work / "token", trials, seed=11, first=2000
            )
            return verify(
                report,
                gw.store.items(limit=10**7),
                trials,
                frames=60,
                first=2000,
                thumbnail_bytes=FULL_DISK_THUMBNAIL,
            ), "tmpfs 1.5 MiB"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--poison-trials", type=int, default=20)
    parser.add_argument("--full-disk-trials", type=int, default=20)
    parser.add_argument("--frames", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wildcam-bench-upload-") as tmp:
        work = Path(tmp)
        (work / "token").write_text("bench-token-0123456789abcdef\n")
        durable = throughput(work, "durable", args.frames, fsync=True)
        baseline = throughput(work, "nofsync", args.frames, fsync=False)
        start = time.perf_counter()
        with Gateway(
            GatewayConfig(store=work / "gateway-crash", token_file=work / "token", port=0)
        ) as gw:
            report = run_trials(
                work / "crash-queue", gw.url, work / "token", args.trials, seed=2026
            )
            report = verify(report, gw.store.items(limit=10**7), args.trials)
            counters = gw.store.counters()
        crash_s = time.perf_counter() - start
        poison, dead_lettered = poison_trials(work, args.poison_trials)
        full, full_disk_how = full_disk_trials(work, args.full_disk_trials)
    lost = len(report.lost) + len(poison.lost) + (len(full.lost) if full else 0)
    duplicates = (
        len(report.duplicates) + len(poison.duplicates) + (len(full.duplicates) if full else 0)
    )
    growth = durable["rss_mb_end"] / durable["rss_mb_start"] - 1.0
    write_results(
        "uploader",
        {
            "items": 2 * args.frames,
            "items_per_s": round(durable["items_per_s"], 1),
            "items_per_s_no_fsync_baseline": round(baseline["items_per_s"], 1),
            "durability_cost": round(1.0 - durable["items_per_s"] / baseline["items_per_s"], 3),
            "rss_mb_start": round(durable["rss_mb_start"], 2),
            "rss_mb_after_10k_items": round(durable["rss_mb_end"], 2),
            "rss_growth": round(growth, 4),
            "kill9_trials": report.trials,
            "kill9_killed_mid_run": report.killed_with_queue,
            "items_stored_before_kills": len(report.stored),
            "kill9_lost": len(report.lost),
            "kill9_duplicates": len(report.duplicates),
            "unexpected": len(report.unexpected)
            + len(poison.unexpected)
            + (len(full.unexpected) if full else 0),
            "poison_trials": poison.trials,
            "poison_items_stored": len(poison.poison),
            "poison_delivered": len(poison.poison_delivered),
            "dead_lettered": dead_lettered,
            "full_disk_trials": full.trials if full else 0,
            "full_disk_setup": full_disk_how,
            "full_disk_puts_refused": full.full_refusals if full else 0,
            "full_disk_items_stored": len(full.stored) if full else 0,
            "lost": lost,
            "duplicates": duplicates,
            "resends_deduplicated": counters.get("duplicates", 0),
            "crash_bench_s": round(crash_s, 1),
            "target_items_per_s": 200,
            "target_rss_growth": 0.10,
            "meets_targets": bool(
                durable["items_per_s"] >= 200
                and abs(growth) <= 0.10
                and not lost
                and not duplicates
                and not poison.poison_delivered
            ),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
