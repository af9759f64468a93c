"""People's verdicts on the gateway's events: correct, wrong, or another species.

Stored beside the gateway's index, in ``<store>/verdicts.db`` (SQLite, WAL, ``synchronous=
FULL``): one row per event (device and event id; the latest verdict wins, its history kept in
the ``history`` table). The Camtrap DP export turns them into ``classificationMethod: human``
observations, and into a labelled hard-example set for training.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from wildcam.errors import InputError, StorageError

__all__ = ["VERDICTS", "Verdict", "VerdictStore"]

VERDICTS = ("correct", "wrong", "species")
"""correct: the machine's call holds; wrong: no animal (a false detection); species: an
animal of the species the reviewer names."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    device TEXT NOT NULL, event TEXT NOT NULL, verdict TEXT NOT NULL, species TEXT NOT NULL,
    reviewer TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (device, event));
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL, event TEXT NOT NULL,
    verdict TEXT NOT NULL, species TEXT NOT NULL, reviewer TEXT NOT NULL, at REAL NOT NULL);
"""


@dataclass(frozen=True)
class Verdict:
    """One person's verdict on one event."""

    device: str
    event: str
    verdict: str
    species: str = ""
    reviewer: str = ""
    at: float = 0.0

    def check(self) -> None:
        """InputError unless the verdict is one of :data:`VERDICTS` (species needs a name)."""
        if self.verdict not in VERDICTS:
            raise InputError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict == "species" and not self.species.strip():
            raise InputError("a 'species' verdict needs the species' name")
        if not self.device or not self.event:
            raise InputError("a verdict needs its device and event")
        if len(self.species) > 200 or len(self.reviewer) > 200:
            raise InputError("species and reviewer are at most 200 characters")


class VerdictStore:
    """The verdicts of one gateway store (thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self._lock = threading.Lock()
        try:
            Path(directory).mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                Path(directory) / "verdicts.db", isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"cannot open the verdicts in {directory}: {err}") from err

    def put(self, verdict: Verdict) -> Verdict:
        """Store ``verdict`` (stamped now) durably; InputError when it is not valid."""
        verdict.check()
        stamped = Verdict(
            verdict.device,
            verdict.event,
            verdict.verdict,
            verdict.species.strip() if verdict.verdict == "species" else "",
            verdict.reviewer,
            time.time(),
        )
        row = (
            stamped.device,
            stamped.event,
            stamped.verdict,
            stamped.species,
            stamped.reviewer,
            stamped.at,
        )
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?)", row)
                self._db.execute(
                    "INSERT INTO history (device, event, verdict, species, "
                    "reviewer, at) VALUES (?,?,?,?,?,?)",
                    row,
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"cannot store the verdict: {err}") from err
        return stamped

    def all(self) -> dict[tuple[str, str], Verdict]:
        """The current verdict of every reviewed event, by (device, event)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device, event, verdict, species, reviewer, at FROM verdicts"
            ).fetchall()
        return {(r[0], r[1]): Verdict(*r) for r in rows}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
