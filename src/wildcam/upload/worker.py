"""A headless uploader process: the node's queue and sender without ROS.

``python -m wildcam.upload.worker --queue DIR --gateway URL --token-file F [--produce N]``
stores ``N`` synthetic frames (metadata + thumbnail each; a line ``stored <key>`` is printed
and flushed only after the queue acknowledged the item as stored) while the sender uploads, and
exits once everything is acknowledged by the gateway. Crash tests ``kill -9`` it at random
moments and run it again with ``--produce 0`` to drain what was left; the benchmark uses it too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from wildcam.errors import WildcamError
from wildcam.params import build_config
from wildcam.upload.config import UploaderConfig
from wildcam.upload.engine import SenderThread, UploadEngine, make_link, make_transport
from wildcam.upload.items import DetectionInfo, FrameDetections, items_for_frame
from wildcam.upload.queue import DurableQueue

__all__ = ["main", "synthetic_frame"]


def synthetic_frame(run: str, index: int, thumbnail_bytes: int = 2048) -> FrameDetections:
    """A deterministic frame ``index`` of ``run`` (payloads are pseudo-random bytes)."""
    seed = f"{run}:{index}".encode()
    thumb = (seed * (thumbnail_bytes // len(seed) + 1))[:thumbnail_bytes]
    return FrameDetections(stamp_ns=1_000_000_000 * (index + 1), frame_id=run, event_id=index,
                           detections=(DetectionInfo("0", "deer", 0.5 + (index % 50) / 100, 1,
                                                     "fake", (10.0, 20.0, 30.0, 40.0)),),
                           thumbnail=thumb)


def main(argv: list[str] | None = None) -> int:
    """Run the worker; 0 when everything was delivered, 2 on a setup error."""
    parser = argparse.ArgumentParser(prog="python -m wildcam.upload.worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--produce", type=int, default=0, help="frames to store")
    parser.add_argument("--run", default="run", help="name of the synthetic frames")
    parser.add_argument("--start", type=int, default=0, help="index of the first frame")
    parser.add_argument("--thumbnail-bytes", type=int, default=2048)
    parser.add_argument("--no-fsync", action="store_true", help="durability off (baseline)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    try:
        cfg = build_config(UploaderConfig, {
            "gateway_url": args.gateway, "token_file": args.token_file, "queue_dir": args.queue,
            "batch_max_items": args.batch, "backoff_base_s": 0.05, "backoff_max_s": 0.5,
            "idle_period_s": 0.05, "link_backend": "simulated", "compression": "none"})
        queue = DurableQueue(cfg.queue_path, int(cfg.quota_mb * 1024 * 1024), cfg.ttl_s,
                             fsync=not args.no_fsync)
        transport = make_transport(cfg)
        engine = UploadEngine(queue, transport, make_link(cfg, transport), cfg,
                              energy=lambda n: 0.0)
    except WildcamError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    out = sys.stdout
    out.write(f"ready rss_kb={_rss_kb()}\n")
    out.flush()
    start = time.perf_counter()
    sender = SenderThread(engine).start()
    for index in range(args.start, args.start + args.produce):
        result = queue.put(items_for_frame(
            synthetic_frame(args.run, index, args.thumbnail_bytes), False))
        out.write("".join(f"stored {key}\n" for key in result.stored))
        out.flush()
        sender.wake()
    deadline = time.monotonic() + args.timeout
    while queue.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)
    left = queue.waiting()
    sender.stop()
    out.write(f"done left={left} seconds={time.perf_counter() - start:.4f} "
              f"rss_kb={_rss_kb()}\n")
    out.flush()
    return 0 if left == 0 else 1


def _rss_kb() -> int:
    try:
        with open(f"/proc/{os.getpid()}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
