"""Gateway under hostile clients: authorised ingest alone and during an attack, peak memory.

The gateway runs as its own process (``wildcam gateway``, defaults: 256 connections, 10 s
request-head timeout, 16 MiB body limit) on 127.0.0.1. One authorised client posts
``--requests`` batches (8 items each: a 600-byte metadata record and a 2 KB thumbnail, like an
uploader's) back to back over one keep-alive connection; ``authorised_rps_alone`` is requests
per second with nothing else going on. Then the same run while attacker processes, bounded in
count and time, do all of this at once:

* an unauthenticated flood: small batches without a token, back to back on 200 connections at
  once (``flood_requests``);
* slow connections: 300 sockets (more than the connection cap) each sending one request-head
  byte a second, reopened when the gateway cuts them, at most 1,500 in all (``slow_opened``);
* gzip bombs: 64 MiB of zeros (64 KiB on the wire) posted without a token back to back, and
  as an authorised device from 4 connections at once, each every 0.2 s (``bombs_sent``).

The attacker processes run at nice 19: on a real network their CPU is not the gateway's, and on
this loopback bench the load generator would otherwise take the gateway's cores (2 here); what
the gateway spends on every request they manage to send still counts.

``authorised_rps_alone`` is the mean of a run before and one after the attack (the machine's
load drifts, ``machine_load_1min``); ``gateway_cpu_cores_*`` is the CPU the gateway used during
the first run alone and during the attack (well below 1: the gateway is not the bottleneck);
``authorised_rps_under_abuse`` is the rate during the attack; ``peak_rss_mb`` the gateway's
peak resident memory (VmHWM) over the whole run. Goal: under abuse at least 0.8 of the rate
alone, and peak RSS <= 300 MB. Every attack stops when the authorised run ends or after
``--max-s`` seconds.

Usage: ``.venv/bin/python bench/gateway_abuse.py [--requests 400] [--max-s 120]``
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from _common import cpu_seconds, peak_rss_mb, write_results
from wildcam.upload.wire import Record, encode_batch

TOKEN = "bench-abuse-token-0123456789abcdef"
ATTACK_SECONDS_CAP = 300.0


def batch(n: int) -> bytes:
    """Batch ``n``: 4 frames' metadata and thumbnail (unique keys)."""
    records = []
    for i in range(4):
        key = f"b{n}-{i}"
        records += [
            Record(
                {
                    "key": f"{key}-m",
                    "kind": "metadata",
                    "priority": 0,
                    "score": 0.9,
                    "class_id": "deer",
                    "meta": {"n": n},
                },
                os.urandom(600),
            ),
            Record(
                {
                    "key": f"{key}-t",
                    "kind": "thumbnail",
                    "priority": 1,
                    "score": 0.9,
                    "class_id": "deer",
                    "meta": {"n": n},
                },
                os.urandom(2048),
            ),
        ]
    return encode_batch(records)


