"""Uploader throughput, memory and crash safety against a local gateway, durability on.

Throughput: one ``python -m wildcam.upload.worker`` process stores 5,000 synthetic frames
(10,000 items: metadata + a 2 KB thumbnail each) in its durable queue — every item fsync'd
before it counts as stored — while its sender uploads them in batches to a gateway on
127.0.0.1 that fsyncs before it acknowledges; the clock stops when the last item is
acknowledged and deleted. ``items_per_s`` is 10,000 over that time. The same run with
durability off (``--no-fsync`` in the worker; the gateway unchanged) is measured beside it as
the baseline that shows what the fsyncs cost. ``rss_mb_start`` is the worker's resident memory
once set up, ``rss_mb_after_10k_items`` after the last acknowledgement.

Crash safety: ``--trials`` (default 50) kill -9 trials of the worker at random moments during
active upload on one queue (:mod:`wildcam.upload.crash`), then a drain; ``lost`` counts items a
worker reported as stored that never reached the gateway, ``duplicates`` items stored twice
(same key or same content), ``resends_deduplicated`` the resends the gateway recognised by
idempotency key (the acknowledgements a kill cut off).

Usage: ``.venv/bin/python bench/uploader.py [--trials 50] [--frames 5000]``
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

from wildcam.gateway import Gateway, GatewayConfig
from wildcam.upload.crash import run_trials, verify


def throughput(work: Path, name: str, frames: int, fsync: bool) -> dict[str, float]:
    """One worker run of ``frames`` frames against a fresh gateway; rate and memory."""
    token = work / "token"
    with Gateway(GatewayConfig(store=work / f"gateway-{name}", token_file=token, port=0)) as gw:
        cmd = [sys.executable, "-m", "wildcam.upload.worker", "--queue", str(work / name),
               "--gateway", gw.url, "--token-file", str(token), "--produce", str(frames),
               "--run", name, "--timeout", "600"] + ([] if fsync else ["--no-fsync"])
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"worker failed: {done.stdout[-500:]} {done.stderr[-2000:]}")
        items = gw.store.counters()["items"]
    ready = re.search(r"ready rss_kb=(\d+)", done.stdout)
    end = re.search(r"done left=0 seconds=([\d.]+) rss_kb=(\d+)", done.stdout)
    assert ready and end, done.stdout[-500:]
    if items != 2 * frames:
        raise SystemExit(f"{name}: the gateway holds {items} items, expected {2 * frames}")
    return {"items_per_s": items / float(end.group(1)), "seconds": float(end.group(1)),
            "rss_mb_start": int(ready.group(1)) / 1024,
            "rss_mb_end": int(end.group(2)) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--frames", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wildcam-bench-upload-") as tmp:
        work = Path(tmp)
        (work / "token").write_text("bench-token-0123456789abcdef\n")
        durable = throughput(work, "durable", args.frames, fsync=True)
        baseline = throughput(work, "nofsync", args.frames, fsync=False)
        start = time.perf_counter()
        with Gateway(GatewayConfig(store=work / "gateway-crash", token_file=work / "token",
                                   port=0)) as gw:
            report = run_trials(work / "crash-queue", gw.url, work / "token", args.trials,
                                seed=2026)
            report = verify(report, gw.store.items(limit=10**7), args.trials)
            counters = gw.store.counters()
        crash_s = time.perf_counter() - start
    growth = durable["rss_mb_end"] / durable["rss_mb_start"] - 1.0
    write_results("uploader", {
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
        "lost": len(report.lost),
        "duplicates": len(report.duplicates),
        "unexpected": len(report.unexpected),
        "resends_deduplicated": counters.get("duplicates", 0),
        "crash_bench_s": round(crash_s, 1),
        "target_items_per_s": 200,
        "target_rss_growth": 0.10,
        "meets_targets": bool(durable["items_per_s"] >= 200 and abs(growth) <= 0.10
                              and not report.lost and not report.duplicates),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
