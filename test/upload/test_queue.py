"""The durable queue: order, durability across reopen, quota eviction, TTL, disk full."""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from upload_helpers import frame, item  # test-local helpers

from wildcam.errors import StorageError
from wildcam.upload.items import DetectionInfo, items_for_frame
from wildcam.upload.queue import BlobFiles, DurableQueue


def keys(batch: list) -> list[str]:  # type: ignore[type-arg]
    return [it.key for it in batch]


def test_sending_order_is_class_then_rarity_then_score(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path / "q", 10**6, 3600)
    q.put(
        [
            item("full", "full_frame", score=0.99),
            item("thumb-low", score=0.2),
            item("meta", "metadata", score=0.1),
            item("thumb-high", score=0.9),
        ]
    )
    q.put([item(f"deer{i}", score=0.95) for i in range(3)])
    q.put([item("lynx", score=0.3, class_id="lynx")])  # rare class goes before common ones
    order = keys(q.next_batch(100, 10**6))
    assert order[0] == "meta"
    assert order[1] == "lynx"
    assert order[2:5] == ["deer0", "deer1", "deer2"]
    assert order[5:] == ["thumb-high", "thumb-low", "full"]
    assert "full" not in keys(q.next_batch(100, 10**6, max_priority=1))
    assert len(q.next_batch(100, 250)) == 2  # byte limit (100-byte payloads)
    assert len(q.next_batch(100, 1)) == 1  # one item always fits


def test_items_survive_reopen_and_stray_files_are_swept(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path / "q", 10**7, 3600, inline_max_bytes=1000)
    q.put(items_for_frame(frame(1, thumb=5000, full=20000), True))
    q.close()
    blobs = tmp_path / "q" / "blobs"
    (blobs / ".tmp-crashed-write").write_bytes(b"half")
    (blobs / ("0" * 40)).write_bytes(b"file of a row never committed")
    q = DurableQueue(tmp_path / "q", 10**7, 3600, inline_max_bytes=1000)
    batch = q.next_batch(10, 10**7)
    assert [it.kind for it in batch] == ["metadata", "thumbnail", "full_frame"]
    assert batch[2].payload == bytes([2]) * 20000
    assert q.check() == []
    assert len(list(blobs.iterdir())) == 2  # thumbnail and full frame only
    assert q.ack(keys(batch)) == 3
    assert q.stats().depth == 0 and q.stats().bytes == 0 and list(blobs.iterdir()) == []


def test_same_frame_twice_is_one_item(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path / "q", 10**6, 3600)
    first = q.put(items_for_frame(frame(3), False))
    again = q.put(items_for_frame(frame(3), False))
    assert len(first.stored) == 2 and again.stored == () and len(again.duplicates) == 2
    assert q.stats().depth == 2


def test_quota_evicts_lowest_priority_first_and_counts(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path / "q", 1000, 3600)
    q.put(
        [
            item("m1", "metadata", 200),
            item("t1", "thumbnail", 200, score=0.9),
            item("t2", "thumbnail", 200, score=0.4),
            item("f1", "full_frame", 200, score=0.99),
            item("f2", "full_frame", 200, score=0.1),
        ]
    )
    result = q.put([item("m2", "metadata", 200)])
    assert result.evicted == ("f2",)  # the full frame with the lowest score
    result = q.put([item("m3", "metadata", 200), item("m4", "metadata", 200)])
    assert result.evicted == ("f1", "t2")
    result = q.put([item("f3", "full_frame", 200, score=1.0)])  # least important itself
    assert result.refused == ("f3",) and result.evicted == ()
    stats = q.stats()
    assert stats.counters["evicted"] == 3 and stats.counters["refused"] == 1
    assert stats.depth_by_priority == (4, 1, 0) and stats.bytes == 1000
    assert q.check() == []
    q.close()
    assert DurableQueue(tmp_path / "q", 1000, 3600).stats().counters["evicted"] == 3


def test_ttl_expiry_is_counted(tmp_path: Path) -> None:
    now = [1000.0]
    q = DurableQueue(tmp_path / "q", 10**6, 60, clock=lambda: now[0])
    q.put([item("old")])
    now[0] += 30
    q.put([item("new")])
    now[0] += 40
    assert q.expire() == 1
    assert keys(q.next_batch(10, 10**6)) == ["new"]
    assert q.stats().counters["expired"] == 1


def test_rejected_item_leaves_the_sending_order_but_is_counted(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path / "q", 10**6, 3600)
    q.put([item("a"), item("b")])
    q.dead_letter("a", "too large")
    assert keys(q.next_batch(10, 10**6)) == ["b"]
    stats = q.stats()
    assert stats.dead_letters == 1 and stats.counters["dead_lettered"] == 1 and stats.depth == 1


class FullDisk(BlobFiles):
    """Payload files on a 'disk' with ``free`` bytes left: ENOSPC beyond."""

    free = 0

    def write(self, name: str, data: bytes) -> None:
        if len(data) > self.free:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.free -= len(data)
        super().write(name, data)


def test_disk_full_is_a_clear_error_and_leaves_the_queue_sound(tmp_path: Path) -> None:
    disk = FullDisk(tmp_path / "q" / "blobs")
    disk.free = 25000
    q = DurableQueue(tmp_path / "q", 10**7, 3600, blobs=disk, inline_max_bytes=1000)
    q.put(items_for_frame(frame(1, thumb=5000, full=15000), True))
    with pytest.raises(StorageError, match="disk full"):
        q.put(items_for_frame(frame(2, thumb=5000, full=15000), True))  # thumbnail fits, frame not
    assert q.check() == []
    assert q.stats().depth == 3  # frame 1 intact, nothing of frame 2
    assert len(list((tmp_path / "q" / "blobs").iterdir())) == 2
    q.ack(keys(q.next_batch(10, 10**7)))
    disk.free = 10**6  # space freed: the queue works again
    assert len(q.put(items_for_frame(frame(2, thumb=5000, full=15000), True)).stored) == 3
    assert q.check() == []


def test_index_full_is_a_clear_error_and_leaves_the_queue_sound(tmp_path: Path) -> None:
    q = DurableQueue(tmp_path / "q", 10**8, 3600)
    q._db.execute("PRAGMA max_page_count = 40")  # a size-limited database file
    stored = 0
    with pytest.raises(StorageError, match="disk full"):
        for i in range(1000):
            stored += len(q.put([item(f"k{i}", size=4000)]).stored)
    assert stored > 0
    assert q.check() == [] and q.stats().depth == stored
    q.ack(keys(q.next_batch(1000, 10**9)))
    assert q.put([item("after", size=4000)]).stored == ("after",)


def test_unopenable_queue_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageError):
        DurableQueue(tmp_path / "file" / "q", 10**6, 3600)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "queue.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError):
        DurableQueue(bad, 10**6, 3600)
    assert sqlite3.sqlite_version_info >= (3, 24)


def test_a_frame_is_its_best_animals_not_the_person_beside_it() -> None:
    base = frame(4)
    walker = DetectionInfo("1", "person", 0.95, 0, "objects_int8", (5.0, 6.0, 7.0, 8.0))
    with_person = replace(base, detections=(*base.detections, walker))
    items = items_for_frame(with_person, False)
    assert {(i.class_id, i.score) for i in items} == {("deer", 0.8)}
    # a frame of people alone (none published today) would still be classed by them
    alone = items_for_frame(replace(base, detections=(walker,)), False)
    assert {i.class_id for i in alone} == {"person"}
