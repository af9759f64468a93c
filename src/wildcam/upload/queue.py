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

**Reserve.** A file of ``reserve_bytes`` (``reserve``) holds space back. New items are refused
while it cannot be kept; a deletion (acknowledgement, dead letter, expiry) that fails for lack of
space gives the reserve up and tries again, so an acknowledgement can always be recorded, and
the reserve is taken back once there is room.

**Dead letters.** An item the gateway will never take (invalid, too large, key conflict), or one
that breaks the wire limits when it is queued, leaves ``items`` for the ``dead_letter`` table
(key, kind, class, size, digest, reason; its payload is dropped) and is counted
(``dead_lettered``): it never blocks the items behind it.

**No silent loss.** Payload files carry their own header (key, kind, score, class, content type,
digest, meta), so a payload file without a row is put back in the queue (``recovered``) rather
than deleted. A missing, empty or corrupt index in a directory that held a queue (``queue.id``)
is moved aside to ``aside/<time>/``, the payload files are recovered into a new index, and
:class:`QueueDamagedError` says what happened (the node exits with a code bringup does not
respawn); the next open finds a sound queue. Everything is created 0600 (directories 0700).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.errors import EXIT_NEEDS_OPERATOR, StorageError
from wildcam.fileio import fsync_directory, private_dir, write_durably
from wildcam.upload.wire import header_problem

__all__ = [
    "KINDS",
    "PRIORITY",
    "BlobFiles",
    "DeadLetter",
    "DurableQueue",
    "NewItem",
    "PutResult",
    "QueueDamagedError",
    "QueueStats",
    "QueuedItem",
]

PRIORITY = {"metadata": 0, "thumbnail": 1, "full_frame": 2}
KINDS = tuple(PRIORITY)
COUNTERS = (
    "stored",
    "acked",
    "evicted",
    "refused",
    "expired",
    "dead_lettered",
    "lost",
    "recovered",
    "superseded",
)
RESERVE_BYTES = 1024 * 1024  # room for the deletions of a full batch's acknowledgement
_BLOB_MAGIC = b"WCQ1"
_LEN = struct.Struct(">I")