def authorised(url: str, requests: int, first: int) -> float:
    """Requests per second of ``requests`` authorised batches."""
    bodies = [batch(first + i) for i in range(requests)]
    with httpx.Client(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        client.get("/v1/health")
        start = time.perf_counter()
        for body in bodies:
            r = client.post("/v1/items", content=body)
            if r.status_code != 200:
                raise SystemExit(f"authorised request failed: {r.status_code} {r.text[:200]}")
        return requests / (time.perf_counter() - start)


def flood(url: str, stop: mp.Event, count: mp.Value) -> None:  # type: ignore[type-arg]
    os.nice(19)
    body = batch(-1)
    deadline = time.monotonic() + ATTACK_SECONDS_CAP

    async def one(client: httpx.AsyncClient) -> None:
        while not stop.is_set() and time.monotonic() < deadline and count.value < 200_000:
            try:
                await client.post("/v1/items", content=body)
            except httpx.HTTPError:
                pass
            count.value += 1

    async def run() -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:
            await asyncio.gather(*(one(client) for _ in range(200)))

    asyncio.run(run())


def slow(port: int, stop: mp.Event, opened: mp.Value) -> None:  # type: ignore[type-arg]
    os.nice(19)
    socks: list[socket.socket] = []
    deadline = time.monotonic() + ATTACK_SECONDS_CAP
    while not stop.is_set() and time.monotonic() < deadline:
        while len(socks) < 300 and opened.value < 1500:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"POST /v1/items HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
                opened.value += 1
            except OSError:
                break
        alive = []
        for s in socks:
            try:
                s.sendall(b"X")
                alive.append(s)
            except OSError:
                s.close()
        socks = alive
        stop.wait(1.0)
    for s in socks:
        s.close()


def bombs(url: str, stop: mp.Event, sent: mp.Value, with_token: bool) -> None:  # type: ignore[type-arg]
    os.nice(19)
    bomb = gzip.compress(b"WCB1" + bytes(64 * 1024 * 1024), 9)
    headers = {"Content-Encoding": "gzip"}
    if with_token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    deadline = time.monotonic() + ATTACK_SECONDS_CAP
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set() and time.monotonic() < deadline and sent.value < 2000:
            try:
                client.post("/v1/items", content=bomb, headers=headers)
            except httpx.HTTPError:
                pass
            sent.value += 1
            if with_token:
                stop.wait(0.2)


def timed(pid: int, run: Callable[[], float]) -> tuple[float, float]:
    """``run()``'s result and the CPU cores process ``pid`` used meanwhile."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    result = run()
    return result, (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--max-s", type=float, default=120.0)
    args = parser.parse_args()
    global ATTACK_SECONDS_CAP
    ATTACK_SECONDS_CAP = args.max_s
    with tempfile.TemporaryDirectory(prefix="wildcam-bench-abuse-") as tmp:
        work = Path(tmp)
        token = work / "token"
        token.write_text(TOKEN + "\n")
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wildcam.cli",
                "gateway",
                "--port",
                "0",
                "--store",
                str(work / "store"),
                "--token-file",
                str(token),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert gateway.stdout is not None
            line = gateway.stdout.readline()
            found = re.search(r"serving (http://127\.0\.0\.1:(\d+))", line)
            if not found:
                raise SystemExit(f"gateway did not start: {line} {gateway.stderr.read()}")
            url, port = found.group(1), int(found.group(2))
            authorised(url, 20, 10**6)  # warm up
            before, cores_alone = timed(gateway.pid, lambda: authorised(url, args.requests, 0))
            stop = mp.Event()
            flood_n, slow_n, bomb_n = mp.Value("l", 0), mp.Value("l", 0), mp.Value("l", 0)
            attackers = [
                mp.Process(target=flood, args=(url, stop, flood_n)),
                mp.Process(target=slow, args=(port, stop, slow_n)),
                mp.Process(target=bombs, args=(url, stop, bomb_n, False)),
                *[mp.Process(target=bombs, args=(url, stop, bomb_n, True)) for _ in range(4)],
            ]
            for proc in attackers:
                proc.start()
            time.sleep(2.0)  # let the attack build up (slow sockets open, floods running)
            under, cores_under = timed(
                gateway.pid, lambda: authorised(url, args.requests, args.requests)
            )
            stop.set()
            for proc in attackers:
                proc.join(30)
                if proc.is_alive():
                    proc.kill()
            time.sleep(2.0)  # cut connections close, tarpitted requests finish
            after = authorised(url, args.requests, 2 * args.requests)
            alone = (before + after) / 2  # alone before and after the attack: load drifts
            peak = peak_rss_mb(gateway.pid)
            stats = httpx.get(
                f"{url}/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
        finally:
            gateway.terminate()
            gateway.wait(30)
    ratio = under / alone
    write_results(
        "gateway_abuse",
        {
            "requests_per_run": args.requests,
            "items_per_request": 8,
            "authorised_rps_alone": round(alone, 1),
            "authorised_rps_under_abuse": round(under, 1),
            "under_abuse_ratio": round(ratio, 3),
            "peak_rss_mb": round(peak, 1),
            "gateway_cpu_cores_alone": round(cores_alone, 2),
            "gateway_cpu_cores_under_abuse": round(cores_under, 2),
            "machine_load_1min": round(os.getloadavg()[0], 2),
            "flood_requests": int(flood_n.value),
            "slow_opened": int(slow_n.value),
            "bombs_sent": int(bomb_n.value),
            "gateway_unauthorized": int(stats.get("unauthorized", 0)),
            "gateway_too_large": int(stats.get("too_large", 0)),
            "gateway_connections_refused": int(stats.get("connections_refused", 0)),
            "gateway_header_timeouts": int(stats.get("header_timeouts", 0)),
            "target_ratio": 0.8,
            "target_peak_rss_mb": 300,
            "meets_targets": bool(ratio >= 0.8 and peak <= 300),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
