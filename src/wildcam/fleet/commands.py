"""The bridge's memory of the commands it ran: each command id with its acknowledgement, in
SQLite next to the outbox, so a command redelivered after the bridge restarted (a QoS 1
redelivery, or an operator resending it) is acknowledged again, not run twice. No rclpy.

The memory is bounded: at most ``capacity`` ids, none older than ``max_age_s``; an id seen again
after that runs again. The age limit is well past the MQTT 5 session expiry
(:data:`~wildcam.fleet.link.SESSION_EXPIRY_S`, a week), the longest the broker keeps a command
for the device. An id is recorded after its command ran: a crash between the two (milliseconds)
runs it once more when the broker redelivers it, which for the bridge's commands (set a mode or
parameters, send the status, check for updates) changes nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wildcam.errors import StorageError

__all__ = ["COMMAND_IDS_MAX", "COMMAND_IDS_MAX_AGE_S", "CommandLog"]

COMMAND_IDS_MAX = 10_000  # at most ~0.7 kB each (an acknowledgement): a few MB at most
COMMAND_IDS_MAX_AGE_S = 30 * 86400.0  # past the MQTT 5 session expiry (a week)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    ack TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_at ON commands (at);
"""


class CommandLog:
    """Command ids and their acknowledgements, durable (thread-safe)."""

    def __init__(
        self,
        path: Path,
        capacity: int = COMMAND_IDS_MAX,
        max_age_s: float = COMMAND_IDS_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.capacity, self.max_age_s, self.clock = capacity, max_age_s, clock
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # -wal/-shm inherit it
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"cannot open the command log {path}: {err}") from err

    def get(self, command_id: str) -> dict[str, Any] | None:
        """The acknowledgement of ``command_id`` if it ran within the age limit."""
        with self._lock:
            row = self._db.execute(
                "SELECT ack FROM commands WHERE id = ? AND at >= ?",
                (command_id, self.clock() - self.max_age_s),
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def record(self, command_id: str, ack: dict[str, Any]) -> None:
        """Remember that ``command_id`` ran with ``ack``; forget what is too old or too many."""
        now = self.clock()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR REPLACE INTO commands (id, ack, at) VALUES (?, ?, ?)",
                    (command_id, json.dumps(ack, separators=(",", ":")), now),
                )
                self._db.execute("DELETE FROM commands WHERE at < ?", (now - self.max_age_s,))
                self._db.execute(
                    "DELETE FROM commands WHERE id IN (SELECT id FROM commands "
                    "ORDER BY at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (self.capacity,),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"command log write failed: {err}") from err

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM commands").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