class QueueDamagedError(StorageError):
    """The queue's index was missing, empty or corrupt; what was recoverable was recovered and
    the rest set aside (the message says what). An operator should look before it runs on."""

    exit_code = EXIT_NEEDS_OPERATOR


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600, or make the existing file 0600."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


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
CREATE TABLE IF NOT EXISTS dead_letter (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    class_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    dead_at REAL NOT NULL
);
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

    def header(self) -> dict[str, Any]:
        """The item's wire header (without size and digest)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "priority": self.priority,
            "score": self.score,
            "class_id": self.class_id,
            "content_type": self.content_type,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class DeadLetter:
    """An item set aside for good, and why."""

    key: str
    kind: str
    class_id: str
    size: int
    reason: str
    dead_at: float


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
    invalid: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueStats:
    """Depth and bytes per priority class, and the lifetime counters."""

    depth_by_priority: tuple[int, int, int]
    bytes: int
    dead_letters: int
    counters: dict[str, int]
    reserve_held: bool = True

    @property
    def depth(self) -> int:
        """Items waiting, all classes."""
        return sum(self.depth_by_priority)


class BlobFiles:
    """Payload files in one directory: written durably, read, removed.

    Tests subclass it to inject write failures (e.g. ``OSError(ENOSPC)``).
    """

    def __init__(self, directory: Path, fsync: bool = True) -> None:
        self.directory = directory
        self.fsync = fsync
        private_dir(directory)

    def write(self, name: str, data: bytes) -> None:
        """Write ``name`` (mode 0600) via a temporary file, fsync'd and renamed (no directory
        sync)."""
        write_durably(self.directory / name, data, self.directory / f".tmp-{name}", self.fsync)

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


def _blob_bytes(item: NewItem, digest: str) -> bytes:
    """A payload file: magic, header length, JSON header (what a row holds), payload."""
    header = json.dumps(dict(item.header(), sha256=digest), separators=(",", ":")).encode()
    return _BLOB_MAGIC + _LEN.pack(len(header)) + header + item.payload


def _parse_blob(raw: bytes) -> tuple[dict[str, Any] | None, bytes]:
    """(header, payload) of a payload file; (None, raw) for a file without a header."""
    if not raw.startswith(_BLOB_MAGIC) or len(raw) < 8:
        return None, raw
    (hlen,) = _LEN.unpack_from(raw, 4)
    try:
        header = json.loads(raw[8 : 8 + hlen])
    except (ValueError, RecursionError):
        return None, raw
    return (header if isinstance(header, dict) else None), raw[8 + hlen :]


def _is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in _DISK_FULL:
        return True
    return isinstance(err, sqlite3.OperationalError) and "full" in str(err).lower()


class DurableQueue:
    """The store-and-forward queue (thread-safe: one connection behind a lock).

    ``quota_bytes`` and ``ttl_s`` may be changed at any time (live parameters). ``fsync=False``
    turns durability off (benchmarks only: a crash may then lose acknowledged items).
    """

    def __init__(
        self,
        directory: Path,
        quota_bytes: int,
        ttl_s: float,
        *,
        fsync: bool = True,
        clock: Callable[[], float] = time.time,
        blobs: BlobFiles | None = None,
        inline_max_bytes: int = 64 * 1024,
        reserve_bytes: int = RESERVE_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.quota_bytes = int(quota_bytes)
        self.ttl_s = float(ttl_s)
        self.inline_max_bytes = inline_max_bytes
        self.reserve_bytes = reserve_bytes
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._reserve = self.directory / "reserve"
        self._aside: Path | None = None
        damage = ""
        try:
            private_dir(self.directory)
            self.blobs = blobs or BlobFiles(self.directory / "blobs", fsync)
            damage = self._open_index()
            self._recover()
            aside = self._set_aside(damage) if damage else None
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"cannot open the upload queue in {self.directory}: {err}") from err
        self._used = self._scalar("SELECT COALESCE(SUM(size), 0) FROM items")
        self._take_reserve()
        if damage:
            counters = self.stats().counters
            raise QueueDamagedError(
                f"upload queue index in {self.directory} was {damage}: recovered "
                f"{counters['recovered']} item(s) from payload files, {counters['lost']} "
                f"unreadable; items kept inside the old index (up to {inline_max_bytes} bytes "
                f"each) cannot be recovered or counted; the old index is in {aside}"
            )

    # -- opening and recovery -------------------------------------------------------------------
    def _connect(self) -> None:
        db = self.directory / "queue.db"
        _create_private(db)  # SQLite gives its -wal and -shm files the database file's mode
        self._db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'OFF'}")
        self._db.executescript(_SCHEMA)

    def _open_index(self) -> str:
        """Open (or create) the index; why it was unusable ('' when it was sound). An unusable
        index is moved aside and a new one created."""
        db, marker = self.directory / "queue.db", self.directory / "queue.id"
        had_queue = marker.exists() or bool(self.blobs.names())
        damage = ""
        if had_queue and not db.exists():
            damage = "missing"
        elif had_queue and db.stat().st_size == 0:
            damage = "empty"
        else:
            try:
                self._connect()
                if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    damage = "corrupt (quick_check failed)"
            except sqlite3.DatabaseError as err:
                damage = f"corrupt ({err})"
            if damage:
                self._db.close()
        if damage:
            self._aside = self.directory / "aside" / time.strftime("%Y%m%dT%H%M%S")
            private_dir(self._aside)
            for suffix in ("", "-wal", "-shm"):
                path = self.directory / f"queue.db{suffix}"
                if path.exists():
                    os.replace(path, self._aside / path.name)
            self._connect()
        if not marker.exists():
            _create_private(marker)
        # Rows an older version set aside in the items table become dead letters.
        for (key,) in self._db.execute("SELECT key FROM items WHERE rejected != ''").fetchall():
            self._move_to_dead_letter(key, "rejected before the dead-letter table existed")
        return damage

    def _set_aside(self, damage: str) -> Path:
        assert self._aside is not None
        (self._aside / "REASON").write_text(
            f"index {damage}; payload files recovered into a new index\n"
        )
        return self._aside

    def _recover(self) -> None:
        """Temporary files are removed; a payload file without a row goes back into the queue
        (``recovered``) when its header is sound, else aside (``lost``); rows whose payload file
        is gone are dropped (``lost``)."""
        rows = dict(self._db.execute("SELECT blob, id FROM items WHERE blob != ''").fetchall())
        names = self.blobs.names()
        recovered = lost = 0
        for name in sorted(names - set(rows)):
            if name.startswith(".tmp-"):  # an unfinished write: never reported as stored
                self.blobs.remove(name)
                continue
            header, payload = _parse_blob(self.blobs.read(name))
            if header is not None and self._reinsert(name, header, payload):
                recovered += 1
                continue
            aside = private_dir(self._aside or self.directory / "aside" / "orphans")
            os.replace(self.blobs.directory / name, aside / name)
            lost += 1
        missing = [rows[name] for name in set(rows) - names]
        if missing:  # only possible with fsync off (or someone deleting files)
            self._db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in missing])
            lost += len(missing)
        self._count("recovered", recovered)
        self._count("lost", lost)

    def _reinsert(self, name: str, header: dict[str, Any], payload: bytes) -> bool:
        digest = hashlib.sha256(payload).hexdigest()
        if (
            header.get("sha256") != digest
            or header.get("kind") not in PRIORITY
            or header_problem(header)
        ):
            return False
        if self._db.execute("SELECT 1 FROM items WHERE key = ?", (header["key"],)).fetchone():
            return False
        self._db.execute(
            "INSERT INTO items (key, kind, priority, score, class_id, created, size, sha256, "
            "content_type, meta, blob, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
            (
                header["key"],
                header["kind"],
                PRIORITY[header["kind"]],
                float(header["score"]),
                header["class_id"],
                self._clock(),
                len(payload),
                digest,
                header["content_type"],
                json.dumps(header["meta"], separators=(",", ":")),
                name,
            ),
        )
        return True

    # -- the reserve ----------------------------------------------------------------------------
    def _take_reserve(self) -> bool:
        """Make sure the reserve file exists (mode 0600); False when there is no room for it."""
        if self.reserve_bytes <= 0:
            return True
        try:
            if self._reserve.exists() and self._reserve.stat().st_size >= self.reserve_bytes:
                return True
            fd = os.open(self._reserve, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.reserve_bytes)
            finally:
                os.close(fd)
            return True
        except OSError as err:
            self._reserve.unlink(missing_ok=True)
            if err.errno in _DISK_FULL:
                return False
            raise StorageError(
                f"cannot create the queue's reserve {self._reserve}: {err}"
            ) from err

    # -- internals ------------------------------------------------------------------------------
    def _scalar(self, sql: str, args: Sequence[Any] = ()) -> int:
        return int(self._db.execute(sql, args).fetchone()[0])

    def _count(self, name: str, n: int) -> None:
        if n:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                "DO UPDATE SET value = value + excluded.value",
                (name, n),
            )

    def _victim(self, priority: int, score: float) -> tuple[int, str, int, str] | None:
        """The least important stored item that ranks below (priority, score), if any."""
        row = self._db.execute(
            "SELECT id, key, size, blob FROM items WHERE priority > ? OR "
            "(priority = ? AND score < ?) ORDER BY priority DESC, score ASC, id ASC LIMIT 1",
            (priority, priority, score),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), int(row[2]), str(row[3]))

    def _dead(
        self,
        key: str,
        kind: str,
        class_id: str,
        size: int,
        digest: str,
        reason: str,
        created: float,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO dead_letter (key, kind, class_id, size, sha256, "
            "reason, created, dead_at) VALUES (?,?,?,?,?,?,?,?)",
            (key, kind, class_id[:128], size, digest, reason[:500], created, self._clock()),
        )
        self._count("dead_lettered", 1)

    def _move_to_dead_letter(self, key: str, reason: str) -> tuple[int, str] | None:
        """Move the row of ``key`` (in the open transaction) to the dead-letter table; its
        (size, payload file name), or None when there is no such row."""
        row = self._db.execute(
            "SELECT id, kind, class_id, size, sha256, created, blob FROM items WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        self._db.execute("DELETE FROM items WHERE id = ?", (row[0],))
        self._dead(key, row[1], row[2], row[3], row[4], reason, row[5])
        return int(row[3]), str(row[6])

    # -- API ------------------------------------------------------------------------------------
    def put(self, items: Iterable[NewItem]) -> PutResult:
        """Store ``items`` durably (one transaction); evict or refuse to keep the quota. An item
        that breaks the wire limits goes straight to the dead-letter table (``invalid``)."""
        items = sorted(items, key=lambda i: (i.priority, -i.score))  # most important first
        for item in items:
            if item.kind not in PRIORITY:
                raise StorageError(f"unknown item kind {item.kind!r}; known: {KINDS}")
        stored: list[str] = []
        refused: list[str] = []
        evicted: list[str] = []
        duplicates: list[str] = []
        invalid: dict[str, str] = {}
        unlink: list[str] = []
        written: list[str] = []
        now = self._clock()
        with self._lock:
            if not self._take_reserve():
                raise StorageError(
                    f"upload queue disk full in {self.directory}: no room for "
                    f"the {self.reserve_bytes}-byte reserve; {len(items)} "
                    f"item(s) not stored"
                )
            used = self._used
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for item in items:
                    if self._db.execute(
                        "SELECT 1 FROM items WHERE key = ? UNION ALL SELECT 1 "
                        "FROM dead_letter WHERE key = ?",
                        (item.key, item.key),
                    ).fetchone():
                        duplicates.append(item.key)
                        continue
                    size = len(item.payload)
                    digest = hashlib.sha256(item.payload).hexdigest()
                    problem = header_problem(item.header())
                    if problem:
                        invalid[item.key[:128]] = problem
                        self._dead(
                            item.key[:128],
                            item.kind,
                            item.class_id,
                            size,
                            digest,
                            f"invalid when queued: {problem}",
                            now,
                        )
                        continue
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
                    data: bytes | None
                    name, data = "", item.payload
                    if size > self.inline_max_bytes:
                        name, data = _blob_name(item.key), None
                        self.blobs.write(name, _blob_bytes(item, digest))
                        written.append(name)
                    self._db.execute(
                        "INSERT INTO items (key, kind, priority, score, class_id, created, size, "
                        "sha256, content_type, meta, blob, data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            item.key,
                            item.kind,
                            item.priority,
                            float(item.score),
                            item.class_id,
                            now,
                            size,
                            digest,
                            item.content_type,
                            json.dumps(item.meta, separators=(",", ":")),
                            name,
                            data,
                        ),
                    )
                    self._db.execute(
                        "INSERT INTO classes (class_id, seen) VALUES (?, 1) ON CONFLICT(class_id)"
                        " DO UPDATE SET seen = seen + 1",
                        (item.class_id,),
                    )
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
                    raise StorageError(
                        f"upload queue disk full in {self.directory}: {err}; "
                        f"{len(items)} item(s) not stored"
                    ) from err
                raise StorageError(
                    f"upload queue write failed in {self.directory}: {err}"
                ) from err
            self._used = used
            for name in filter(None, unlink):
                self.blobs.remove(name)
        return PutResult(tuple(stored), tuple(refused), tuple(evicted), tuple(duplicates), invalid)

    def next_batch(
        self, max_items: int, max_bytes: int, max_priority: int = 2
    ) -> list[QueuedItem]:
        """The next items to send, in sending order, payloads loaded (at least one item when
        any is waiting, even if it alone exceeds ``max_bytes``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT i.id, i.key, i.kind, i.priority, i.score, i.class_id, i.created, "
                "i.sha256, i.content_type, i.meta, i.blob, i.size, i.data FROM items i "
                "LEFT JOIN classes c ON c.class_id = i.class_id "
                "WHERE i.rejected = '' AND i.priority <= ? "
                "ORDER BY i.priority ASC, COALESCE(c.seen, 0) ASC, i.score DESC, i.id ASC "
                "LIMIT ?",
                (max_priority, max_items),
            ).fetchall()
            batch: list[QueuedItem] = []
            total = 0
            for row in rows:
                if batch and total + row[11] > max_bytes:
                    break
                try:
                    payload = (
                        bytes(row[12]) if not row[10] else _parse_blob(self.blobs.read(row[10]))[1]
                    )
                except OSError as err:
                    raise StorageError(
                        f"payload of queued item {row[1]} unreadable: {err}"
                    ) from err
                total += len(payload)
                batch.append(
                    QueuedItem(
                        id=row[0],
                        key=row[1],
                        kind=row[2],
                        priority=row[3],
                        score=row[4],
                        class_id=row[5],
                        created=row[6],
                        sha256=row[7],
                        content_type=row[8],
                        meta=json.loads(row[9]),
                        payload=payload,
                    )
                )
            return batch

    def oldest_waiting(self, max_priority: int = 2) -> float | None:
        """Creation time of the oldest sendable item."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(created) FROM items WHERE rejected = '' AND priority <= ?",
                (max_priority,),
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def waiting(self, max_priority: int = 2) -> int:
        """Number of sendable items."""
        with self._lock:
            return self._scalar(
                "SELECT COUNT(*) FROM items WHERE rejected = '' AND priority <= ?", (max_priority,)
            )

    def _write(self, change: Callable[[], list[tuple[int, str]]]) -> list[tuple[int, str]]:
        """Run ``change`` (deletions; returns (size, payload file) per deleted row) in one
        transaction. When it fails for lack of space the reserve is given up and it runs once
        more: a deletion always finds the room to be recorded."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    rows = change()
                    self._db.execute("COMMIT")
                    break
                except sqlite3.Error as err:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    if attempt == 1 and _is_disk_full(err) and self._reserve.exists():
                        self._reserve.unlink()
                        continue
                    raise StorageError(f"upload queue update failed: {err}") from err
            self._used -= sum(size for size, _ in rows)
            for _, name in rows:
                if name:
                    self.blobs.remove(name)
            if self._reserve.exists() or not rows:
                return rows
            try:
                self._take_reserve()  # the deleted payloads may have made room again
            except StorageError:
                pass
            return rows

    def _delete(self, where: str, args: Sequence[Any], counter: str) -> int:
        def change() -> list[tuple[int, str]]:
            rows = self._db.execute(
                f"SELECT id, blob, size FROM items WHERE {where}", args
            ).fetchall()
            self._db.executemany("DELETE FROM items WHERE id = ?", [(r[0],) for r in rows])
            self._count(counter, len(rows))
            return [(int(r[2]), str(r[1])) for r in rows]

        return len(self._write(change))

    def ack(self, keys: Sequence[str]) -> int:
        """Delete items the gateway acknowledged (unknown keys, e.g. evicted meanwhile, are
        ignored); the number deleted."""
        if not keys:
            return 0
        marks = ",".join("?" * len(keys))
        return self._delete(f"key IN ({marks})", list(keys), "acked")

    def supersede(self, key_prefix: str, keep: str) -> int:
        """Drop the waiting items whose key starts with ``key_prefix``, all but ``keep``: for
        state (a status), where only the latest matters; the number dropped (``superseded``)."""
        return self._delete(
            "substr(key, 1, ?) = ? AND key != ?", (len(key_prefix), key_prefix, keep), "superseded"
        )

    def expire(self) -> int:
        """Drop items older than the TTL; the number dropped."""
        return self._delete("created < ?", (self._clock() - self.ttl_s,), "expired")

    def dead_letter(self, key: str, reason: str) -> bool:
        """Move an item the gateway will never take (invalid, too large, key conflict) to the
        dead-letter table with ``reason``; its payload is dropped. False for an unknown key."""

        def change() -> list[tuple[int, str]]:
            moved = self._move_to_dead_letter(key, reason or "refused by the gateway")
            return [] if moved is None else [moved]

        return bool(self._write(change))

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The latest dead letters, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, kind, class_id, size, reason, dead_at FROM "
                "dead_letter ORDER BY dead_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def stats(self) -> QueueStats:
        """Depth per class, bytes, counters."""
        with self._lock:
            depth = [0, 0, 0]
            for priority, n in self._db.execute(
                "SELECT priority, COUNT(*) FROM items WHERE rejected = '' GROUP BY priority"
            ):
                depth[int(priority)] = int(n)
            dead = self._scalar("SELECT COUNT(*) FROM dead_letter")
            counters = {name: 0 for name in COUNTERS}
            counters.update(dict(self._db.execute("SELECT name, value FROM counters")))
            return QueueStats(
                depth_by_priority=(depth[0], depth[1], depth[2]),
                bytes=self._used,
                dead_letters=dead,
                counters=counters,
                reserve_held=self.reserve_bytes <= 0 or self._reserve.exists(),
            )

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
                payload = _parse_blob(self.blobs.read(blob))[1] if blob else bytes(data or b"")
                if hashlib.sha256(payload).hexdigest() != digest:
                    problems.append(f"{key}: payload digest mismatch")
            extra = {n for n in names if not n.startswith(".tmp-")} - {r[1] for r in rows}
            problems += [f"{n}: payload file without a row" for n in sorted(extra)]
            return problems

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            self._db.close()
