"""What the power manager must not forget across a sleep (a halt and a boot, or a restart): the
mode and its reason, the device state and its reason, and the lifetime energy budget spent so far.

One small JSON file in the node's state directory, written atomically (a 0600 temporary file in
the same directory, fsync, rename, fsync of the directory) on every change, read back at start.
A file that cannot be read is kept aside as ``<name>.bad`` and the manager starts afresh; the
upload queue is durable on its own (:mod:`wildcam.upload.queue`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from wildcam.errors import InputError
from wildcam.fileio import fsync_directory, private_dir, write_durably

__all__ = ["DurableState", "load_state", "save_state"]

VERSION = 1


@dataclass(frozen=True)
class DurableState:
    """The manager's state that survives a sleep; times are the node clock's seconds."""

    mode: str
    mode_reason: str
    device_state: str
    device_state_reason: str
    budget_spent_j: float = 0.0
    saved_at_s: float = math.nan
    budget_start_s: float = math.nan  # when the lifetime budget began


def save_state(path: Path, state: DurableState) -> None:
    """Write ``state`` to ``path`` atomically, readable by the owner only."""
    private_dir(path.parent)
    write_durably(
        path,
        json.dumps({"version": VERSION, **asdict(state)}).encode(),
        path.with_name(f".{path.name}.tmp"),
    )
    fsync_directory(path.parent)


def _parse(path: Path) -> DurableState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read power state {path}: {err}") from err
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise InputError(f"power state {path} is not a version {VERSION} state file")
    names = {f.name for f in fields(DurableState)}
    try:
        state = DurableState(**{k: v for k, v in data.items() if k in names})
    except TypeError as err:
        raise InputError(f"power state {path}: {err}") from err
    if (
        not all(
            isinstance(getattr(state, k), str)
            for k in ("mode", "mode_reason", "device_state", "device_state_reason")
        )
        or not isinstance(state.budget_spent_j, (int, float))
        or state.budget_spent_j < 0
    ):
        raise InputError(f"power state {path} has fields of the wrong type")
    return state


def load_state(path: Path) -> tuple[DurableState | None, str]:
    """The saved state (None when there is none) and a note on what happened.

    A damaged file is renamed ``<name>.bad`` (kept for inspection) and None is returned.
    """
    if not path.is_file():
        return None, f"no saved power state at {path}: starting afresh"
    try:
        return _parse(path), f"power state resumed from {path}"
    except InputError as err:
        path.replace(path.with_name(path.name + ".bad"))
        return None, f"{err}; kept as {path.name}.bad, starting afresh"
