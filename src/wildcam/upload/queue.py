"""The durable upload queue: SQLite (WAL) for the index, large payloads in files on disk.

An item is *stored* when :meth:`DurableQueue.put` returns: a payload larger than
``inline_max_bytes`` has been written to a temporary file, fsync'd, renamed into place and the
directory fsync'd; then the index row (holding smaller payloads itself) has been committed with
``synchronous=FULL`` (the WAL is fsync'd at commit). Small payloads (metadata, thumbnails) live in
the row because every separate file costs two more fsyncs per item. A crash at any moment leaves
either no trace of an item or all of it; payload files without a row (a crash between the two
steps, or between a row's deletion and its file's unlink) are swept when the queue opens.

Priority classes: 0 metadata, 1 thumbnail, 2 full frame. Sending order: lower class first, then
rarer class ids (fewer seen so far), then higher score, then older. When the disk quota would be
exceeded the least important item goes first (highest class, lowest score, oldest); an incoming
item that is itself the least important is refused. Every eviction, refusal and TTL expiry is
counted in the index (so the counts survive restarts) and reported by :meth:`stats`.

Writes that fail for lack of space (``ENOSPC``, ``EDQUOT``, SQLite's "disk is full") raise
:class:`~wildcam.errors.StorageError`; the transaction is rolled back and the temporary file
removed, so the queue stays consistent and usable.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.errors import StorageError

__all__ = ["KINDS", "PRIORITY", "BlobFiles", "DurableQueue", "NewItem", "PutResult",
           "QueueStats", "QueuedItem", "fsync_directory"]

PRIORITY = {"metadata": 0, "thumbnail": 1, "full_frame": 2}
KINDS = tuple(PRIORITY)
COUNTERS = ("stored", "acked", "evicted", "refused", "expired", "rejected", "lost")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    score REAL NOT NULL,
    class_id TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    meta TEXT NOT NULL,
    blob TEXT NOT NULL,
    data BLOB,
    rejected TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS items_send ON items (rejected, priority, score DESC, id);
CREATE INDEX IF NOT EXISTS items_created ON items (created);
CREATE TABLE IF NOT EXISTS classes (class_id TEXT PRIMARY KEY, seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@dataclass(frozen=True)
class NewItem:
    """An item to store: its idempotency key, kind, payload and what orders it."""

    key: str
    kind: str
    payload: bytes
    score: float = 0.0
    class_id: str = ""
    content_type: str = "application/octet-stream"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def priority(self) -> int:
        """The priority class of the kind (0 most important)."""
        return PRIORITY[self.kind]


@dataclass(frozen=True)
class QueuedItem:
    """A stored item, with its payload loaded."""

    id: int
    key: str
    kind: str
    priority: int
    score: float
    class_id: str
    created: float
    sha256: str
    content_type: str
    meta: dict[str, Any]
    payload: bytes

    @property
    def size(self) -> int:
        """Payload bytes."""
        return len(self.payload)


@dataclass(frozen=True)
class PutResult:
    """What :meth:`DurableQueue.put` did: keys stored, keys refused (quota), items evicted."""

    stored: tuple[str, ...]
    refused: tuple[str, ...]
    evicted: tuple[str, ...]
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueStats:
    """Depth and bytes per priority class, and the lifetime counters."""

    depth_by_priority: tuple[int, int, int]
    bytes: int
    rejected_waiting: int
    counters: dict[str, int]

    @property
    def depth(self) -> int:
        """Items waiting, all classes."""
        return sum(self.depth_by_priority)


def fsync_directory(path: Path) -> None:
    """Make the renames and unlinks in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobFiles:
    """Payload files in one directory: written durably, read, removed.

    Tests subclass it to inject write failures (e.g. ``OSError(ENOSPC)``).
    """

    def __init__(self, directory: Path, fsync: bool = True) -> None:
        self.directory = directory
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: bytes) -> None:
        """Write ``name`` via a temporary file, fsync'd and renamed (no directory sync)."""
        tmp = self.directory / f".tmp-{name}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            os.replace(tmp, self.directory / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def sync_directory(self) -> None:
        """Make renames and unlinks in the directory durable."""
        if self.fsync:
            fsync_directory(self.directory)

    def read(self, name: str) -> bytes:
        """The content of ``name``."""
        return (self.directory / name).read_bytes()

    def remove(self, name: str) -> None:
        """Remove ``name`` if it exists."""
        (self.directory / name).unlink(missing_ok=True)

    def names(self) -> set[str]:
        """Every payload file (temporary files included)."""
        return {p.name for p in self.directory.iterdir()}


def _blob_name(key: str) -> str:
    # Keys come from us, but file names never do: the name is a digest of the key.
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in _DISK_FULL:
        return True
    return isinstance(err, sqlite3.OperationalError) and "full" in str(err).lower()


