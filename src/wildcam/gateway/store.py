"""The gateway's durable store: content-addressed payload files and a SQLite (WAL) index.

Payloads are addressed by their SHA-256: larger ones are files ``blobs/<sha256>`` (the only
names on disk are digests: nothing a client sends becomes a path), small ones (up to
``inline_max_bytes``) rows of the ``blobs`` table, which saves two fsyncs per item. An item's
row — its idempotency key (unique), digest, kind and metadata — is committed (``synchronous=
FULL``) in the same transaction as its small payload, or after its payload file is fsync'd and
renamed into place; the gateway acknowledges a key only after that commit. An acknowledged item
survives a crash, and a key sent again is answered ``duplicate`` without storing anything twice.

Opening the store removes what a crash left behind, counted (``cleaned_tmp``,
``cleaned_orphans``): unfinished ``.tmp-`` files, and payload files no item and no published
update refers to (a crash between a payload's rename and its row's commit; update files uploaded
but never published). Everything is created 0600 (directories 0700).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wildcam.errors import StorageError
from wildcam.fileio import fsync_directory, private_dir, write_durably
from wildcam.upload.wire import Record

__all__ = ["GatewayStore"]

_SHA = re.compile(r"^[0-9a-f]{64}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    score REAL NOT NULL,
    class_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    meta TEXT NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    update_id TEXT NOT NULL UNIQUE,
    manifest BLOB NOT NULL,
    signature BLOB NOT NULL,
    published REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Columns added after the first release (a store made before gets them when it opens): the
# device an item came from (its token's; '' = the shared token), and an update's target and
# rollout (see wildcam.gateway.devices).
_ADDED = (
    ("items", "device", "TEXT NOT NULL DEFAULT ''"),
    ("updates", "target_device", "TEXT NOT NULL DEFAULT ''"),
    ("updates", "target_group", "TEXT NOT NULL DEFAULT ''"),
    ("updates", "share", "REAL NOT NULL DEFAULT 1.0"),
    ("updates", "halted", "TEXT NOT NULL DEFAULT ''"),
)
_UPDATE_COLUMNS = (
    "seq",
    "update_id",
    "manifest",
    "signature",
    "target_device",
    "target_group",
    "share",
    "halted",
)


class GatewayStore:
    """Items and published updates on disk (thread-safe)."""

    def __init__(self, directory: Path, inline_max_bytes: int = 64 * 1024) -> None:
        self.directory = Path(directory)
        self.inline_max_bytes = inline_max_bytes
        self.blob_dir = self.directory / "blobs"
        self._lock = threading.Lock()
        try:
            private_dir(self.directory)
            private_dir(self.blob_dir)
            db = self.directory / "gateway.db"
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))  # -wal/-shm get its mode
            os.chmod(db, 0o600)
            self._db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            for table, column, decl in _ADDED:
                names = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in names:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
            self._clean_up()
        except (OSError, sqlite3.Error) as err:
            raise StorageError(
                f"cannot open the gateway store in {self.directory}: {err}"
            ) from err

    def _referenced(self) -> set[str]:
        refs = {r[0] for r in self._db.execute("SELECT DISTINCT sha256 FROM items")}
        for (manifest,) in self._db.execute("SELECT manifest FROM updates"):
            try:
                files = json.loads(bytes(manifest)).get("files", [])
                refs |= {str(f.get("sha256")) for f in files if isinstance(f, dict)}
            except (ValueError, AttributeError, RecursionError):
                continue
        return refs

    def _clean_up(self) -> None:
        """Remove unfinished temporary files and payload files nothing refers to (counted)."""
        names = [p.name for p in self.blob_dir.iterdir()]
        tmp = [n for n in names if n.startswith(".tmp-")]
        refs = self._referenced()
        orphans = [n for n in names if not n.startswith(".tmp-") and n not in refs]
        for name in tmp + orphans:
            (self.blob_dir / name).unlink(missing_ok=True)
        if tmp or orphans:
            fsync_directory(self.blob_dir)
            self._count("cleaned_tmp", len(tmp))
            self._count("cleaned_orphans", len(orphans))

    def _write_file(self, sha: str, data: bytes) -> bool:
        """Write a large payload's file (fsync'd, renamed); False if it was there already."""
        path = self.blob_dir / sha
        if path.exists():
            return False
        try:
            write_durably(path, data, path.with_name(f".tmp-{sha}-{threading.get_ident()}"))
        except OSError as err:
            raise StorageError(f"cannot store payload {sha}: {err}") from err
        return True

    def _stage(self, payloads: Sequence[bytes]) -> list[tuple[str, bytes | None]]:
        """Digest each payload; write the large ones to files (one directory fsync). Small
        payloads come back to be inserted with the rows; large ones as (sha, None)."""
        staged: list[tuple[str, bytes | None]] = []
        wrote = False
        for data in payloads:
            sha = hashlib.sha256(data).hexdigest()
            if len(data) > self.inline_max_bytes:
                wrote |= self._write_file(sha, data)
                staged.append((sha, None))
            else:
                staged.append((sha, data))
        if wrote:
            try:
                fsync_directory(self.blob_dir)
            except OSError as err:
                raise StorageError(f"cannot sync {self.blob_dir}: {err}") from err
        return staged

    def _insert_blobs(self, staged: Sequence[tuple[str, bytes | None]]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO blobs (sha256, data) VALUES (?, ?)",
            [(sha, data) for sha, data in staged if data is not None],
        )

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` durably under its digest; the digest."""
        staged = self._stage([data])
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._insert_blobs(staged)
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"gateway blob write failed: {err}") from err
        return staged[0][0]

    def blob_source(self, sha: str) -> tuple[Path | None, bytes | None]:
        """Where the payload with digest ``sha`` is: (its file, None), (None, its bytes) when
        small, (None, None) if unknown or not a digest."""
        if not _SHA.match(sha):
            return None, None
        with self._lock:
            row = self._db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
        if row is not None:
            return None, bytes(row[0])
        path = self.blob_dir / sha
        return (path, None) if path.is_file() else (None, None)

    def has_blob(self, sha: str) -> bool:
        """Whether a payload with digest ``sha`` is stored."""
        return self.blob_source(sha) != (None, None)

    def blob(self, sha: str) -> bytes | None:
        """The payload with digest ``sha`` (None if unknown or not a digest)."""
        path, data = self.blob_source(sha)
        return path.read_bytes() if path is not None else data

    def _count(self, name: str, n: int = 1) -> None:
        if n:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                "DO UPDATE SET value = value + excluded.value",
                (name, n),
            )

    def count(self, name: str, n: int = 1) -> None:
        """Add to a persistent counter (e.g. refused requests)."""
        with self._lock:
            self._count(name, n)

    def ingest(self, records: Sequence[Record], device: str = "") -> list[dict[str, str]]:
        """Store a batch from ``device`` ('' = the shared token); one ``{"key", "status",
        "reason"}`` per record (see the wire format)."""
        results: list[dict[str, str]] = []
        good: list[Record] = []
        for rec in records:
            problem = rec.problem()
            if problem:
                results.append({"key": rec.key, "status": "invalid", "reason": problem})
            else:
                good.append(rec)
        staged = self._stage([rec.payload for rec in good])
        now = time.time()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._insert_blobs(staged)
                stored = duplicates = 0
                for rec, (sha, _) in zip(good, staged, strict=True):
                    h = rec.header
                    row = self._db.execute(
                        "SELECT sha256 FROM items WHERE key = ?", (rec.key,)
                    ).fetchone()
                    if row is not None:
                        status = "duplicate" if row[0] == sha else "conflict"
                        duplicates += 1
                        results.append(
                            {
                                "key": rec.key,
                                "status": status,
                                "reason": ""
                                if status == "duplicate"
                                else "key stored before with other content",
                            }
                        )
                        continue
                    self._db.execute(
                        "INSERT INTO items (key, sha256, size, kind, priority, score, class_id, "
                        "content_type, meta, received, device) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            rec.key,
                            sha,
                            len(rec.payload),
                            str(h["kind"]),
                            int(h.get("priority", 0)),
                            float(h.get("score", 0.0)),
                            str(h.get("class_id", "")),
                            str(h.get("content_type", "")),
                            json.dumps(h.get("meta", {}), separators=(",", ":")),
                            now,
                            device,
                        ),
                    )
                    stored += 1
                    results.append({"key": rec.key, "status": "stored", "reason": ""})
                self._count("stored", stored)
                self._count("duplicates", duplicates)
                self._db.execute("COMMIT")
            except Exception as err:  # never leave the transaction open (the next would 503)
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"gateway index write failed: {err}") from err
        return results

    def items(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Stored items with ``seq > after``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, key, sha256, size, kind, priority, score, class_id, content_type, "
                "meta, received, device FROM items WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        names = (
            "seq",
            "key",
            "sha256",
            "size",
            "kind",
            "priority",
            "score",
            "class_id",
            "content_type",
            "meta",
            "received",
            "device",
        )
        out = [dict(zip(names, row, strict=True)) for row in rows]
        for item in out:
            item["meta"] = json.loads(item["meta"])
        return out

    def counters(self) -> dict[str, int]:
        """Persistent counters and the item count."""
        with self._lock:
            counters = dict(self._db.execute("SELECT name, value FROM counters"))
            counters["items"] = int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])
        return counters

    def publish_update(
        self,
        update_id: str,
        manifest: bytes,
        signature: bytes,
        *,
        device: str = "",
        group: str = "",
        share: float = 1.0,
    ) -> int:
        """Record a published update for every device, one ``device`` or the first ``share``
        of ``group`` (see wildcam.gateway.devices); its sequence number (re-publishing an id
        replaces it)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM updates WHERE update_id = ?", (update_id,))
                cur = self._db.execute(
                    "INSERT INTO updates (update_id, manifest, signature, published, "
                    "target_device, target_group, share) VALUES (?,?,?,?,?,?,?)",
                    (update_id, manifest, signature, time.time(), device, group, share),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"cannot record update {update_id}: {err}") from err
            return int(cur.lastrowid or 0)

    def updates(self, after: int = 0) -> list[dict[str, Any]]:
        """Published updates with ``seq > after``: seq, update_id, manifest, signature (bytes),
        target_device, target_group, share, halted."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_UPDATE_COLUMNS)} FROM updates WHERE seq > ? ORDER BY seq",
                (after,),
            ).fetchall()
        out = [dict(zip(_UPDATE_COLUMNS, r, strict=True)) for r in rows]
        for u in out:
            u["manifest"], u["signature"] = bytes(u["manifest"]), bytes(u["signature"])
        return out

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            self._db.close()
