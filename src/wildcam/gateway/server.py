"""The ingest gateway: an aiohttp server the uploaders post batches to.

Routes (every one but ``/v1/health`` needs ``Authorization: Bearer <token>``; a missing or wrong
token is 401, compared in constant time; publishing needs the operator's token, a device token
gets 403). A device token is the shared one (``token_file``) or a registered device's own
(:mod:`wildcam.gateway.devices`): its items are stored under that device's id, it is offered the
updates that target it, and once revoked it is 401 at the next request. With
``device_tokens_only`` the shared token is 401 as soon as one device is registered (counted as
``shared_token`` in ``/v1/stats``), so a fleet runs on per-device tokens only::

    GET  /v1/health                 liveness (the uploaders' link probe)
    POST /v1/items                  a batch (wildcam.upload.wire) -> per-key results
    GET  /v1/items?after=N&limit=M  stored items, JSON (tests, the day report)
    GET  /v1/stats                  counters, JSON
    GET  /v1/blobs/<sha256>         a stored payload (thumbnails for the report, update files)
    POST /v1/blobs                  store an update file -> {"sha256"}           (operator)
    POST /v1/updates                publish a signed update {"manifest", "signature"} and,
                                    optionally, "device" or "group" and "share"   (operator)
    GET  /v1/updates?after=N        the updates offered to this device, oldest first
    POST /v1/updates/report         {"update_id", "status": applied|failed, "reason"} (device)
    GET  /v1/devices                the registered devices, JSON                 (operator)
    /review/...                     the review page (wildcam.gateway.review: its own login, with
                                    the operator token or the shared one while it is accepted)

Hostile clients (see :class:`ConnectionGuard`): at most ``max_connections`` connections are
open; at the cap a new connection takes the place of the oldest one that never sent a valid
token (so slow or idle strangers cannot crowd devices out), and is closed at once only when
every open connection has authenticated; a connection that has not sent a complete request head
within
``header_timeout_s`` (after connecting or after its previous answer) is closed; a request body
that stalls for ``body_timeout_s`` is 408. The token is checked before any byte of the body is
read or decompressed, and nothing is written to disk for a request without a valid token (the
refusals are counted in memory, in ``/v1/stats``); its 401 is answered after about
``auth_failure_delay_s`` (jittered), which costs the gateway nothing but holds a flooding client
back. ``Content-Encoding: gzip`` is decompressed
here, streamed, with the body limit applied to the decompressed size and a ratio cap
(``MAX_RATIO``); at most ``BODY_SLOTS`` bodies are read at once, so memory stays bounded under
concurrent bombs. Bodies larger than the limit are 413; a malformed batch is 400, a malformed
record ``invalid`` in its answer; storage faults are 503 with the transaction rolled back.

Storage is :class:`~wildcam.gateway.store.GatewayStore`; its blocking work runs on one worker
thread so the event loop keeps answering. :class:`Gateway` runs the server in a background
thread (tests, benchmarks, embedding); :func:`serve` runs it in the foreground until
SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import random
import signal
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from wildcam.errors import ConfigError, InputError, StorageError
from wildcam.gateway.devices import REPORT_STATUSES, Device, DeviceRegistry, offered
from wildcam.gateway.review import PREFIX as REVIEW_PREFIX
from wildcam.gateway.review import review_app
from wildcam.gateway.store import GatewayStore
from wildcam.upload.ota import valid_update_id
from wildcam.upload.tokens import read_token, write_new_token
from wildcam.upload.wire import decode_batch

__all__ = ["ConnectionGuard", "Gateway", "GatewayConfig", "load_token", "make_app", "serve"]

log = logging.getLogger("wildcam.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MB = 1024 * 1024
MAX_RATIO = 200  # decompressed/compressed beyond the first MiB: JPEG and JSON batches are < 20
BODY_SLOTS = 4  # request bodies read at once (each at most the body limit)
_CHUNK = 64 * 1024
DEVICE = web.RequestKey("device", Device)  # the registered device that sent a request, if any


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
    operator_token_file: Path | None = None
    max_connections: int = 256
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    auth_failure_delay_s: float = 1.0
    device_tokens_only: bool = False  # refuse the shared token once a device is registered

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
    """The bearer token in ``path`` (strictly one token, see :func:`read_token`); with
    ``create``, a new random one is written (mode 0600) when the file does not exist."""
    if create and not path.exists():
        write_new_token(path)
    return read_token(path)


class ConnectionGuard:
    """Caps open connections and closes those that do not send a request head in time.

    Wraps the aiohttp protocol factory; the app's middleware marks a connection busy while a
    handler runs (its body has its own timeout), idle again after it, and trusted once it sent
    a valid token. At the cap, a new connection evicts the oldest untrusted one.
    """

    def __init__(self, max_connections: int, header_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.deadlines: dict[asyncio.BaseTransport, float | None] = {}
        self.trusted: set[asyncio.BaseTransport] = set()
        self.refused = 0
        self.evicted = 0
        self.timed_out = 0

    def admit(self) -> bool:
        """Room for one more connection (evicting the oldest untrusted one at the cap)?"""
        if len(self.deadlines) < self.max_connections:
            return True
        strangers = [t for t in self.deadlines if t not in self.trusted]
        if not strangers:
            self.refused += 1
            return False
        victim = strangers[0]  # dicts keep insertion order: the oldest connection
        self.deadlines.pop(victim, None)
        victim.abort()  # type: ignore[attr-defined]
        self.evicted += 1
        return True

    def trust(self, transport: asyncio.BaseTransport | None) -> None:
        """``transport`` sent a valid token."""
        if transport in self.deadlines:
            self.trusted.add(transport)

    def forget(self, transport: asyncio.BaseTransport) -> None:
        """``transport`` closed."""
        self.deadlines.pop(transport, None)
        self.trusted.discard(transport)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory guarding the protocols ``inner`` makes."""
        return lambda: _GuardedProtocol(self, inner())

    def busy(self, transport: asyncio.BaseTransport | None) -> None:
        """A request head arrived on ``transport``: no head deadline while it is handled."""
        if transport in self.deadlines:
            self.deadlines[transport] = None

    def idle(self, transport: asyncio.BaseTransport | None) -> None:
        """The request on ``transport`` was answered: the next head is due in time."""
        if transport in self.deadlines:
            self.deadlines[transport] = time.monotonic() + self.header_timeout_s

    async def sweep(self) -> None:
        """Close connections past their deadline, forever (cancel to stop)."""
        while True:
            await asyncio.sleep(min(1.0, self.header_timeout_s / 4))
            now = time.monotonic()
            for transport, deadline in list(self.deadlines.items()):
                if deadline is not None and now > deadline:
                    self.timed_out += 1
                    self.deadlines.pop(transport, None)
                    transport.abort()  # type: ignore[attr-defined]


