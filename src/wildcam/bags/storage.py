"""Bag storage: the plugins by name, the format version we write, and opening bags to read.

rosbags, apsw/sqlite and the MCAP parser each raise their own exceptions for a missing file,
a directory without ``metadata.yaml``, or a truncated or corrupt storage file; callers of this
module see only :class:`BagError`, with the offending path in the message. Bags are written
as rosbag2 writes them (:func:`bag_writer`), MCAP by default.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import apsw
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import Channel, McapWriter, write_channel, write_string
from rosbags.typesys import TypesysError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from wildcam.errors import BagError

if TYPE_CHECKING:
    from rosbags.interfaces import Connection, ConnectionExtRosbag2

__all__ = [
    "BAG_VERSION",
    "DEFAULT_STORAGE",
    "READ_ERRORS",
    "STORAGES",
    "STORAGE_SUFFIXES",
    "bag_files",
    "bag_writer",
    "messages",
    "open_bag",
    "read_metadata",
]

STORAGES: dict[str, StoragePlugin] = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
DEFAULT_STORAGE = "mcap"  # as `ros2 bag record` since Iron
BAG_VERSION: Literal[9] = 9  # rosbag2 metadata version written by Jazzy and later


class _Rosbag2McapWriter(McapWriter):
    """rosbags' MCAP writer with rosbag2's channel metadata: besides ``offered_qos_profiles``,
    each channel carries ``topic_type_hash`` (the type's RIHS01 hash), as rosbag2's MCAP
    storage plugin writes it since Jazzy."""

    def add_connection(self, connection: Connection, offered_qos_profiles: str) -> None:
        metadata = BytesIO()
        for key, value in (
            ("offered_qos_profiles", offered_qos_profiles),
            ("topic_type_hash", connection.digest),
        ):
            write_string(metadata, key)
            write_string(metadata, value)
        ext = cast("ConnectionExtRosbag2", connection.ext)
        self.channels.append(
            Channel(
                connection.id,
                connection.msgtype,
                connection.topic,
                ext.serialization_format,
                metadata.getvalue(),
            )
        )
        self.channel_stats[connection.id] = 0
        write_channel(self.chunk.bio, self.channels[-1], self.schemas)


_STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _Rosbag2McapWriter}


class _Writer(Writer):
    STORAGE_PLUGINS = _STORAGE_PLUGINS  # rosbags looks its writers up here: MCAP replaced


def bag_writer(output: Path, storage: str = DEFAULT_STORAGE) -> Writer:
    """An unopened rosbag2 writer for ``output`` (``storage``: a key of :data:`STORAGES`)."""
    return _Writer(output, version=BAG_VERSION, storage_plugin=STORAGES[storage])


# What the storage plugins raise on damaged input (besides ReaderError).
READ_ERRORS: tuple[type[BaseException], ...] = (
    ReaderError,
    TypesysError,
    apsw.Error,
    sqlite3.Error,
    OSError,
    EOFError,
    struct.error,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    AssertionError,
    UnicodeDecodeError,
    YAMLError,
)
STORAGE_SUFFIXES = {".db3": "sqlite3", ".mcap": "mcap"}


def _check_exists(bag: Path) -> None:
    if not bag.exists():
        raise BagError(f"bag not found: {bag}")
    if bag.is_dir() and not (bag / "metadata.yaml").is_file():
        raise BagError(f"{bag} is not a rosbag2 bag: it has no metadata.yaml")
    if bag.is_file() and bag.suffix not in STORAGE_SUFFIXES:
        raise BagError(f"{bag} is neither a bag directory nor a .db3/.mcap storage file")


def read_metadata(bag: Path) -> dict[str, object]:
    """Return the ``rosbag2_bagfile_information`` mapping of a bag directory's metadata.yaml."""
    _check_exists(bag)
    path = bag / "metadata.yaml"
    try:
        loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        meta = loaded["rosbag2_bagfile_information"]
        if not isinstance(meta, dict):
            raise TypeError("rosbag2_bagfile_information is not a mapping")
    except (OSError, UnicodeDecodeError, YAMLError, KeyError, TypeError) as err:
        reason = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
        raise BagError(f"unreadable bag metadata {path}: {type(err).__name__}: {reason}") from err
    return meta


def bag_files(bag: Path) -> list[Path]:
    """The storage files of a bag (directory or single storage file), as listed in its metadata."""
    _check_exists(bag)
    if bag.is_file():
        return [bag]
    names = read_metadata(bag).get("relative_file_paths")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BagError(f"bag metadata {bag / 'metadata.yaml'} lists no storage files")
    return [bag / Path(name).name for name in names]


@contextmanager
def open_bag(bag: Path) -> Iterator[Reader]:
    """Open a bag directory (or a single ``.db3``/``.mcap`` file) with rosbags.

    Raises :class:`BagError` for a missing path, a directory without metadata, or storage that
    cannot be opened. Errors raised while the ``with`` block reads messages are left to
    :func:`messages`, which converts them too.
    """
    bag = Path(bag)
    files = ", ".join(str(f) for f in bag_files(bag))
    try:
        reader = Reader(bag)
        reader.open()
    except READ_ERRORS as err:
        raise BagError(f"cannot open bag {bag} (storage {files}): {err}") from err
    try:
        yield reader
    finally:
        try:
            reader.close()
        except READ_ERRORS:
            pass


def messages(
    reader: Reader, connections: Collection[Connection] = (), start: int | None = None
) -> Iterator[tuple[Connection, int, bytes]]:
    """Yield ``(connection, timestamp_ns, raw)`` like ``reader.messages``; errors: BagError."""
    try:
        yield from reader.messages(connections, start=start)
    except READ_ERRORS as err:
        raise BagError(f"corrupt or truncated bag {reader.path}: {err}") from err
