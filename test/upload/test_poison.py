"""Poison items, a full disk and a damaged index: quarantined, drained, recovered — never a
resend loop, never silent loss. Every loop here is bounded in steps."""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from upload_helpers import engine, frame, item  # test-local helpers

from wildcam.errors import StorageError
from wildcam.gateway import Gateway
from wildcam.upload.items import DetectionInfo, FrameDetections, items_for_frame
from wildcam.upload.queue import DurableQueue, NewItem, QueueDamagedError


def gateway_keys(gw: Gateway) -> Counter[str]:
    return Counter(i["key"] for i in gw.store.items(limit=100000))


def run_until_empty(eng, queue: DurableQueue, max_steps: int = 300) -> int:  # type: ignore[no-untyped-def]
    for n in range(max_steps):
        if queue.waiting() == 0:
            return n
        eng.step()
        eng._retry_at = 0.0  # no waiting out backoffs in a test: the step count bounds it
    raise AssertionError(f"queue still holds {queue.waiting()} item(s) after {max_steps} steps")


def test_poison_items_are_dead_lettered_and_never_block_the_rest(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    queue = DurableQueue(tmp_path / "q", 10**8, 3600)
    keys = list(queue.put([item(f"k{i:02d}", score=0.9 - i / 100) for i in range(20)]).stored)
    # rows an older uploader queued before the limits existed: a 70 KiB class (the gateway
    # refuses the whole batch: 400) and meta nested 30 deep (refused on its own: invalid)
    queue._db.execute("UPDATE items SET class_id = ? WHERE key = 'k03'", ("c" * 70_000,))
    deep: object = {}
    for _ in range(30):
        deep = {"d": deep}
    queue._db.execute("UPDATE items SET meta = ? WHERE key = 'k11'", (json.dumps(deep),))
    eng = engine(queue, gateway.url, token_file, batch_max_items=8)
    run_until_empty(eng, queue)
    assert set(gateway_keys(gateway)) == set(keys) - {"k03", "k11"}
    assert max(gateway_keys(gateway).values()) == 1
    letters = {d.key: d.reason for d in queue.dead_letters()}
    assert set(letters) == {"k03", "k11"}
    assert "400" in letters["k03"] and "nested deeper" in letters["k11"]
    stats = queue.stats()
    assert stats.dead_letters == 2 and stats.counters["dead_lettered"] == 2 and stats.depth == 0
    assert eng.counters.dead_lettered == 2 and "k" in eng.counters.last_dead_letter


def test_bad_detections_are_dropped_one_by_one_not_the_frame(tmp_path: Path) -> None:
    good = DetectionInfo("0", "deer", 0.9, 1, "m", (1.0, 2.0, 3.0, 4.0))
    frame_ = FrameDetections(
        stamp_ns=5,
        frame_id="cam",
        event_id=1,
        thumbnail=b"jpeg",
        detections=(
            good,
            DetectionInfo("1", "deer", math.nan, 1, "m", (1.0, 2.0, 3.0, 4.0)),
            DetectionInfo("2", "fox", 0.99, 1, "m", (math.inf, 2.0, 3.0, 4.0)),
            DetectionInfo("3", "x" * 65536, 0.95, 1, "m", (1.0, 2.0, 3.0, 4.0)),
        ),
    )
    items = items_for_frame(frame_, False)
    meta = json.loads(items[0].payload)
    assert [d["id"] for d in meta["detections"]] == ["0"] and items[0].class_id == "deer"
    queue = DurableQueue(tmp_path / "q", 10**6, 3600)
    assert len(queue.put(items).stored) == 2  # metadata and thumbnail: the frame is kept


def test_an_item_that_breaks_the_wire_limits_is_dead_lettered_when_queued(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q", 10**6, 3600)
    result = queue.put(
        [
            item("ok"),
            NewItem(key="huge-class", kind="thumbnail", payload=b"x", class_id="c" * 65536),
            NewItem(key="nan", kind="thumbnail", payload=b"y", score=math.nan),
        ]
    )
    assert result.stored == ("ok",) and set(result.invalid) == {"huge-class", "nan"}
    assert queue.stats().dead_letters == 2 and queue.waiting() == 1


class AckFails(DurableQueue):
    """A queue on a full disk: recording acknowledgements fails ``failures`` times."""

    failures = 0

    def ack(self, keys):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise StorageError("upload queue update failed: database or disk is full")
        return super().ack(keys)


def test_no_resend_while_acknowledgements_cannot_be_recorded(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    queue = AckFails(tmp_path / "q", 10**8, 3600)
    keys = list(queue.put([item(f"k{i}") for i in range(6)]).stored)
    queue.failures = 5
    eng = engine(queue, gateway.url, token_file, batch_max_items=64)
    run_until_empty(eng, queue, max_steps=20)
    assert eng.counters.requests == 1  # the batch went out once; only the deletion was retried
    assert gateway_keys(gateway) == Counter(keys)
    assert gateway.store.counters().get("duplicates", 0) == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs (needs root and mount rights; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_drains_once_the_gateway_acknowledges(
    small_disk: Path, gateway: Gateway, token_file: Path
) -> None:
    queue = DurableQueue(
        small_disk / "q", 10**9, 3600, inline_max_bytes=16 * 1024, reserve_bytes=256 * 1024
    )
    stored: list[str] = []
    with pytest.raises(StorageError, match="disk full"):
        for i in range(200):  # 3 MiB / 40 KiB: full long before the bound
            stored += queue.put(items_for_frame(frame(i, thumb=40_000), False)).stored
    filler = small_disk / "other-writer"  # the rest of the disk goes to someone else
    with pytest.raises(OSError), open(filler, "wb") as fh:
        for _ in range(1000):
            fh.write(os.urandom(64 * 1024))
            fh.flush()
    eng = engine(queue, gateway.url, token_file, batch_max_items=16)
    run_until_empty(eng, queue)
    assert gateway_keys(gateway) == Counter(stored)
    assert gateway.store.counters().get("duplicates", 0) == 0
    assert queue.check() == []
    filler.unlink()
    assert queue.put(items_for_frame(frame(999, thumb=40_000), False)).stored
    assert queue.stats().reserve_held


def _queue_with_files(directory: Path, n: int) -> list[str]:
    queue = DurableQueue(directory, 10**8, 3600, inline_max_bytes=100)
    keys = list(queue.put([item(f"k{i}", size=500) for i in range(n)]).stored)
    queue.close()
    return keys


@pytest.mark.parametrize("damage", ["empty", "missing", "corrupt"])
def test_a_damaged_index_never_costs_the_payload_files(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "q"
    keys = _queue_with_files(directory, 5)
    db = directory / "queue.db"
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "missing":
        db.unlink()
    else:
        db.write_bytes(b"garbage, not SQLite" * 200)
    with pytest.raises(QueueDamagedError, match="recovered 5 item"):
        DurableQueue(directory, 10**8, 3600, inline_max_bytes=100)
    assert list((directory / "aside").iterdir())  # the old index is kept for a look
    queue = DurableQueue(directory, 10**8, 3600, inline_max_bytes=100)  # sound now
    assert sorted(it.key for it in queue.next_batch(100, 10**8)) == sorted(keys)
    assert queue.stats().counters["recovered"] == 5 and queue.check() == []


def test_payload_files_without_rows_are_recovered_not_deleted(tmp_path: Path) -> None:
    directory = tmp_path / "q"
    _queue_with_files(directory, 3)
    queue = DurableQueue(directory, 10**8, 3600, inline_max_bytes=100)
    queue._db.execute("DELETE FROM items")  # the rows of a lost WAL
    queue.close()
    queue = DurableQueue(directory, 10**8, 3600, inline_max_bytes=100)
    assert queue.waiting() == 3 and queue.stats().counters["recovered"] == 3


def test_everything_the_queue_writes_is_private(tmp_path: Path) -> None:
    _queue_with_files(tmp_path / "q", 2)
    for path in [tmp_path / "q", *(tmp_path / "q").rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"
