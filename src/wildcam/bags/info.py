"""What a bag holds: storage, time span, and per-topic type, count and serialization.

:func:`info` is the ``ros2 bag info`` of this project. Unless ``verify=False`` it also opens
each storage file on its own and checks that it holds the messages the metadata counts: a
``.db3`` must pass SQLite's ``quick_check`` (which reads every page), an ``.mcap`` is read
through record by record. That tells a truncated or overwritten bag from a good one.

With ``check=True`` (``wildcam bag info --check``) every byte is checked too: every MCAP chunk's
CRC (wildcam's recorder and generator add them, :mod:`wildcam.bags.crc`; a file without CRCs
cannot be checked and fails), and every row of a ``.db3`` is deserialised with its message type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import apsw
from rosbags.interfaces import ConnectionExtRosbag2, MessageDefinitionFormat, Qos
from rosbags.rosbag2 import Reader

from wildcam.bags.crc import check_mcap
from wildcam.bags.storage import (
    READ_ERRORS,
    STORAGE_SUFFIXES,
    bag_files,
    messages,
    open_bag,
    read_metadata,
)
from wildcam.bags.typestore import ensure_type, typestore
from wildcam.errors import BagError

__all__ = ["BagInfo", "TopicInfo", "format_info", "info"]


@dataclass(frozen=True)
class TopicInfo:
    """One topic of a bag."""

    name: str
    msgtype: str
    message_count: int
    serialization_format: str
    offered_qos: tuple[Qos, ...]
    type_hash: str
    has_definition: bool  # the bag embeds the message definition


@dataclass(frozen=True)
class BagInfo:
    """Summary of a bag; times are nanoseconds since the epoch (bag time)."""

    path: Path
    storage_id: str
    files: tuple[Path, ...]
    size_bytes: int
    message_count: int
    start_ns: int  # first message (0 for an empty bag)
    end_ns: int  # last message (0 for an empty bag)
    topics: tuple[TopicInfo, ...]
    compression: str | None
    ros_distro: str | None

    @property
    def duration_ns(self) -> int:
        """Time from the first to the last message."""
        return self.end_ns - self.start_ns

    @property
    def duration_s(self) -> float:
        """Time from the first to the last message, seconds."""
        return self.duration_ns / 1e9

    def topic(self, name: str) -> TopicInfo:
        """The topic called ``name`` (leading slash optional); :class:`KeyError` if absent."""
        wanted = name if name.startswith("/") else f"/{name}"
        for topic in self.topics:
            if topic.name == wanted:
                return topic
        raise KeyError(f"no topic {wanted} in {self.path}")

    def counts(self) -> dict[str, int]:
        """Message count per topic name."""
        return {t.name: t.message_count for t in self.topics}

    def __str__(self) -> str:
        return format_info(self)


def info(bag: Path, verify: bool = True, check: bool = False) -> BagInfo:
    """Summarise the bag at ``bag`` (a bag directory, or a single ``.db3``/``.mcap`` file).

    Raises :class:`BagError` for a missing path, a directory without (or with unreadable)
    metadata, and — with ``verify`` — storage files that are corrupt or hold fewer messages
    than the metadata says; with ``check``, for a chunk whose CRC does not match (or an MCAP
    without CRCs) and a ``.db3`` row that does not deserialise.
    """
    bag = Path(bag)
    if bag.is_dir():
        storage_id = str(read_metadata(bag).get("storage_identifier", "?"))
    else:
        storage_id = STORAGE_SUFFIXES.get(bag.suffix, "?")
    files = tuple(bag_files(bag))
    with open_bag(bag) as reader:
        try:
            topics = tuple(_topics(reader))
            count = reader.message_count
            start, end = (reader.start_time, reader.end_time - 1) if count else (0, 0)
            compression = reader.compression_mode
            distro = reader.ros_distro
        except READ_ERRORS as err:
            raise BagError(f"cannot read bag {bag}: {err}") from err
    if verify or check:
        _verify(bag, files, topics)
    if check:
        for path in files:
            if path.suffix == ".mcap":
                check_mcap(path)
            elif path.suffix == ".db3":
                _decode_rows(path)
    size = sum(f.stat().st_size for f in files if f.exists())
    return BagInfo(
        path=bag,
        storage_id=storage_id,
        files=files,
        size_bytes=size,
        message_count=count,
        start_ns=start,
        end_ns=end,
        topics=topics,
        compression=compression,
        ros_distro=distro,
    )


def _topics(reader: Reader) -> list[TopicInfo]:
    topics = []
    for name, topic in reader.topics.items():
        conns = topic.connections
        ext = conns[0].ext if conns else None
        offered: list[Qos] = []
        fmt = "cdr"
        if isinstance(ext, ConnectionExtRosbag2):
            fmt = ext.serialization_format
            for conn in conns:
                assert isinstance(conn.ext, ConnectionExtRosbag2)
                offered.extend(conn.ext.offered_qos_profiles)
        topics.append(
            TopicInfo(
                name=name,
                msgtype=topic.msgtype or "/".join(sorted({c.msgtype for c in conns})),
                message_count=topic.msgcount,
                serialization_format=fmt,
                offered_qos=tuple(offered),
                type_hash=conns[0].digest if conns else "",
                has_definition=topic.msgdef.format != MessageDefinitionFormat.NONE
                and bool(topic.msgdef.data),
            )
        )
    return topics


def _verify(bag: Path, files: tuple[Path, ...], topics: tuple[TopicInfo, ...]) -> None:
    """Check each storage file opens, is sound, and holds the messages the metadata counts."""
    stored: dict[str, int] = {}
    for path in files:
        if path.suffix not in STORAGE_SUFFIXES:
            continue  # compressed storage: rosbags checked what it could when opening
        if path.suffix == ".db3":
            _quick_check(path)
        with open_bag(path) as reader:
            try:
                if path.suffix == ".db3":  # counted by the database, now known to be sound
                    for conn in reader.connections:
                        stored[conn.topic] = stored.get(conn.topic, 0) + conn.msgcount
                else:
                    for conn, _, _ in messages(reader):
                        stored[conn.topic] = stored.get(conn.topic, 0) + 1
            except READ_ERRORS as err:
                raise BagError(f"corrupt storage file {path}: {err}") from err
    if not all(p.suffix in STORAGE_SUFFIXES for p in files):
        return
    for topic in topics:
        have = stored.get(topic.name, 0)
        if have != topic.message_count:
            raise BagError(
                f"bag {bag} is truncated or inconsistent: metadata counts "
                f"{topic.message_count} messages on {topic.name}, the storage files "
                f"hold {have}"
            )


def _decode_rows(path: Path) -> None:
    """Deserialise every message of the ``.db3`` at ``path``."""
    store = typestore()
    with open_bag(path) as reader:
        for n, (conn, stamp, raw) in enumerate(messages(reader)):
            try:
                ensure_type(conn.msgtype, store).deserialize_cdr(raw, conn.msgtype)
            except Exception as err:  # any decoding failure is corruption
                raise BagError(
                    f"corrupt sqlite3 storage {path}: message {n} on {conn.topic} "
                    f"at {stamp} does not decode as {conn.msgtype} "
                    f"({type(err).__name__})"
                ) from err


def _quick_check(path: Path) -> None:
    try:
        conn = apsw.Connection(
            f"file:{path}?immutable=1", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        )
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except apsw.Error as err:
        raise BagError(f"corrupt sqlite3 storage {path}: {err}") from err
    if rows != ["ok"]:
        raise BagError(f"corrupt sqlite3 storage {path}: {'; '.join(map(str, rows[:3]))}")


def _stamp(ns: int) -> str:
    when = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc)
    return f"{when:%Y-%m-%d %H:%M:%S.%f} UTC ({ns // 1_000_000_000}.{ns % 1_000_000_000:09d})"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    raise AssertionError("unreachable")


def format_info(summary: BagInfo) -> str:
    """A plain-text table of ``summary``, in the spirit of ``ros2 bag info``."""
    lines = [
        f"Files:        {', '.join(f.name for f in summary.files)}",
        f"Bag size:     {_size(summary.size_bytes)}",
        f"Storage id:   {summary.storage_id}",
        f"Duration:     {summary.duration_s:.3f} s",
    ]
    if summary.message_count:
        lines += [
            f"Start:        {_stamp(summary.start_ns)}",
            f"End:          {_stamp(summary.end_ns)}",
        ]
    lines.append(f"Messages:     {summary.message_count}")
    if summary.compression:
        lines.append(f"Compression:  {summary.compression}")
    header = ("Topic", "Type", "Count", "Serialization")
    rows = [
        (t.name, t.msgtype, str(t.message_count), t.serialization_format) for t in summary.topics
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines.append("")
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
