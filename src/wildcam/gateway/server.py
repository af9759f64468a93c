"""The ingest gateway: an aiohttp server the uploaders post batches to.

Routes (every one but ``/v1/health`` needs ``Authorization: Bearer <token>``; a missing or wrong
token is 401, compared in constant time)::

    GET  /v1/health                 liveness (the uploaders' link probe)
    POST /v1/items                  a batch (wildcam.upload.wire) -> per-key results
    GET  /v1/items?after=N&limit=M  stored items, JSON (tests, the day report)
    GET  /v1/stats                  counters, JSON
    GET  /v1/blobs/<sha256>         a stored payload (thumbnails for the report, update files)
    POST /v1/blobs                  store an update file -> {"sha256"}
    POST /v1/updates                publish a signed update {"manifest", "signature"} (base64)
    GET  /v1/updates?after=N        published updates, oldest first
    /review/...                     the review page (wildcam.gateway.review: its own login)

Bodies larger than the limit are refused with 413 before they are read in full (the limit
applies to the decompressed size). Storage is :class:`~wildcam.gateway.store.GatewayStore`; its
blocking work runs on one worker thread so the event loop keeps answering. :class:`Gateway`
runs the server in a background thread (tests, benchmarks, embedding); :func:`serve` runs it in
the foreground until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import os
import secrets
import signal
import ssl
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from wildcam.errors import ConfigError, InputError, StorageError
from wildcam.gateway.review import PREFIX as REVIEW_PREFIX
from wildcam.gateway.review import review_app
from wildcam.gateway.store import GatewayStore
from wildcam.upload.ota import valid_update_id
from wildcam.upload.wire import decode_batch

__all__ = ["Gateway", "GatewayConfig", "load_token", "make_app", "serve"]

log = logging.getLogger("wildcam.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MB = 1024 * 1024


@dataclass(frozen=True)
class GatewayConfig:
    """How to run a gateway."""

    store: Path
    token_file: Path
    host: str = "127.0.0.1"
    port: int = 8470
    max_body_mb: float = 16.0
    max_update_mb: float = 256.0
    certfile: Path | None = None
    keyfile: Path | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server TLS context when a certificate and key are given."""
        if self.certfile is None and self.keyfile is None:
            return None
        if self.certfile is None or self.keyfile is None:
            raise ConfigError("TLS needs both a certificate and a key")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"cannot load TLS certificate/key: {err}") from err
        return ctx


