"""A headless uploader process: the node's queue and sender without ROS.

``python bench/upload_worker.py --queue DIR --gateway URL --token-file F [--produce N]``
stores ``N`` synthetic frames (metadata + thumbnail each; a line ``stored <key>`` is printed
and flushed only after the queue acknowledged the item as stored) while the sender uploads, and
exits once everything is acknowledged by the gateway. Crash tests ``kill -9`` it at random
moments and run it again with ``--produce 0`` to drain what was left; the benchmark uses it too.

``--poison-every K`` adds, with every K-th frame, an item the gateway refuses (a thumbnail of
``--poison-bytes`` incompressible bytes, over a small gateway's body limit: ``poison-<run>-<i>``)
and one that breaks the wire limits (a 64 KiB class: dead-lettered when queued). A put that
fails for a full disk prints ``full`` and the worker goes on with the next frame.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

from wildcam.errors import StorageError, WildcamError
from wildcam.params import build_config
from wildcam.upload.config import UploaderConfig
from wildcam.upload.engine import SenderThread, UploadEngine, make_link, make_transport
from wildcam.upload.items import DetectionInfo, FrameDetections, items_for_frame
from wildcam.upload.queue import DurableQueue, NewItem

__all__ = ["main", "poison_items", "synthetic_frame"]


def synthetic_frame(run: str, index: int, thumbnail_bytes: int = 2048) -> FrameDetections:
    """A deterministic frame ``index`` of ``run`` (payloads are pseudo-random bytes)."""
    seed = f"{run}:{index}".encode()
    thumb = (seed * (thumbnail_bytes // len(seed) + 1))[:thumbnail_bytes]
    return FrameDetections(
        stamp_ns=1_000_000_000 * (index + 1),
        frame_id=run,
        event_id=index,
        detections=(
            DetectionInfo(
                "0", "deer", 0.5 + (index % 50) / 100, 1, "fake", (10.0, 20.0, 30.0, 40.0)
            ),
        ),
        thumbnail=thumb,
    )


def poison_items(run: str, index: int, size: int) -> list[NewItem]:
    """The poison items of frame ``index``: one the gateway refuses (too large), one that is
    invalid on the wire (dead-lettered when queued)."""
    data = random.Random(f"{run}:{index}").randbytes(size)
    return [
        NewItem(key=f"poison-{run}-{index}", kind="thumbnail", payload=data, score=0.99),
        NewItem(
            key=f"poison-invalid-{run}-{index}",
            kind="thumbnail",
            payload=b"x",
            class_id="c" * 65536,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the worker; 0 when everything was delivered, 2 on a setup error."""
    parser = argparse.ArgumentParser(
        prog="bench/upload_worker.py", description=__doc__.splitlines()[0]
    )
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
    parser.add_argument("--poison-every", type=int, default=0)
    parser.add_argument("--poison-bytes", type=int, default=300_000)
    args = parser.parse_args(argv)
    try:
        cfg = build_config(
            UploaderConfig,
            {
                "gateway_url": args.gateway,
                "token_file": args.token_file,
                "queue_dir": args.queue,
                "batch_max_items": args.batch,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.5,
                "idle_period_s": 0.05,
                "link_backend": "simulated",
                "compression": "none",
            },
        )
        queue = DurableQueue(
            cfg.queue_path, int(cfg.quota_mb * 1024 * 1024), cfg.ttl_s, fsync=not args.no_fsync
        )
        transport = make_transport(cfg)
        engine = UploadEngine(
            queue, transport, make_link(cfg, transport), cfg, energy=lambda n: 0.0
        )
    except WildcamError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    out = sys.stdout
    out.write(f"ready rss_kb={_rss_kb()}\n")
    out.flush()
    start = time.perf_counter()
    sender = SenderThread(engine).start()
    for index in range(args.start, args.start + args.produce):
        items = items_for_frame(synthetic_frame(args.run, index, args.thumbnail_bytes), False)
        if args.poison_every and index % args.poison_every == args.poison_every - 1:
            items += poison_items(args.run, index, args.poison_bytes)
        try:
            result = queue.put(items)
        except StorageError:
            out.write("full\n")
            out.flush()
            time.sleep(0.01)
            continue
        out.write("".join(f"stored {key}\n" for key in result.stored))
        out.flush()
        sender.wake()
    deadline = time.monotonic() + args.timeout
    while queue.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)
    left = queue.waiting()
    sender.stop()
    out.write(f"done left={left} seconds={time.perf_counter() - start:.4f} rss_kb={_rss_kb()}\n")
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
