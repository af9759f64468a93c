"""A fleet on one machine: simulated traps against one Mosquitto broker and one gateway.

Each simulated trap is a lightweight client speaking the bridge's and the uploader's protocols, not
a ROS graph: an MQTT 5 connection of its own (the bridge's default; its device id as user and
client id, persistent session, last will; the broker's ACL keeps it to its own prefix) publishing
the retained status (:func:`wildcam.fleet.protocol.status_payload`) every ``--status-period-s``
and, per detection, a QoS 1 event (:func:`~wildcam.fleet.protocol.event_payload`) and an upload to
the gateway with its own registered token (``POST /v1/items``: the frame's metadata and a
thumbnail, :func:`wildcam.upload.items.items_for_frame`), over an HTTP connection of its own.
Detections arrive as a Poisson process of mean interval ``--event-period-s`` per trap (ASSUMPTION:
600 s, 6 an hour, a busy site; the lifetime model's nocturnal site sees 17 a day; measure a site's
rate from its gateway store). Traps connect spread over ``--ramp-s``.

An operator-side subscriber (persistent session, QoS 1) receives every status and event and
keeps one per key; a message is *lost* when its publish was acknowledged by the broker (or its
upload by the gateway) and it never arrived (or is not in the store); ``duplicates_stored`` is
the number of stored gateway items whose content was stored before under another key (the
store's key is unique, so a resend under the same key is answered ``duplicate``);
``misattributed`` the stored items whose device is not the trap that uploaded them;
``mqtt_redeliveries`` the QoS 1 deliveries the subscriber dropped as seen before.
``broker_p99_ms``: publish to arrival at the subscriber; ``gateway_p99_ms``: an upload request's
round trip at the trap. Both include the load generator's own scheduling: the trap processes run
at nice 19 on the same cores (on a real network their CPU is not the servers'). CPU is cores used
(CPU seconds / wall) by the broker and the gateway over the run; memory their peak resident set
(VmHWM). Everything is on 127.0.0.1 and bounded by ``--duration-s`` (plus at most 60 s to drain).

Baseline, same run: before the fleet starts, one trap alone for ``--baseline-s`` (status every
0.2 s, an event every second) gives ``broker_p99_ms_alone`` and ``gateway_p99_ms_alone``: what
the same servers answer when nothing else is going on.

Usage: ``.venv/bin/python bench/fleet.py [--devices 1000] [--duration-s 120]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from _common import cpu_seconds, peak_rss_mb, write_results
from wildcam.fleet.broker import OPERATOR, Mosquitto
from wildcam.fleet.link import session_properties
from wildcam.fleet.protocol import Topics, encode, event_payload, status_payload
from wildcam.gateway.devices import DeviceRegistry
from wildcam.gateway.store import GatewayStore
from wildcam.upload.items import DetectionInfo, FrameDetections, items_for_frame
from wildcam.upload.wire import Record, encode_batch

OPERATOR_PASSWORD = "bench-operator-password-0123"
THUMBNAIL_BYTES = 6000  # ASSUMPTION: a 160x120 JPEG crop at quality 80 is 4-8 kB


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values`` (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def subscriber(port: int, ready: Any, stop: Any, out: str) -> None:
    """The operator's side: every status and event, once per key, with its delay."""
    seen: dict[str, float] = {}
    deliveries = [0]
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-operator", clean_session=False
    )
    client.username_pw_set(OPERATOR, OPERATOR_PASSWORD)

    def on_message(c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:  # a retained status replayed at subscription: not a delivery
            return
        deliveries[0] += 1
        doc = json.loads(msg.payload)
        if doc["key"] not in seen:
            seen[doc["key"]] = (time.time() - doc["sent"]) * 1000.0

    client.on_connect = lambda c, *_: c.subscribe(
        [("wildcam/+/status", 1), ("wildcam/+/events", 1)]
    )
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = on_message
    client.connect("127.0.0.1", port, 60)
    while not stop.is_set():
        client.loop(0.2)
    Path(out).write_text(json.dumps({"seen": seen, "deliveries": deliveries[0]}))
    client.disconnect()


class Trap:
    """One simulated trap: its MQTT client (driven by the worker's selector) and schedule."""

    def __init__(
        self,
        device: str,
        password: str,
        token: str,
        rng: random.Random,
        status_period_s: float,
        event_period_s: float,
        start: float,
    ) -> None:
        self.device, self.token, self.topics = device, token, Topics("wildcam", device)
        self.status_period_s, self.event_period_s, self.rng = status_period_s, event_period_s, rng
        self.next_status = start + rng.uniform(0, status_period_s)
        self.next_event = start + rng.expovariate(1 / event_period_s)
        self.seq = 0
        self.pending: dict[int, str] = {}
        self.acked: list[str] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(device, password)
        self.client.will_set(self.topics.availability, b"offline", qos=1, retain=True)
        self.client.on_publish = self.on_publish

    def on_publish(self, c: mqtt.Client, u: Any, mid: int, reason: Any, p: Any) -> None:
        key = self.pending.pop(mid, None)
        if key is not None and not reason.is_failure:
            self.acked.append(key)

    def publish(self, topic: str, doc: dict[str, Any], retain: bool = False) -> None:
        doc["sent"] = time.time()
        info = self.client.publish(topic, encode(doc), qos=1, retain=retain)
        self.pending[info.mid] = doc["key"]

    def status(self, now: float) -> None:
        self.seq += 1
        self.publish(
            self.topics.status,
            status_payload(
                self.device,
                self.seq,
                now,
                battery_pct=80.0,
                mode="normal",
                state="watch",
                charging=False,
                queue_depth=0,
                last_detection=None,
                energy_j=1.0,
                average_power_w=0.5,
                projected_battery_h=900.0,
                software="bench",
                models=["tiny"],
            ),
            retain=True,
        )

    def event(self, now: float) -> bytes:
        """Publish a detection event; the upload batch of the same frame."""
        stamp_ns = int(now * 1e9)
        thumb = os.urandom(THUMBNAIL_BYTES)
        det = DetectionInfo("0", "deer", 0.9, 1, "tiny", (50.0, 60.0, 20.0, 30.0))
        frame = FrameDetections(
            stamp_ns,
            "camera",
            self.seq,
            (det,),
            thumbnail=thumb,
            extra={"device": {"id": self.device}},
        )
        items = items_for_frame(frame, False)
        self.publish(
            self.topics.events,
            event_payload(
                self.device,
                f"{stamp_ns}-{self.seq}",
                now,
                self.seq,
                [{"class_id": "deer", "score": 0.9}],
            ),
        )
        return encode_batch([Record(it.header(), it.payload) for it in items])


def traps_worker(
    port: int, url: str, creds: list[tuple[str, str, str]], args: Any, out: str
) -> None:
    """Drive ``creds``' traps for the run: MQTT on this thread, uploads on an asyncio thread."""
    os.nice(19)
    rng = random.Random(hash(creds[0][0]) & 0xFFFF)
    start = time.time() + args.ramp_s
    traps = [
        Trap(
            d, p, t, random.Random(rng.random()), args.status_period_s, args.event_period_s, start
        )
        for d, p, t in creds
    ]
    sel = selectors.DefaultSelector()
    loop = asyncio.new_event_loop()
    uploads: dict[str, Any] = {"latency_ms": [], "acked": [], "failed": 0, "requests": 0}
    clients: dict[str, httpx.AsyncClient] = {}

    async def upload(trap: Trap, body: bytes) -> None:
        client = clients.setdefault(
            trap.device,
            httpx.AsyncClient(
                base_url=url, timeout=30, headers={"Authorization": f"Bearer {trap.token}"}
            ),
        )
        for _ in range(5):  # the uploader retries; keys make a resend harmless
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/items", content=body)
            except httpx.HTTPError:
                continue
            uploads["latency_ms"].append((time.perf_counter() - t0) * 1000)
            uploads["requests"] += 1
            if r.status_code == 200:
                uploads["acked"] += [
                    [x["key"], trap.device]
                    for x in r.json()["results"]
                    if x["status"] in ("stored", "duplicate")
                ]
                return
        uploads["failed"] += 1

    threading.Thread(target=loop.run_forever, daemon=True).start()
    futures = []
    for trap in traps:  # connects spread over the ramp
        time.sleep(args.ramp_s / len(traps))
        trap.client.connect(
            "127.0.0.1", port, 60, clean_start=False, properties=session_properties()
        )
        sock = trap.client.socket()
        assert sock is not None, f"{trap.device} is not connected"
        sel.register(sock, selectors.EVENT_READ, trap)
        trap.client.loop_write()
    end = start + args.duration_s
    last_misc = 0.0
    while time.time() < end:
        for key, _ in sel.select(timeout=0.05):
            key.data.client.loop_read()
        now = time.time()
        for trap in traps:
            if now >= trap.next_status:
                trap.next_status += trap.status_period_s
                trap.status(now)
            if now >= trap.next_event:
                trap.next_event += trap.rng.expovariate(1 / trap.event_period_s)
                futures.append(
                    asyncio.run_coroutine_threadsafe(upload(trap, trap.event(now)), loop)
                )
            if trap.client.want_write():
                trap.client.loop_write()
        if now - last_misc >= 1.0:
            last_misc = now
            for trap in traps:
                trap.client.loop_misc()
    drain_end = time.time() + 30
    while time.time() < drain_end and any(t.pending for t in traps):
        for key, _ in sel.select(timeout=0.05):
            key.data.client.loop_read()
        for trap in traps:
            if trap.client.want_write():
                trap.client.loop_write()
    for future in futures:
        try:
            future.result(timeout=max(1.0, drain_end + 30 - time.time()))
        except Exception:  # noqa: BLE001 - counted as failed below
            uploads["failed"] += 1
    Path(out).write_text(
        json.dumps(
            {
                "mqtt_acked": [k for t in traps for k in t.acked],
                "mqtt_unacked": sum(len(t.pending) for t in traps),
                **uploads,
            }
        )
    )
    for trap in traps:
        trap.client.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--duration-s", type=float, default=120.0)
    parser.add_argument("--status-period-s", type=float, default=10.0)
    parser.add_argument("--event-period-s", type=float, default=600.0)
    parser.add_argument("--ramp-s", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-s", type=float, default=15.0)
    args = parser.parse_args()
    if not 1 <= args.devices <= 5000 or not 1 <= args.duration_s <= 1800:
        raise SystemExit("--devices in [1, 5000], --duration-s in [1, 1800]")
    with tempfile.TemporaryDirectory(prefix="wildcam-bench-fleet-") as tmp:
        work = Path(tmp)
        devices = [f"trap{i:04d}" for i in range(args.devices)] + ["solo"]
        passwords = {d: f"pw-{d}-{os.urandom(6).hex()}" for d in devices}
        GatewayStore(work / "store").close()
        registry = DeviceRegistry.in_store(work / "store")
        tokens = {d: registry.add(d, group=f"site{i % 10}") for i, d in enumerate(devices)}
        registry.close()
        broker = Mosquitto(work / "broker", {OPERATOR: OPERATOR_PASSWORD, **passwords}).start()
        (work / "token").write_text("bench-shared-token-0123456789abcdef\n")
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
                str(work / "token"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert gateway.stdout is not None and gateway.stderr is not None
            found = re.search(r"serving (http://127\.0\.0\.1:\d+)", gateway.stdout.readline())
            if not found:
                raise SystemExit(f"gateway did not start: {gateway.stderr.read()[-500:]}")
            url = found.group(1)
            ready, stop = mp.Event(), mp.Event()
            sub = mp.Process(
                target=subscriber, args=(broker.port, ready, stop, str(work / "sub.json"))
            )
            sub.start()
            if not ready.wait(30):
                raise SystemExit("subscriber did not subscribe")
            assert broker.proc is not None
            cpu0 = {"broker": cpu_seconds(broker.proc.pid), "gateway": cpu_seconds(gateway.pid)}
            solo = argparse.Namespace(
                **{
                    **vars(args),
                    "ramp_s": 0.5,
                    "status_period_s": 0.2,
                    "event_period_s": 1.0,
                    "duration_s": args.baseline_s,
                }
            )
            traps_worker(
                broker.port,
                url,
                [("solo", passwords["solo"], tokens["solo"])],
                solo,
                str(work / "solo.json"),
            )
            wall0 = time.monotonic()
            fleet = devices[:-1]
            shares = [fleet[i :: args.workers] for i in range(args.workers)]
            workers = [
                mp.Process(
                    target=traps_worker,
                    args=(
                        broker.port,
                        url,
                        [(d, passwords[d], tokens[d]) for d in share],
                        args,
                        str(work / f"w{n}.json"),
                    ),
                )
                for n, share in enumerate(shares)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join(args.duration_s + args.ramp_s + 120)
                if w.is_alive():
                    w.kill()
            wall = time.monotonic() - wall0
            cores = {
                "broker": (cpu_seconds(broker.proc.pid) - cpu0["broker"]) / wall,
                "gateway": (cpu_seconds(gateway.pid) - cpu0["gateway"]) / wall,
            }
            peaks = {"broker": peak_rss_mb(broker.proc.pid), "gateway": peak_rss_mb(gateway.pid)}
            time.sleep(2.0)  # the last deliveries reach the subscriber
            stop.set()
            sub.join(30)
            headers = {"Authorization": "Bearer bench-shared-token-0123456789abcdef"}
            stored = list(_items(url, headers))
        finally:
            gateway.terminate()
            gateway.wait(30)
            broker.stop()
        results = [json.loads((work / f"w{n}.json").read_text()) for n in range(args.workers)]
        alone = json.loads((work / "solo.json").read_text())
        received = json.loads((work / "sub.json").read_text())
    mqtt_acked = {k for r in results for k in r["mqtt_acked"]}
    seen = received["seen"]
    sender = {k: d for r in [*results, alone] for k, d in r["acked"]}
    http_acked = {k for r in results for k, _ in r["acked"]}
    stored_keys = {i["key"] for i in stored}
    lost_mqtt = len(mqtt_acked - set(seen))
    lost_http = len(http_acked - stored_keys)
    misattributed = sum(i["device"] != sender.get(i["key"]) for i in stored)
    broker_ms = [seen[k] for k in mqtt_acked & set(seen)]
    broker_alone_ms = [seen[k] for k in set(alone["mqtt_acked"]) & set(seen)]
    gateway_ms = [v for r in results for v in r["latency_ms"]]
    failed_uploads = sum(r["failed"] for r in results)
    unacked = sum(r["mqtt_unacked"] for r in results)
    lost = lost_mqtt + lost_http + failed_uploads + unacked
    write_results(
        "fleet",
        {
            "devices": args.devices,
            "duration_s": args.duration_s,
            "status_period_s": args.status_period_s,
            "event_period_s": args.event_period_s,
            "messages": len(mqtt_acked) + len(http_acked),
            "mqtt_messages": len(mqtt_acked),
            "mqtt_redeliveries": int(received["deliveries"]) - len(seen),
            "gateway_items": len(http_acked),
            "gateway_requests": sum(r["requests"] for r in results),
            "lost": lost,
            "duplicates_stored": len(stored) - len({i["sha256"] for i in stored}),
            "misattributed": misattributed,
            "gateway_p99_ms": round(percentile(gateway_ms, 0.99), 1),
            "gateway_p50_ms": round(percentile(gateway_ms, 0.50), 1),
            "broker_p99_ms": round(percentile(broker_ms, 0.99), 1),
            "broker_p50_ms": round(percentile(broker_ms, 0.50), 1),
            "gateway_p99_ms_alone": round(percentile(alone["latency_ms"], 0.99), 1),
            "broker_p99_ms_alone": round(percentile(broker_alone_ms, 0.99), 1),
            "broker_cpu_cores": round(cores["broker"], 3),
            "gateway_cpu_cores": round(cores["gateway"], 3),
            "broker_peak_rss_mb": round(peaks["broker"], 1),
            "gateway_peak_rss_mb": round(peaks["gateway"], 1),
            "machine_load_1min": round(os.getloadavg()[0], 2),
            "target_p99_ms": 1000,
            "meets_targets": bool(
                lost == 0
                and percentile(gateway_ms, 0.99) < 1000
                and percentile(broker_ms, 0.99) < 1000
            ),
        },
    )
    return 0


def _items(url: str, headers: dict[str, str]) -> Any:
    after = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while True:
            page = client.get(f"/v1/items?after={after}&limit=10000").json()["items"]
            if not page:
                return
            yield from page
            after = page[-1]["seq"]


if __name__ == "__main__":
    sys.exit(main())