class _GuardedProtocol(asyncio.Protocol):
    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard, self._inner, self._open = guard, inner, False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.admit():
            transport.abort()  # type: ignore[attr-defined]
            return
        self._open = True
        self._guard.deadlines[transport] = time.monotonic() + self._guard.header_timeout_s
        self._transport = transport
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._open:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._open else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._open:
            self._guard.forget(self._transport)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._open:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._open:
            self._inner.resume_writing()


async def _read_limited(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The request body, decompressed (gzip) as it streams in, at most ``limit`` bytes.

    Decompression runs in steps of at most 64 KiB of output, each checked against the limit and
    the ratio cap, so a bomb is refused after about a mebibyte of work and memory; buffers are
    dropped before the error is raised (a traceback must not keep them alive).
    """
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise web.HTTPUnsupportedMediaType(text=f"Content-Encoding {encoding!r}: only gzip")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    chunks: list[bytes] = []
    total = wire = 0
    problem: web.HTTPException | None = None
    try:
        while problem is None:
            data = await asyncio.wait_for(request.content.readany(), timeout_s)
            if not data:
                if inflate is not None and not inflate.eof:
                    problem = web.HTTPBadRequest(text="gzip body is truncated")
                break
            wire += len(data)
            while data and problem is None:
                if inflate is None:
                    piece, data = data, b""
                else:
                    piece = inflate.decompress(data, _CHUNK)
                    data = inflate.unconsumed_tail
                total += len(piece)
                consumed = wire - len(data)  # compressed bytes the output came from
                if total > limit:
                    problem = web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=total)
                elif total > MB and total > MAX_RATIO * consumed:
                    problem = web.HTTPRequestEntityTooLarge(
                        text=f"compression ratio above {MAX_RATIO}",
                        max_size=limit,
                        actual_size=total,
                    )
                else:
                    chunks.append(piece)
    except TimeoutError:
        problem = web.HTTPRequestTimeout(text=f"no body data for {timeout_s:.0f} s")
    except zlib.error:
        problem = web.HTTPBadRequest(text="Content-Encoding gzip, but the body is not gzip")
    except ConnectionResetError:  # the client died mid-request (e.g. a crashed uploader)
        problem = web.HTTPBadRequest(text="connection lost before the body was complete")
    if problem is not None:
        chunks.clear()
        raise problem
    return b"".join(chunks)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda d: json.dumps(d, separators=(",", ":"))
    )


def _int_arg(request: web.Request, name: str, default: int) -> int:
    try:
        return max(0, min(int(request.query.get(name, default)), 2**62))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


def make_app(
    store: GatewayStore,
    token: str,
    max_body_mb: float = 16.0,
    max_update_mb: float = 256.0,
    secure: bool = False,
    *,
    operator_token: str = "",
    guard: ConnectionGuard | None = None,
    body_timeout_s: float = 30.0,
    refusals: Counter[str] | None = None,
    auth_failure_delay_s: float = 0.0,
    devices: DeviceRegistry | None = None,
    device_tokens_only: bool = False,
) -> web.Application:
    """The aiohttp application over ``store``. Publishing (``POST /v1/blobs``,
    ``POST /v1/updates``) needs ``operator_token`` ('' = nobody may publish). Registered devices
    (``devices``) authenticate with their own tokens; with ``device_tokens_only`` the shared
    ``token`` is refused once any device is registered. Refused requests are counted in
    ``refusals`` (in memory: an unauthenticated flood writes nothing)."""
    device = f"Bearer {token}".encode()
    operator = f"Bearer {operator_token}".encode() if operator_token else b""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-store")
    body_limit, update_limit = int(max_body_mb * MB), int(max_update_mb * MB)
    slots = asyncio.Semaphore(BODY_SLOTS)
    refusals = Counter() if refusals is None else refusals

    def shared_accepted() -> bool:
        return not (device_tokens_only and devices is not None and devices.any_registered())

    async def blocking(func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, func, *args)

    async def read_body(request: web.Request, limit: int) -> bytes:
        async with slots:
            return await _read_limited(request, limit, body_timeout_s)

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if guard is not None:
            guard.busy(request.transport)
        try:
            # the review page has its own login (wildcam.gateway.review)
            if request.path != "/v1/health" and not request.path.startswith(f"{REVIEW_PREFIX}/"):
                given = request.headers.get("Authorization", "").encode()
                is_operator = bool(operator) and hmac.compare_digest(given, operator)
                shared = not is_operator and hmac.compare_digest(given, device)
                if shared and not shared_accepted():
                    refusals["shared_token"] += 1  # a trap still on the shared token
                    shared = False
                known = is_operator or shared
                if not known and devices is not None and given.startswith(b"Bearer "):
                    found = devices.authenticate(given[7:].decode("latin-1"))
                    if found is not None:
                        request[DEVICE], known = found, True
                if not known:
                    refusals["unauthorized"] += 1
                    # jittered, so a flood's answers do not all come due at once
                    await asyncio.sleep(auth_failure_delay_s * random.uniform(0.5, 1.5))
                    raise web.HTTPUnauthorized(
                        headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
                        text="missing or wrong bearer token",
                    )
                if guard is not None:
                    guard.trust(request.transport)
                if not is_operator and (
                    request.path == "/v1/devices"
                    or (request.method == "POST" and request.path in ("/v1/blobs", "/v1/updates"))
                ):
                    refusals["forbidden"] += 1
                    raise web.HTTPForbidden(text="this needs the operator token")
            try:
                return await handler(request)
            except web.HTTPRequestEntityTooLarge:
                refusals["too_large"] += 1
                raise
            except StorageError as err:
                log.error("%s", err)
                raise web.HTTPServiceUnavailable(text="storage unavailable") from err
        finally:
            if guard is not None:
                guard.idle(request.transport)

    async def health(request: web.Request) -> web.Response:
        return _json({"ok": True})

    async def post_items(request: web.Request) -> web.Response:
        body = await read_body(request, body_limit)
        try:
            records = list(decode_batch(body))
        except InputError as err:
            raise web.HTTPBadRequest(text=str(err)) from err
        source = request.get(DEVICE)
        return _json(
            {"results": await blocking(store.ingest, records, source.id if source else "")}
        )

    async def get_items(request: web.Request) -> web.Response:
        items = await blocking(
            store.items,
            _int_arg(request, "after", 0),
            min(_int_arg(request, "limit", 1000), 10000),
        )
        return _json({"items": items})

    async def stats(request: web.Request) -> web.Response:
        counters = await blocking(store.counters)
        counters.update(refusals)
        if guard is not None:
            counters.update(
                connections_refused=guard.refused,
                header_timeouts=guard.timed_out,
                connections_evicted=guard.evicted,
            )
        return _json(counters)

    async def get_blob(request: web.Request) -> web.StreamResponse:
        path, data = await blocking(store.blob_source, request.match_info["sha"])
        if path is not None:
            return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
        if data is None:
            raise web.HTTPNotFound(text="no such blob")
        return web.Response(body=data, content_type="application/octet-stream")

    async def post_blob(request: web.Request) -> web.Response:
        body = await read_body(request, update_limit)
        return _json({"sha256": await blocking(store.put_blob, body)})

    async def post_update(request: web.Request) -> web.Response:
        body = await read_body(request, body_limit)
        try:
            doc = json.loads(body)
            manifest = base64.b64decode(doc["manifest"], validate=True)
            signature = base64.b64decode(doc["signature"], validate=True)
            parsed = json.loads(manifest)
            update_id = str(parsed["update_id"])
            files = parsed.get("files", [])
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            RecursionError,
            binascii.Error,
        ) as err:
            raise web.HTTPBadRequest(text=f"not an update: {type(err).__name__}") from err
        if not valid_update_id(update_id):
            raise web.HTTPBadRequest(text="bad update_id")
        for entry in files if isinstance(files, list) else []:
            if not isinstance(entry, dict) or not await blocking(
                store.has_blob, str(entry.get("sha256", ""))
            ):
                raise web.HTTPBadRequest(text=f"update file not uploaded: {entry!r}"[:300])
        target_device, group, share = (
            doc.get("device", ""),
            doc.get("group", ""),
            doc.get("share", 1.0),
        )
        if (
            not isinstance(target_device, str)
            or not isinstance(group, str)
            or (target_device and group)
            or isinstance(share, bool)
            or not isinstance(share, (int, float))
            or not 0.0 < share <= 1.0
        ):
            raise web.HTTPBadRequest(
                text='target: a "device" or a "group" (strings), "share" in (0, 1]'
            )
        if (target_device or group) and devices is None:
            raise web.HTTPBadRequest(text="this gateway has no device registry")
        if (
            target_device
            and devices is not None
            and await blocking(devices.get, target_device) is None
        ):
            raise web.HTTPBadRequest(text=f"no registered device {target_device}"[:200])
        if group and devices is not None and not await blocking(devices.all, group):
            raise web.HTTPBadRequest(text=f"no registered device in group {group}"[:200])
        seq = await blocking(
            lambda: store.publish_update(
                update_id,
                manifest,
                signature,
                device=target_device,
                group=group,
                share=float(share),
            )
        )
        return _json({"seq": seq, "update_id": update_id})

    def offered_to(device: Device | None, after: int) -> list[dict[str, Any]]:
        reported = devices.reported_by(device.id) if devices and device else set()
        return [
            u
            for u in store.updates(after)
            if offered(
                u,
                device,
                [d.id for d in devices.all(u["target_group"])]
                if devices and u["target_group"]
                else [],
                u["update_id"] in reported,
            )
        ]

    async def get_updates(request: web.Request) -> web.Response:
        updates = await blocking(offered_to, request.get(DEVICE), _int_arg(request, "after", 0))
        return _json(
            {
                "updates": [
                    {
                        "seq": u["seq"],
                        "update_id": u["update_id"],
                        "manifest": base64.b64encode(u["manifest"]).decode(),
                        "signature": base64.b64encode(u["signature"]).decode(),
                    }
                    for u in updates
                ]
            }
        )

    async def post_report(request: web.Request) -> web.Response:
        source = request.get(DEVICE)
        if source is None:
            raise web.HTTPForbidden(text="reports come from registered devices")
        try:
            doc = json.loads(await read_body(request, 64 * 1024))
            update_id, status, reason = doc["update_id"], doc["status"], doc.get("reason", "")
        except (ValueError, KeyError, TypeError, RecursionError) as err:
            raise web.HTTPBadRequest(text=f"not a report: {type(err).__name__}") from err
        if (
            not isinstance(update_id, str)
            or not valid_update_id(update_id)
            or status not in REPORT_STATUSES
            or not isinstance(reason, str)
        ):
            raise web.HTTPBadRequest(
                text='a report is {"update_id", "status": '
                f'{" | ".join(REPORT_STATUSES)}, "reason"}}'
            )
        assert devices is not None  # a registered device authenticated
        halted = await blocking(devices.report, update_id, source.id, status, reason)
        if halted:
            log.warning("rollout of %s halted: %s failed (%s)", update_id, source.id, reason[:200])
        return _json({"recorded": True, "halted": halted})

    async def get_devices(request: web.Request) -> web.Response:
        found = await blocking(devices.all) if devices is not None else []
        return _json({"devices": [d.public() for d in found]})

    async def on_cleanup(app: web.Application) -> None:
        pool.shutdown(wait=True)

    app = web.Application(middlewares=[auth], client_max_size=max(body_limit, update_limit))
    app.add_routes(
        [
            web.get("/v1/health", health),
            web.post("/v1/items", post_items),
            web.get("/v1/items", get_items),
            web.get("/v1/stats", stats),
            web.get("/v1/blobs/{sha}", get_blob),
            web.post("/v1/blobs", post_blob),
            web.post("/v1/updates", post_update),
            web.get("/v1/updates", get_updates),
            web.post("/v1/updates/report", post_report),
            web.get("/v1/devices", get_devices),
        ]
    )
    app.on_cleanup.append(on_cleanup)
    app.add_subapp(
        REVIEW_PREFIX,
        review_app(
            store, token, secure, operator_token=operator_token, shared_accepted=shared_accepted
        ),
    )
    return app


class Gateway:
    """A gateway on its own event loop in a background thread; ``port`` 0 picks a free port."""

    def __init__(self, config: GatewayConfig, create_token: bool = False) -> None:
        self.config = config
        self._token = load_token(config.token_file, create=create_token)
        # A missing operator token file gets a new random token: only who can read it publishes.
        self._operator_token = (
            ""
            if config.operator_token_file is None
            else load_token(config.operator_token_file, create=True)
        )
        if self._operator_token == self._token:
            raise ConfigError("the operator token must differ from the device token")
        self._ssl = config.ssl_context()
        self.store = GatewayStore(config.store)
        self.devices = DeviceRegistry(config.store / "gateway.db")
        self.guard = ConnectionGuard(config.max_connections, config.header_timeout_s)
        self.refusals: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    async def _start(self) -> int:
        cfg = self.config
        app = make_app(
            self.store,
            self._token,
            cfg.max_body_mb,
            cfg.max_update_mb,
            operator_token=self._operator_token,
            guard=self.guard,
            body_timeout_s=cfg.body_timeout_s,
            refusals=self.refusals,
            auth_failure_delay_s=cfg.auth_failure_delay_s,
            secure=self._ssl is not None,
            devices=self.devices,
            device_tokens_only=cfg.device_tokens_only,
        )
        # auto_decompress off: the app decompresses, after the token check, with caps.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            auto_decompress=False,
            lingering_time=1.0,
            keepalive_timeout=2 * cfg.header_timeout_s,
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self.guard.factory(self._runner.server),
            cfg.host,
            cfg.port,
            ssl=self._ssl,
            backlog=128,
            reuse_address=True,
        )
        self._sweeper = asyncio.get_running_loop().create_task(self.guard.sweep())
        return int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> Gateway:
        """Start serving; returns self once the port is bound."""
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        """Stop serving and close the store."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.devices.close()
        self.store.close()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    config: GatewayConfig,
    create_token: bool = True,
    ready: Callable[[Gateway], None] | None = None,
) -> int:
    """Run a gateway in the foreground until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Gateway(config, create_token=create_token) as gateway:
        if ready is not None:
            ready(gateway)
        stop.wait()
    return 0
