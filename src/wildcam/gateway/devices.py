"""The gateway's device registry: who a trap is, its own bearer token, and update rollouts.

Each registered device has an id, a name, a site, a group, the power profile and battery it runs,
and its own bearer token. The registry keeps only the token's SHA-256 (tokens are 32 random
bytes, so a plain digest cannot be reversed); the token itself is shown once, when it is issued
or rotated. Revoking (or rotating) takes effect at the next request: the server looks the token
up in the index for every request (an indexed read of the WAL database, which the CLI changes
from another process), nothing is cached.

Rollouts: an update can target one device or one group (``publish_update`` in
:class:`~wildcam.gateway.store.GatewayStore`), with a ``share`` of the group first. The devices
of a group are ordered by ``sha256(update_id/device_id)`` (stable, and different per update, so
the same traps are not always first); the first ``ceil(share * n)`` see the update. A device
reports each update it was offered (``applied`` or ``failed`` with the reason); one failure
halts the rollout for that group: no further device of it is offered the update until the
operator resumes it. Untargeted updates reach every device, as before.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wildcam.errors import ConfigError, StorageError

__all__ = [
    "DEVICE_SCHEMA",
    "REPORT_STATUSES",
    "Device",
    "DeviceRegistry",
    "in_rollout",
    "offered",
    "token_digest",
    "valid_device_id",
]

REPORT_STATUSES = ("applied", "failed")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TEXT_MAX = 128
DEVICE_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    site TEXT NOT NULL,
    grp TEXT NOT NULL,
    profile TEXT NOT NULL,
    battery TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    rotated REAL NOT NULL,
    revoked REAL
);
CREATE TABLE IF NOT EXISTS update_reports (
    update_id TEXT NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (update_id, device)
);
"""


def valid_device_id(device_id: str) -> bool:
    """Device ids: 1-64 characters of ``[A-Za-z0-9_-]``, starting alphanumeric (they become
    MQTT topic levels, so no ``/``, ``+`` or ``#``)."""
    return bool(_ID.match(device_id))


