"""MCAP checksums: write them (:func:`seal_mcap`), check them (:func:`check_mcap`).

rosbags writes MCAP chunks without CRCs, so a byte flipped inside a message's data would pass
every read. :func:`seal_mcap` rewrites a finished ``.mcap`` with the ``mcap`` library's writer —
the same schemas, channels, messages, metadata and attachments, in the same order — with chunk
and data-section CRCs, and replaces the file atomically. :func:`check_mcap` reads every record
with CRC validation (the ``mcap`` library's stream reader) and fails on a mismatch, or on a
file that carries no CRCs at all (it cannot be checked).
"""

from __future__ import annotations

import os
from pathlib import Path

from mcap.exceptions import McapError
from mcap.records import Attachment, Channel, Chunk, DataEnd, Header, Message, Metadata, Schema
from mcap.stream_reader import StreamReader, breakup_chunk
from mcap.writer import CompressionType, Writer

from wildcam.errors import BagError

__all__ = ["check_mcap", "seal_bag", "seal_mcap"]

_COMPRESSION = {"": CompressionType.NONE, "zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4}


def seal_mcap(path: Path) -> None:
    """Rewrite the MCAP file ``path`` with chunk and data CRCs (atomic replace)."""
    tmp = path.with_name(f".{path.name}.sealing")
    try:
        with open(path, "rb") as src, open(tmp, "wb") as out:
            writer: Writer | None = None
            schemas: dict[int, int] = {}
            channels: dict[int, int] = {}
            compression = CompressionType.NONE
            records = StreamReader(src, skip_magic=False, emit_chunks=True).records
            pending: list[object] = []
            for rec in records:
                if isinstance(rec, Chunk):
                    compression = _COMPRESSION.get(rec.compression, CompressionType.ZSTD)
                    pending.extend(breakup_chunk(rec, validate_crc=True))
                else:
                    pending.append(rec)
                for item in pending:
                    if isinstance(item, Header):
                        writer = Writer(
                            out, compression=compression, enable_crcs=True, enable_data_crcs=True
                        )
                        writer.start(profile=item.profile, library=item.library)
                    elif writer is None:
                        continue
                    elif isinstance(item, Schema):
                        schemas[item.id] = writer.register_schema(
                            item.name, item.encoding, item.data
                        )
                    elif isinstance(item, Channel):
                        channels[item.id] = writer.register_channel(
                            item.topic,
                            item.message_encoding,
                            schemas.get(item.schema_id, 0),
                            dict(item.metadata),
                        )
                    elif isinstance(item, Message):
                        writer.add_message(
                            channels[item.channel_id],
                            item.log_time,
                            item.data,
                            item.publish_time,
                            item.sequence,
                        )
                    elif isinstance(item, Metadata):
                        writer.add_metadata(item.name, dict(item.metadata))
                    elif isinstance(item, Attachment):
                        writer.add_attachment(
                            item.log_time, item.create_time, item.name, item.media_type, item.data
                        )
                    elif isinstance(item, DataEnd):
                        break
                pending.clear()
            if writer is None:
                raise BagError(f"{path} has no MCAP header")
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except (McapError, OSError, KeyError, ValueError) as err:
        tmp.unlink(missing_ok=True)
        raise BagError(f"cannot add checksums to {path}: {err}") from err


def seal_bag(bag: Path) -> None:
    """Add CRCs to every ``.mcap`` file of the bag directory ``bag``."""
    for path in sorted(Path(bag).glob("*.mcap")):
        seal_mcap(path)


def check_mcap(path: Path) -> int:
    """Read every record of ``path`` validating chunk and data-section CRCs; the number of
    chunks checked. :class:`BagError` on a mismatch or when the file has no CRCs."""
    chunks = with_crc = 0
    try:
        with open(path, "rb") as fh:
            for rec in StreamReader(
                fh, skip_magic=False, emit_chunks=True, validate_crcs=True
            ).records:
                if isinstance(rec, Chunk):
                    chunks += 1
                    with_crc += rec.uncompressed_crc != 0
                    breakup_chunk(rec, validate_crc=True)  # decompressed, its CRC checked
    except (McapError, OSError, ValueError) as err:
        raise BagError(f"corrupt MCAP storage {path}: {err}") from err
    if chunks and with_crc < chunks:
        raise BagError(
            f"MCAP storage {path} has {chunks - with_crc} of {chunks} chunk(s) "
            f"without a CRC: it cannot be checked"
        )
    return chunks
