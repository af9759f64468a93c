"""HTTP(S) transport to the gateway (httpx), and the retry backoff.

:class:`HttpTransport` posts batches (:mod:`wildcam.upload.wire`) with the bearer token read from
a file (re-read when the file changes; never logged, never part of an error message), reports
which keys the gateway acknowledged, and downloads update files. TLS certificates are verified
unless explicitly turned off. Every failure surfaces as :class:`~wildcam.errors.TransportError`
(:class:`HttpStatusError` carries the status code).

:class:`Backoff` is exponential with jitter: after the n-th consecutive failure the delay is
drawn from ``[d/2, d]`` with ``d = min(max_s, base_s * 2**(n-1))`` — never zero, so a dead
gateway never turns into a busy loop.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wildcam.errors import EXIT_FAILED, EXIT_USAGE, ConfigError, TransportError
from wildcam.upload.backoff import Backoff
from wildcam.upload.queue import QueuedItem
from wildcam.upload.tokens import read_token, redact
from wildcam.upload.wire import ACKED, REFUSED, Record, encode_batch

__all__ = ["Backoff", "HttpStatusError", "HttpTransport", "SendResult", "TokenFile"]


class HttpStatusError(TransportError):
    """The gateway answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        # A refusal of what was sent (credential, request) is bad input; a timeout, throttling
        # or server error means the run failed.
        self.exit_code = (
            EXIT_USAGE if 400 <= status < 500 and status not in (408, 429) else EXIT_FAILED
        )


@dataclass(frozen=True)
class SendResult:
    """What the gateway did with a batch: acknowledged keys and refused keys (with reasons)."""

    acked: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    unanswered: tuple[str, ...] = ()
    body_bytes: int = 0


class TokenFile:
    """The bearer token in a file (strictly one token, :func:`read_token`), re-read when the
    file changes. A bad file is a :class:`TransportError` that never holds its content."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser() if path else None
        self._stamp: tuple[float, int] | None = None
        self._token = ""

    def token(self) -> str:
        """The token ('' when no file is configured)."""
        if self.path is None:
            return ""
        try:
            st = self.path.stat()
            if (st.st_mtime, st.st_size) != self._stamp:
                self._token = read_token(self.path)
                self._stamp = (st.st_mtime, st.st_size)
        except OSError as err:
            raise TransportError(f"cannot read token file {self.path}: {err.strerror}") from err
        except ConfigError as err:
            self._token, self._stamp = "", None
            raise TransportError(str(err)) from None
        return self._token


def _verify(tls_verify: bool, ca_file: str) -> ssl.SSLContext | bool:
    if not tls_verify:
        return False
    if ca_file:
        try:
            return ssl.create_default_context(cafile=str(Path(ca_file).expanduser()))
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"cannot load CA file {ca_file}: {err}") from err
    return True


class HttpTransport:
    """Talks to one gateway. ``transport`` (an httpx transport) is for tests."""

    def __init__(
        self,
        base_url: str,
        token_file: str = "",
        *,
        tls_verify: bool = True,
        ca_file: str = "",
        timeout_s: float = 10.0,
        compression: str = "gzip",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.compression = compression
        self.last_request_bytes = 0  # body size of the latest batch (radio energy on failure)
        self._token = TokenFile(token_file)
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            verify=_verify(tls_verify, ca_file),
            transport=transport,
            headers={"User-Agent": "wildcam-uploader"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        token = self._token.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as err:  # the message names the URL, never the headers
            raise TransportError(
                redact(f"{method} {self.base_url}{path}: {type(err).__name__}: {err}", token)
            ) from None
        if response.status_code >= 400:
            text = redact(response.text[:200].strip(), token)
            raise HttpStatusError(
                response.status_code,
                f"{method} {path}: HTTP "
                f"{response.status_code} {response.reason_phrase} "
                f"{text}".strip(),
            )
        return response

    def probe(self) -> float:
        """Round-trip seconds of the gateway's health endpoint."""
        start = time.perf_counter()
        self._request("GET", "/v1/health")
        return time.perf_counter() - start

    def send(self, items: Sequence[QueuedItem]) -> SendResult:
        """Post one batch; the keys the gateway acknowledged (stored or already stored)."""
        records = [
            Record(
                {
                    "key": it.key,
                    "kind": it.kind,
                    "priority": it.priority,
                    "score": it.score,
                    "class_id": it.class_id,
                    "content_type": it.content_type,
                    "sha256": it.sha256,
                    "meta": it.meta,
                },
                it.payload,
            )
            for it in items
        ]
        body = encode_batch(records)
        headers = {"Content-Type": "application/x-wildcam-batch"}
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        self.last_request_bytes = len(body)
        response = self._request("POST", "/v1/items", content=body, headers=headers)
        try:
            results = response.json()["results"]
            status = {str(r["key"]): (str(r["status"]), str(r.get("reason", ""))) for r in results}
        except (ValueError, KeyError, TypeError) as err:
            raise TransportError(f"gateway answer is not a batch result: {err}") from err
        acked = tuple(it.key for it in items if status.get(it.key, ("",))[0] in ACKED)
        refused = {k: f"{s}: {r}" for k, (s, r) in status.items() if s in REFUSED}
        unanswered = tuple(it.key for it in items if it.key not in acked and it.key not in refused)
        return SendResult(acked, refused, unanswered, len(body))

    def post_bytes(self, path: str, data: bytes) -> Any:
        """POST raw bytes; the JSON answer."""
        response = self._request(
            "POST", path, content=data, headers={"Content-Type": "application/octet-stream"}
        )
        return response.json()

    def post_json(self, path: str, doc: Any) -> Any:
        """POST a JSON document; the JSON answer."""
        return self._request("POST", path, json=doc).json()

    def get_json(self, path: str) -> Any:
        """GET a JSON document."""
        response = self._request("GET", path)
        try:
            return response.json()
        except ValueError as err:
            raise TransportError(f"GET {path}: not JSON") from err

    def list_items(self, page: int = 1000) -> Iterator[dict[str, Any]]:
        """Every item the gateway stores, oldest first (``GET /v1/items``, ``page`` at a time)."""
        after = 0
        while True:
            items = self.get_json(f"/v1/items?after={after}&limit={page}")["items"]
            yield from items
            if len(items) < page:
                return
            after = items[-1]["seq"]

    def download(self, path: str, target: Path, max_bytes: int) -> str:
        """Stream the body of ``GET path`` into the new file ``target`` (mode 0600, fsync'd),
        never holding it in memory; more than ``max_bytes`` is an error (the file is removed).
        The body's SHA-256."""
        token = self._token.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        digest, total = hashlib.sha256(), 0
        try:
            with (
                self._client.stream("GET", path, headers=headers) as response,
                os.fdopen(
                    os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
                ) as fh,
            ):
                if response.status_code >= 400:
                    raise HttpStatusError(
                        response.status_code, f"GET {path}: HTTP {response.status_code}"
                    )
                for chunk in response.iter_bytes(64 * 1024):
                    total += len(chunk)
                    if total > max_bytes:
                        raise TransportError(f"GET {path}: longer than {max_bytes} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except httpx.HTTPError as err:
            target.unlink(missing_ok=True)
            raise TransportError(
                redact(f"GET {self.base_url}{path}: {type(err).__name__}: {err}", token)
            ) from None
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return digest.hexdigest()
