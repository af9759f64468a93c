"""The uploader ↔ gateway batch format (shared by the transport and the gateway).

A batch body is ``WCB1`` followed by one record per item: a 4-byte big-endian header length, the
UTF-8 JSON header (``key``, ``kind``, ``priority``, ``score``, ``class_id``, ``content_type``,
``sha256``, ``size``, ``meta``), then ``size`` payload bytes. The body may be sent gzip'd
(``Content-Encoding: gzip``). The gateway answers ``{"results": [{"key", "status", "reason"}]}``
with status ``stored`` (new), ``duplicate`` (that key was stored before: also an
acknowledgement), ``conflict`` (that key was stored with other content) or ``invalid`` (digest or
header wrong: not stored).

Every header field has a limit (:func:`header_problem`): the gateway answers a record that breaks
one ``invalid`` on its own, and the uploader checks the same limits when it queues an item, so a
record the gateway would refuse never blocks the ones behind it. Only a body whose framing is
broken (bad magic, a header that is not JSON or longer than :data:`MAX_HEADER`, a truncated
payload) is refused as a whole (400).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wildcam.errors import InputError

__all__ = [
    "ACKED",
    "MAGIC",
    "MAX_HEADER",
    "MAX_META_BYTES",
    "MAX_META_DEPTH",
    "MAX_PRIORITY",
    "MAX_TEXT",
    "REFUSED",
    "Record",
    "decode_batch",
    "encode_batch",
    "header_problem",
    "valid_key",
]

MAGIC = b"WCB1"
ACKED = frozenset({"stored", "duplicate"})
REFUSED = frozenset({"conflict", "invalid"})  # for good: the item is dead-lettered
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_LEN = struct.Struct(">I")
MAX_HEADER = 64 * 1024
MAX_TEXT = 128  # kind, class_id, content_type: characters
MAX_META_BYTES = 16 * 1024  # meta, as compact JSON
MAX_META_DEPTH = 8  # nested objects/arrays in meta
MAX_PRIORITY = 9


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a JSON value, counting no further than ``limit + 1``."""
    if not isinstance(value, (dict, list)) or limit < 0:
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in children), default=0)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def header_problem(header: dict[str, Any]) -> str:
    """Why a record header breaks the wire limits ('' when it keeps them); the digest is not
    checked here (see :meth:`Record.problem`)."""
    if not valid_key(str(header.get("key", ""))) or not isinstance(header.get("key"), str):
        return "bad key"
    for name in ("kind", "class_id", "content_type"):
        value = header.get(name, "")
        if not isinstance(value, str) or len(value) > MAX_TEXT or (name == "kind" and not value):
            return f"{name} must be a string of at most {MAX_TEXT} characters"
    priority = header.get("priority", 0)
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not 0 <= priority <= MAX_PRIORITY
    ):
        return f"priority must be an integer in [0, {MAX_PRIORITY}]"
    if not _finite_number(header.get("score", 0.0)):
        return "score must be a finite number"
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        return "meta must be an object"
    if _depth(meta, MAX_META_DEPTH) > MAX_META_DEPTH:
        return f"meta nested deeper than {MAX_META_DEPTH}"
    try:
        size = len(json.dumps(meta, separators=(",", ":"), allow_nan=False))
    except ValueError:
        return "meta holds a non-finite number"
    if size > MAX_META_BYTES:
        return f"meta longer than {MAX_META_BYTES} bytes"
    return ""


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
        problem = header_problem(self.header)
        if problem:
            return problem
        if hashlib.sha256(self.payload).hexdigest() != self.header.get("sha256"):
            return "sha256 mismatch"
        return ""


def encode_batch(records: Sequence[Record]) -> bytes:
    """The body of a batch of ``records`` (sizes and digests filled in)."""
    parts = [MAGIC]
    for rec in records:
        header = dict(
            rec.header,
            size=len(rec.payload),
            sha256=rec.header.get("sha256") or hashlib.sha256(rec.payload).hexdigest(),
        )
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
            header = json.loads(bytes(view[pos : pos + hlen]))
        except (ValueError, RecursionError) as err:
            raise InputError(f"record header is not JSON: {type(err).__name__}") from err
        pos += hlen
        if (
            not isinstance(header, dict)
            or not isinstance(header.get("size"), int)
            or header["size"] < 0
        ):
            raise InputError("record header without a size")
        end = pos + header["size"]
        if end > len(body):
            raise InputError("truncated batch (payload)")
        yield Record(header, bytes(view[pos:end]))
        pos = end
