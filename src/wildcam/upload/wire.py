"""The uploader ↔ gateway batch format (shared by the transport and the gateway).

A batch body is ``WCB1`` followed by one record per item: a 4-byte big-endian header length, the
UTF-8 JSON header (``key``, ``kind``, ``priority``, ``score``, ``class_id``, ``content_type``,
``sha256``, ``size``, ``meta``), then ``size`` payload bytes. The body may be sent gzip'd
(``Content-Encoding: gzip``). The gateway answers ``{"results": [{"key", "status", "reason"}]}``
with status ``stored`` (new), ``duplicate`` (that key was stored before: also an
acknowledgement), ``conflict`` (that key was stored with other content) or ``invalid`` (digest or
header wrong: not stored).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wildcam.errors import InputError

__all__ = ["ACKED", "MAGIC", "Record", "decode_batch", "encode_batch", "valid_key"]

MAGIC = b"WCB1"
ACKED = frozenset({"stored", "duplicate"})
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_LEN = struct.Struct(">I")
MAX_HEADER = 64 * 1024


def valid_key(key: str) -> bool:
    """Idempotency keys: 1-128 characters of ``[A-Za-z0-9._:-]``."""
    return bool(_KEY.match(key))


@dataclass(frozen=True)
class Record:
    """One item of a batch."""

    header: dict[str, Any]
    payload: bytes

    @property
    def key(self) -> str:
        """The item's idempotency key."""
        return str(self.header.get("key", ""))

    def problem(self) -> str:
        """Why the record is not acceptable ('' when it is)."""
        h = self.header
        if not valid_key(self.key):
            return "bad key"
        if not isinstance(h.get("kind"), str) or not isinstance(h.get("meta", {}), dict):
            return "bad header"
        if hashlib.sha256(self.payload).hexdigest() != h.get("sha256"):
            return "sha256 mismatch"
        return ""


def encode_batch(records: Sequence[Record]) -> bytes:
    """The body of a batch of ``records`` (sizes and digests filled in)."""
    parts = [MAGIC]
    for rec in records:
        header = dict(rec.header, size=len(rec.payload),
                      sha256=rec.header.get("sha256") or hashlib.sha256(rec.payload).hexdigest())
        raw = json.dumps(header, separators=(",", ":")).encode()
        parts += [_LEN.pack(len(raw)), raw, rec.payload]
    return b"".join(parts)


def decode_batch(body: bytes) -> Iterator[Record]:
    """The records of a batch body; :class:`InputError` on a malformed or truncated body."""
    if not body.startswith(MAGIC):
        raise InputError("not a wildcam batch (bad magic)")
    pos = len(MAGIC)
    view = memoryview(body)
    while pos < len(body):
        if pos + 4 > len(body):
            raise InputError("truncated batch (record header length)")
        (hlen,) = _LEN.unpack_from(body, pos)
        pos += 4
        if hlen > MAX_HEADER or pos + hlen > len(body):
            raise InputError("truncated or oversized record header")
        try:
            header = json.loads(bytes(view[pos:pos + hlen]))
        except ValueError as err:
            raise InputError(f"record header is not JSON: {err}") from err
        pos += hlen
        if not isinstance(header, dict) or not isinstance(header.get("size"), int) \
                or header["size"] < 0:
            raise InputError("record header without a size")
        end = pos + header["size"]
        if end > len(body):
            raise InputError("truncated batch (payload)")
        yield Record(header, bytes(view[pos:end]))
        pos = end
