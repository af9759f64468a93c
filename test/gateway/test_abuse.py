"""The gateway under hostile clients (loopback, bounded): per-record answers for malformed
fields, auth before any body byte, nothing written for unauthenticated requests, streamed and
capped decompression, slow and surplus connections, crash leftovers, file modes."""

from __future__ import annotations

import gzip
import json
import os
import socket
import stat
import struct
import time
from pathlib import Path

import httpx
import pytest

from wildcam.gateway import Gateway, GatewayStore
from wildcam.upload.wire import MAGIC, Record, encode_batch


@pytest.fixture
def token(token_file: Path) -> str:
    return token_file.read_text().strip()


def raw_record(header: dict, payload: bytes = b"x") -> bytes:
    """One record with a header exactly as given (no size/digest filled in)."""
    import hashlib

    head = dict(header, size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    raw = json.dumps(head).encode()
    return struct.pack(">I", len(raw)) + raw + payload


def good(key: str) -> bytes:
    return encode_batch([Record({"key": key, "kind": "thumbnail"}, key.encode())])[4:]


def disk_state(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file()
    }


def test_malformed_fields_are_invalid_per_record_never_500(client: httpx.Client) -> None:
    body = (
        MAGIC
        + good("ok1")
        + raw_record({"key": "big-priority", "kind": "thumbnail", "priority": 2**70})
        + raw_record({"key": "str-priority", "kind": "thumbnail", "priority": "high"})
        + raw_record({"key": "nan-score", "kind": "thumbnail", "score": float("nan")})
        + raw_record(
            {
                "key": "deep-meta",
                "kind": "thumbnail",
                "meta": json.loads("[" * 50 + "]" * 50) and {"a": json.loads("[" * 50 + "]" * 50)},
            }
        )
        + raw_record({"key": "long-class", "kind": "thumbnail", "class_id": "c" * 1000})
        + good("ok2")
    )
    r = client.post("/v1/items", content=body)
    assert r.status_code == 200, r.text
    status = {x["key"]: x["status"] for x in r.json()["results"]}
    assert status == {
        "ok1": "stored",
        "big-priority": "invalid",
        "str-priority": "invalid",
        "nan-score": "invalid",
        "deep-meta": "invalid",
        "long-class": "invalid",
        "ok2": "stored",
    }
    # no transaction was left open: the next request is served normally
    assert (
        client.post("/v1/items", content=MAGIC + good("ok3")).json()["results"][0]["status"]
        == "stored"
    )


def test_unparseable_headers_and_bad_gzip_are_400(client: httpx.Client) -> None:
    deep = b'{"key":"k","meta":' + b"[" * 10000 + b"]" * 10000 + b"}"
    r = client.post("/v1/items", content=MAGIC + struct.pack(">I", len(deep)) + deep)
    assert r.status_code == 400
    r = client.post("/v1/items", content=MAGIC + good("a"), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = client.post("/v1/items", content=MAGIC + good("a"), headers={"Content-Encoding": "br"})
    assert r.status_code == 415
    assert client.post("/v1/items", content=MAGIC + good("b")).status_code == 200


def test_unauthenticated_requests_read_nothing_and_write_nothing(
    gateway: Gateway, client: httpx.Client
) -> None:
    client.post("/v1/items", content=MAGIC + good("first"))
    before = disk_state(gateway.config.store)
    bomb = gzip.compress(bytes(64 * 1024 * 1024), 9)  # 64 MiB of zeros, ~64 KiB on the wire
    with httpx.Client(base_url=gateway.url, timeout=10) as anonymous:
        for i in range(20):
            r = anonymous.post(
                "/v1/items",
                content=bomb if i % 2 else MAGIC + good("x"),
                headers={"Content-Encoding": "gzip"} if i % 2 else {},
            )
            assert r.status_code == 401
    assert disk_state(gateway.config.store) == before
    assert client.get("/v1/stats").json()["unauthorized"] == 20


def test_authorised_bombs_are_capped_while_streaming(client: httpx.Client) -> None:
    bomb = gzip.compress(MAGIC + bytes(64 * 1024 * 1024), 9)
    r = client.post("/v1/items", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert client.get("/v1/stats").json()["items"] == 0


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_slow_headers_and_stalled_bodies_are_cut_off(
    gateway: Gateway, client: httpx.Client, token: str
) -> None:
    slow = socket.create_connection(("127.0.0.1", gateway.port))
    slow.sendall(b"POST /v1/items HTTP/1.1\r\nHost: x\r\n")
    closed = False
    for _ in range(40):  # one header byte every 0.2 s: never a complete head
        try:
            slow.sendall(b"X")
        except OSError:
            closed = True
            break
        if _closed_by_server(slow, 0.2):
            closed = True
            break
    assert closed  # header_timeout_s is 1 s in the fixture
    stalled = socket.create_connection(("127.0.0.1", gateway.port))
    stalled.sendall(
        f"POST /v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Length: 1000\r\n\r\nWCB1".encode()
    )
    try:
        stalled.settimeout(10.0)
        assert b" 408 " in stalled.recv(4096).split(b"\r\n")[0] + b" "
    finally:
        slow.close()
        stalled.close()
    stats = client.get("/v1/stats").json()
    assert stats["header_timeouts"] >= 1


def test_strangers_cannot_crowd_devices_out_at_the_connection_cap(
    gateway: Gateway, token: str
) -> None:
    idle = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(32)]
    try:
        deadline = time.monotonic() + 5
        while len(gateway.guard.deadlines) < 32 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(gateway.guard.deadlines) == 32  # the cap, all strangers
        with httpx.Client(
            base_url=gateway.url, timeout=5, headers={"Authorization": f"Bearer {token}"}
        ) as device:
            assert device.get("/v1/stats").status_code == 200  # took a stranger's place
            assert gateway.guard.evicted >= 1
            assert _closed_by_server(idle[0], 5.0)  # the oldest stranger went
            more = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(40)]
            assert device.get("/v1/stats").json()["connections_evicted"] >= 40
            for sock in more:
                sock.close()
    finally:
        for sock in idle:
            sock.close()


def test_crash_leftovers_are_cleaned_at_start_and_files_are_private(tmp_path: Path) -> None:
    store = GatewayStore(tmp_path / "s", inline_max_bytes=10)
    from wildcam.upload.wire import decode_batch

    store.ingest(list(decode_batch(encode_batch([Record({"key": "k", "kind": "t"}, b"L" * 100)]))))
    store.close()
    blobs = tmp_path / "s" / "blobs"
    (blobs / ".tmp-deadbeef-1").write_bytes(b"half a payload")
    (blobs / ("a" * 64)).write_bytes(b"payload whose row was never committed")
    store = GatewayStore(tmp_path / "s", inline_max_bytes=10)
    counters = store.counters()
    assert counters["cleaned_tmp"] == 1 and counters["cleaned_orphans"] == 1
    assert len(list(blobs.iterdir())) == 1 and store.items()[0]["key"] == "k"
    for path in [tmp_path / "s", *(tmp_path / "s").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
    store.close()
    assert os.stat(tmp_path / "s" / "gateway.db").st_mode & 0o777 == 0o600
