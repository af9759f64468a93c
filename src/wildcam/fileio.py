"""Files that survive a crash and stay private: owner-only directories and durable writes.

Everything wildcam writes that holds device data (queue, store, OTA state, the power manager's
state, the charge counter) goes through here, so each is created 0700/0600 and replaced whole
(temporary file, fsync, rename). Imports nothing heavy: the power nodes use it too.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_directory", "private_dir", "write_durably"]


def private_dir(path: Path) -> Path:
    """``path``, created (with its parents) as needed: a directory created here is mode 0700;
    an existing one keeps its mode (it may be a directory someone else shares)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
    return path


def fsync_directory(path: Path) -> None:
    """Make the renames and unlinks in directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes, tmp: Path | None = None, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` (mode 0600) through ``tmp`` (default ``<path>.tmp``),
    fsync'd unless ``sync`` is false, then renamed; the temporary file is removed on failure.
    The rename itself is durable only after :func:`fsync_directory` of the parent."""
    tmp = tmp or path.with_name(path.name + ".tmp")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