def token_digest(token: str) -> str:
    """What the registry keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def in_rollout(update_id: str, device_id: str, group_members: list[str], share: float) -> bool:
    """Whether ``device_id`` is in the first ``share`` of its group for ``update_id``."""
    order = sorted(
        group_members, key=lambda d: hashlib.sha256(f"{update_id}/{d}".encode()).hexdigest()
    )
    return device_id in order[: math.ceil(max(0.0, min(1.0, share)) * len(order))]


def offered(
    update: dict[str, Any], device: Device | None, group_members: list[str], reported: bool
) -> bool:
    """Whether ``update`` (a row of the store's updates) is offered to ``device`` (None: the
    shared token, which gets untargeted updates only). Nothing is offered twice to a device
    that reported on it."""
    if reported:
        return False
    if not update["target_device"] and not update["target_group"]:
        return True
    if device is None:
        return False
    if update["target_device"]:
        return bool(update["target_device"] == device.id)
    return (
        device.group == update["target_group"]
        and not update["halted"]
        and in_rollout(update["update_id"], device.id, group_members, update["share"])
    )


@dataclass(frozen=True)
class Device:
    """One registered trap."""

    id: str
    name: str
    site: str
    group: str
    profile: str
    battery: str
    created: float
    rotated: float
    revoked: float | None

    def public(self) -> dict[str, Any]:
        """The device as JSON (no token: the registry does not have it)."""
        return asdict(self)


class DeviceRegistry:
    """Devices and their token digests in the gateway's database (its own connection, so the
    server's lookups never wait for the store's writes)."""

    def __init__(self, db_path: Path) -> None:
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                db_path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(DEVICE_SCHEMA)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open the device registry {db_path}: {err}") from err

    @classmethod
    def in_store(cls, store: Path) -> DeviceRegistry:
        """The registry of the gateway store in directory ``store`` (which must exist)."""
        db = Path(store) / "gateway.db"
        if not db.is_file():
            raise ConfigError(
                f"no gateway store in {store} (run `wildcam gateway --store "
                f"{store}` once, or give --store)"
            )
        return cls(db)

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        with self._lock:
            try:
                return self._db.execute(sql, args).rowcount
            except sqlite3.IntegrityError as err:
                raise ConfigError(f"device registry: {err}") from err
            except sqlite3.Error as err:
                raise StorageError(f"device registry write failed: {err}") from err

    def add(
        self,
        device_id: str,
        name: str = "",
        site: str = "",
        group: str = "",
        profile: str = "",
        battery: str = "",
    ) -> str:
        """Register a device; its new token (shown once)."""
        if not valid_device_id(device_id):
            raise ConfigError(
                f"device id {device_id!r}: 1-64 characters of A-Z a-z 0-9 _ -, "
                "starting with a letter or digit"
            )
        for what, value in (
            ("name", name),
            ("site", site),
            ("group", group),
            ("profile", profile),
            ("battery", battery),
        ):
            if len(value) > _TEXT_MAX or any(c in value for c in "\n\r\0"):
                raise ConfigError(
                    f"device {what} must be one line of at most {_TEXT_MAX} characters"
                )
        if group and not valid_device_id(group):
            raise ConfigError(f"group {group!r}: 1-64 characters of A-Z a-z 0-9 _ -")
        if self.get(device_id) is not None:
            raise ConfigError(
                f"device {device_id} is registered already (rotate its token instead)"
            )
        token, now = secrets.token_urlsafe(32), time.time()
        self._write(
            "INSERT INTO devices (id, name, site, grp, profile, battery, token_sha256, "
            "created, rotated, revoked) VALUES (?,?,?,?,?,?,?,?,?,NULL)",
            (
                device_id,
                name or device_id,
                site,
                group,
                profile,
                battery,
                token_digest(token),
                now,
                now,
            ),
        )
        return token

    def rotate(self, device_id: str) -> str:
        """A new token for ``device_id`` (the old one is refused from now; a revoked device is
        reinstated); the new token."""
        token = secrets.token_urlsafe(32)
        if not self._write(
            "UPDATE devices SET token_sha256 = ?, rotated = ?, revoked = NULL WHERE id = ?",
            (token_digest(token), time.time(), device_id),
        ):
            raise ConfigError(f"no device {device_id}")
        return token

    def revoke(self, device_id: str) -> None:
        """Refuse ``device_id``'s token from the next request on."""
        if not self._write(
            "UPDATE devices SET revoked = ? WHERE id = ?", (time.time(), device_id)
        ):
            raise ConfigError(f"no device {device_id}")

    def _rows(self, where: str, args: tuple[Any, ...]) -> list[Device]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, site, grp, profile, battery, created, rotated, revoked "
                f"FROM devices {where}",
                args,
            ).fetchall()
        return [Device(*row) for row in rows]

    def get(self, device_id: str) -> Device | None:
        """The device ``device_id`` (None if not registered)."""
        found = self._rows("WHERE id = ?", (device_id,))
        return found[0] if found else None

    def all(self, group: str = "") -> list[Device]:
        """Every device (of ``group`` if given), by id."""
        if group:
            return self._rows("WHERE grp = ? ORDER BY id", (group,))
        return self._rows("ORDER BY id", ())

    def any_registered(self) -> bool:
        """Whether any device was ever registered (revoked ones count: revoking every trap must
        not let the shared token back in)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM devices LIMIT 1").fetchone() is not None

    def authenticate(self, token: str) -> Device | None:
        """The active device whose token is ``token`` (None: unknown or revoked)."""
        found = self._rows("WHERE token_sha256 = ? AND revoked IS NULL", (token_digest(token),))
        return found[0] if found else None

    def report(self, update_id: str, device_id: str, status: str, reason: str) -> bool:
        """Record what ``device_id`` did with ``update_id`` (the latest report stands); a
        failure halts the update's group rollout. Whether this report halted it."""
        self._write(
            "INSERT OR REPLACE INTO update_reports (update_id, device, status, reason, "
            "at) VALUES (?,?,?,?,?)",
            (update_id, device_id, status, reason[:500], time.time()),
        )
        return (
            status == "failed"
            and self._write(
                "UPDATE updates SET halted = ? WHERE update_id = ? AND target_group != '' AND "
                "halted = ''",
                (f"{device_id} failed: {reason}"[:500], update_id),
            )
            > 0
        )

    def set_rollout(self, update_id: str, share: float, resume: bool = False) -> int:
        """Widen (or narrow) the group rollout of ``update_id`` to ``share``, resuming a halted
        one only with ``resume``. The update gets a new sequence number, so devices that fetched
        past it see it again (one that reported on it is not offered it twice); that number.
        Works on the table the gateway's store keeps, with a running gateway too."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute(
                    "SELECT update_id, manifest, signature, published, target_device, "
                    "target_group, halted FROM updates WHERE update_id = ? AND "
                    "target_group != ''",
                    (update_id,),
                ).fetchone()
                if row is None or (row[6] and not resume):
                    self._db.execute("ROLLBACK")
                    raise ConfigError(
                        f"no update {update_id} published to a group"
                        if row is None
                        else f"the rollout of {update_id} is halted ({row[6]}): "
                        "resume it explicitly (--resume)"
                    )
                self._db.execute("DELETE FROM updates WHERE update_id = ?", (update_id,))
                seq = self._db.execute(
                    "INSERT INTO updates (update_id, manifest, signature, published, "
                    "target_device, target_group, share) VALUES (?,?,?,?,?,?,?)",
                    (*row[:6], share),
                ).lastrowid
                self._db.execute("COMMIT")
            except sqlite3.Error as err:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"cannot change the rollout of {update_id}: {err}") from err
        return int(seq or 0)

    def reports(self, update_id: str) -> list[dict[str, Any]]:
        """Every device's report on ``update_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device, status, reason, at FROM update_reports "
                "WHERE update_id = ? ORDER BY at",
                (update_id,),
            ).fetchall()
        return [{"device": r[0], "status": r[1], "reason": r[2], "at": r[3]} for r in rows]

    def reported_by(self, device_id: str) -> set[str]:
        """The updates ``device_id`` reported on."""
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id FROM update_reports WHERE device = ?", (device_id,)
            ).fetchall()
        return {r[0] for r in rows}

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