class DurableQueue:
    """The store-and-forward queue (thread-safe: one connection behind a lock).

    ``quota_bytes`` and ``ttl_s`` may be changed at any time (live parameters). ``fsync=False``
    turns durability off (benchmarks only: a crash may then lose acknowledged items).
    """

    def __init__(self, directory: Path, quota_bytes: int, ttl_s: float, *, fsync: bool = True,
                 clock: Callable[[], float] = time.time,
                 blobs: BlobFiles | None = None, inline_max_bytes: int = 64 * 1024) -> None:
        self.directory = Path(directory)
        self.quota_bytes = int(quota_bytes)
        self.ttl_s = float(ttl_s)
        self.inline_max_bytes = inline_max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.blobs = blobs or BlobFiles(self.directory / "blobs", fsync)
            self._db = sqlite3.connect(self.directory / "queue.db", isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'OFF'}")
            self._db.executescript(_SCHEMA)
            self._recover()
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"cannot open the upload queue in {self.directory}: {err}") from err
        self._used = self._scalar("SELECT COALESCE(SUM(size), 0) FROM items")

    # -- internals ------------------------------------------------------------------------------
    def _scalar(self, sql: str, args: Sequence[Any] = ()) -> int:
        return int(self._db.execute(sql, args).fetchone()[0])

    def _count(self, name: str, n: int) -> None:
        if n:
            self._db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                             "DO UPDATE SET value = value + excluded.value", (name, n))

    def _recover(self) -> None:
        """Sweep payload files without a row; drop rows whose payload file is gone."""
        rows = dict(self._db.execute("SELECT blob, id FROM items WHERE blob != ''").fetchall())
        for name in self.blobs.names() - set(rows):
            self.blobs.remove(name)
        missing = [rows[name] for name in set(rows) - self.blobs.names()]
        if missing:  # only possible with fsync off (or someone deleting files)
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in missing])
            self._count("lost", len(missing))
            self._db.execute("COMMIT")

    def _victim(self, priority: int, score: float) -> tuple[int, str, int, str] | None:
        """The least important stored item that ranks below (priority, score), if any."""
        row = self._db.execute(
            "SELECT id, key, size, blob FROM items WHERE priority > ? OR "
            "(priority = ? AND score < ?) ORDER BY priority DESC, score ASC, id ASC LIMIT 1",
            (priority, priority, score)).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), int(row[2]), str(row[3]))

    # -- API ------------------------------------------------------------------------------------
    def put(self, items: Iterable[NewItem]) -> PutResult:
        """Store ``items`` durably (one transaction); evict or refuse to keep the quota."""
        items = sorted(items, key=lambda i: (i.priority, -i.score))  # most important first
        for item in items:
            if item.kind not in PRIORITY:
                raise StorageError(f"unknown item kind {item.kind!r}; known: {KINDS}")
        stored: list[str] = []
        refused: list[str] = []
        evicted: list[str] = []
        duplicates: list[str] = []
        unlink: list[str] = []
        written: list[str] = []
        now = self._clock()
        with self._lock:
            used = self._used
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for item in items:
                    if self._db.execute("SELECT 1 FROM items WHERE key = ?",
                                        (item.key,)).fetchone():
                        duplicates.append(item.key)
                        continue
                    size = len(item.payload)
                    while used + size > self.quota_bytes:
                        victim = self._victim(item.priority, item.score)
                        if victim is None:
                            break
                        self._db.execute("DELETE FROM items WHERE id = ?", (victim[0],))
                        used -= victim[2]
                        evicted.append(victim[1])
                        unlink.append(victim[3])
                    if used + size > self.quota_bytes:
                        refused.append(item.key)
                        continue
                    name, data = "", item.payload
                    if size > self.inline_max_bytes:
                        name, data = _blob_name(item.key), None
                        self.blobs.write(name, item.payload)
                        written.append(name)
                    self._db.execute(
                        "INSERT INTO items (key, kind, priority, score, class_id, created, size, "
                        "sha256, content_type, meta, blob, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (item.key, item.kind, item.priority, float(item.score), item.class_id,
                         now, size, hashlib.sha256(item.payload).hexdigest(), item.content_type,
                         json.dumps(item.meta, separators=(",", ":")), name, data))
                    self._db.execute(
                        "INSERT INTO classes (class_id, seen) VALUES (?, 1) ON CONFLICT(class_id)"
                        " DO UPDATE SET seen = seen + 1", (item.class_id,))
                    used += size
                    stored.append(item.key)
                self._count("stored", len(stored))
                self._count("evicted", len(evicted))
                self._count("refused", len(refused))
                if written:
                    self.blobs.sync_directory()  # the renamed files before the rows naming them
                self._db.execute("COMMIT")
            except (OSError, sqlite3.Error) as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                for name in written:
                    self.blobs.remove(name)
                if _is_disk_full(err):
                    raise StorageError(f"upload queue disk full in {self.directory}: {err}; "
                                       f"{len(items)} item(s) not stored") from err
                raise StorageError(f"upload queue write failed in {self.directory}: "
                                   f"{err}") from err
            self._used = used
            for name in filter(None, unlink):
                self.blobs.remove(name)
        return PutResult(tuple(stored), tuple(refused), tuple(evicted), tuple(duplicates))

    def next_batch(self, max_items: int, max_bytes: int,
                   max_priority: int = 2) -> list[QueuedItem]:
        """The next items to send, in sending order, payloads loaded (at least one item when
        any is waiting, even if it alone exceeds ``max_bytes``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT i.id, i.key, i.kind, i.priority, i.score, i.class_id, i.created, "
                "i.sha256, i.content_type, i.meta, i.blob, i.size, i.data FROM items i "
                "LEFT JOIN classes c ON c.class_id = i.class_id "
                "WHERE i.rejected = '' AND i.priority <= ? "
                "ORDER BY i.priority ASC, COALESCE(c.seen, 0) ASC, i.score DESC, i.id ASC "
                "LIMIT ?", (max_priority, max_items)).fetchall()
            batch: list[QueuedItem] = []
            total = 0
            for row in rows:
                if batch and total + row[11] > max_bytes:
                    break
                try:
                    payload = bytes(row[12]) if not row[10] else self.blobs.read(row[10])
                except OSError as err:
                    raise StorageError(f"payload of queued item {row[1]} unreadable: "
                                       f"{err}") from err
                total += len(payload)
                batch.append(QueuedItem(id=row[0], key=row[1], kind=row[2], priority=row[3],
                                        score=row[4], class_id=row[5], created=row[6],
                                        sha256=row[7], content_type=row[8],
                                        meta=json.loads(row[9]), payload=payload))
            return batch

    def oldest_waiting(self, max_priority: int = 2) -> float | None:
        """Creation time of the oldest sendable item."""
        with self._lock:
            row = self._db.execute("SELECT MIN(created) FROM items WHERE rejected = '' "
                                   "AND priority <= ?", (max_priority,)).fetchone()
        return None if row[0] is None else float(row[0])

    def waiting(self, max_priority: int = 2) -> int:
        """Number of sendable items."""
        with self._lock:
            return self._scalar("SELECT COUNT(*) FROM items WHERE rejected = '' "
                                "AND priority <= ?", (max_priority,))

    def _delete(self, where: str, args: Sequence[Any], counter: str) -> int:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                rows = self._db.execute(f"SELECT id, blob, size FROM items WHERE {where}",
                                        args).fetchall()
                self._db.executemany("DELETE FROM items WHERE id = ?", [(r[0],) for r in rows])
                self._count(counter, len(rows))
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"upload queue update failed: {err}") from err
            self._used -= sum(r[2] for r in rows)
            for row in rows:
                if row[1]:
                    self.blobs.remove(row[1])
            return len(rows)

    def ack(self, keys: Sequence[str]) -> int:
        """Delete items the gateway acknowledged (unknown keys, e.g. evicted meanwhile, are
        ignored); the number deleted."""
        if not keys:
            return 0
        marks = ",".join("?" * len(keys))
        return self._delete(f"key IN ({marks})", list(keys), "acked")

    def expire(self) -> int:
        """Drop items older than the TTL; the number dropped."""
        return self._delete("created < ?", (self._clock() - self.ttl_s,), "expired")

    def reject(self, key: str, reason: str) -> None:
        """Keep an item the gateway will never take (e.g. too large) out of the sending order;
        it still counts against the quota and is evicted first among its class."""
        with self._lock:
            cur = self._db.execute("UPDATE items SET rejected = ?, score = -1 WHERE key = ?",
                                   (reason or "rejected", key))
            if cur.rowcount:
                self._count("rejected", 1)

    def stats(self) -> QueueStats:
        """Depth per class, bytes, counters."""
        with self._lock:
            depth = [0, 0, 0]
            for priority, n in self._db.execute(
                    "SELECT priority, COUNT(*) FROM items WHERE rejected = '' GROUP BY priority"):
                depth[int(priority)] = int(n)
            rejected = self._scalar("SELECT COUNT(*) FROM items WHERE rejected != ''")
            counters = {name: 0 for name in COUNTERS}
            counters.update(dict(self._db.execute("SELECT name, value FROM counters")))
            return QueueStats(depth_by_priority=(depth[0], depth[1], depth[2]),
                              bytes=self._used, rejected_waiting=rejected, counters=counters)

    def check(self) -> list[str]:
        """Consistency problems (empty when sound): SQLite integrity, rows vs payload files,
        payload digests."""
        with self._lock:
            problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            rows = self._db.execute("SELECT key, blob, sha256, data FROM items").fetchall()
            names = self.blobs.names()
            for key, blob, digest, data in rows:
                if blob and blob not in names:
                    problems.append(f"{key}: payload file missing")
                    continue
                payload = self.blobs.read(blob) if blob else bytes(data or b"")
                if hashlib.sha256(payload).hexdigest() != digest:
                    problems.append(f"{key}: payload digest mismatch")
            extra = {n for n in names if not n.startswith(".tmp-")} - {r[1] for r in rows}
            problems += [f"{n}: payload file without a row" for n in sorted(extra)]
            return problems

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            self._db.close()