def load_token(path: Path, create: bool = False) -> str:
    """The bearer token in ``path``; with ``create``, a new random one is written (mode 0600)
    when the file does not exist."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    try:
        token = path.read_text().strip()
    except OSError as err:
        raise ConfigError(f"cannot read token file {path}: {err.strerror}") from err
    if len(token) < 16:
        raise ConfigError(f"token in {path} is shorter than 16 characters")
    return token


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks, total = [], 0
    try:
        async for chunk in request.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=total)
            chunks.append(chunk)
    except ConnectionResetError:  # the client died mid-request (e.g. a crashed uploader)
        raise web.HTTPBadRequest(text="connection lost before the body was complete") from None
    return b"".join(chunks)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda d: json.dumps(d, separators=(",", ":")))


def _int_arg(request: web.Request, name: str, default: int) -> int:
    try:
        return max(0, int(request.query.get(name, default)))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


def make_app(store: GatewayStore, token: str, max_body_mb: float = 16.0,
             max_update_mb: float = 256.0, secure: bool = False) -> web.Application:
    """The aiohttp application over ``store``."""
    expected = f"Bearer {token}".encode()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-store")
    body_limit, update_limit = int(max_body_mb * MB), int(max_update_mb * MB)

    async def blocking(func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, func, *args)

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/v1/health" and not request.path.startswith(f"{REVIEW_PREFIX}/"):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                await blocking(store.count, "unauthorized")
                raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"},
                                           text="missing or wrong bearer token")
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            await blocking(store.count, "too_large")
            raise
        except StorageError as err:
            log.error("%s", err)
            raise web.HTTPServiceUnavailable(text="storage unavailable") from err

    async def health(request: web.Request) -> web.Response:
        return _json({"ok": True})

    async def post_items(request: web.Request) -> web.Response:
        body = await _read_limited(request, body_limit)
        try:
            records = list(decode_batch(body))
        except InputError as err:
            raise web.HTTPBadRequest(text=str(err)) from err
        return _json({"results": await blocking(store.ingest, records)})

    async def get_items(request: web.Request) -> web.Response:
        items = await blocking(store.items, _int_arg(request, "after", 0),
                               min(_int_arg(request, "limit", 1000), 10000))
        return _json({"items": items})

    async def stats(request: web.Request) -> web.Response:
        return _json(await blocking(store.counters))

    async def get_blob(request: web.Request) -> web.Response:
        data = await blocking(store.blob, request.match_info["sha"])
        if data is None:
            raise web.HTTPNotFound(text="no such blob")
        return web.Response(body=data, content_type="application/octet-stream")

    async def post_blob(request: web.Request) -> web.Response:
        body = await _read_limited(request, update_limit)
        return _json({"sha256": await blocking(store.put_blob, body)})

    async def post_update(request: web.Request) -> web.Response:
        body = await _read_limited(request, body_limit)
        try:
            doc = json.loads(body)
            manifest = base64.b64decode(doc["manifest"], validate=True)
            signature = base64.b64decode(doc["signature"], validate=True)
            update_id = str(json.loads(manifest)["update_id"])
            files = json.loads(manifest).get("files", [])
        except (ValueError, KeyError, TypeError, binascii.Error) as err:
            raise web.HTTPBadRequest(text=f"not an update: {err}") from err
        if not valid_update_id(update_id):
            raise web.HTTPBadRequest(text="bad update_id")
        for entry in files if isinstance(files, list) else []:
            if not isinstance(entry, dict) or \
                    await blocking(store.blob, str(entry.get("sha256", ""))) is None:
                raise web.HTTPBadRequest(text=f"update file not uploaded: {entry!r}")
        seq = await blocking(store.publish_update, update_id, manifest, signature)
        return _json({"seq": seq, "update_id": update_id})

    async def get_updates(request: web.Request) -> web.Response:
        updates = await blocking(store.updates, _int_arg(request, "after", 0))
        return _json({"updates": [
            {"seq": u["seq"], "update_id": u["update_id"],
             "manifest": base64.b64encode(u["manifest"]).decode(),
             "signature": base64.b64encode(u["signature"]).decode()} for u in updates]})

    async def on_cleanup(app: web.Application) -> None:
        pool.shutdown(wait=True)

    app = web.Application(middlewares=[auth], client_max_size=max(body_limit, update_limit))
    app.add_routes([web.get("/v1/health", health), web.post("/v1/items", post_items),
                    web.get("/v1/items", get_items), web.get("/v1/stats", stats),
                    web.get("/v1/blobs/{sha}", get_blob), web.post("/v1/blobs", post_blob),
                    web.post("/v1/updates", post_update), web.get("/v1/updates", get_updates)])
    app.on_cleanup.append(on_cleanup)
    app.add_subapp(REVIEW_PREFIX, review_app(store, token, secure))
    return app


class Gateway:
    """A gateway on its own event loop in a background thread; ``port`` 0 picks a free port."""

    def __init__(self, config: GatewayConfig, create_token: bool = False) -> None:
        self.config = config
        self._token = load_token(config.token_file, create=create_token)
        self._ssl = config.ssl_context()
        self.store = GatewayStore(config.store)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="gateway",
                                        daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    async def _start(self) -> int:
        app = make_app(self.store, self._token, self.config.max_body_mb, self.config.max_update_mb,
                       secure=self._ssl is not None)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port,
                           ssl_context=self._ssl)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to read back port 0
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    def start(self) -> Gateway:
        """Start serving; returns self once the port is bound."""
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        """Stop serving and close the store."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.store.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(config: GatewayConfig, create_token: bool = True,
          ready: Callable[[Gateway], None] | None = None) -> int:
    """Run a gateway in the foreground until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Gateway(config, create_token=create_token) as gateway:
        if ready is not None:
            ready(gateway)
        stop.wait()
    return 0

