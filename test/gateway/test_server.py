"""The gateway over real loopback HTTP: auth, size limits, dedup, storage, listing, updates, TLS,
and the ``wildcam gateway`` command."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import ipaddress
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wildcam.errors import TransportError
from wildcam.gateway import Gateway, GatewayConfig, GatewayStore
from wildcam.upload.transport import HttpTransport
from wildcam.upload.wire import Record, encode_batch

TOKEN = "gateway-test-token-0123456789"


def batch(*records: tuple[str, bytes]) -> bytes:
    return encode_batch(
        [
            Record({"key": k, "kind": "thumbnail", "meta": {"n": i}}, data)
            for i, (k, data) in enumerate(records)
        ]
    )


def test_health_is_open_everything_else_needs_the_token(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/v1/health").json() == {"ok": True}
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": TOKEN},
    ):
        r = httpx.post(f"{gateway.url}/v1/items", content=batch(("a", b"x")), headers=headers)
        assert r.status_code == 401
        assert httpx.get(f"{gateway.url}/v1/items", headers=headers).status_code == 401
    stats = httpx.get(
        f"{gateway.url}/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()
    assert stats["unauthorized"] == 8 and stats["items"] == 0
    assert "unauthorized" not in gateway.store.counters()  # counted in memory, not on disk


def test_batches_are_stored_once_by_key(client: httpx.Client, gateway: Gateway) -> None:
    r = client.post("/v1/items", content=batch(("k1", b"one"), ("k2", b"two")))
    assert [x["status"] for x in r.json()["results"]] == ["stored", "stored"]
    r = client.post(
        "/v1/items",
        content=gzip.compress(batch(("k1", b"one"), ("k3", b"3"))),
        headers={"Content-Encoding": "gzip"},
    )
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "stored"]
    r = client.post("/v1/items", content=batch(("k2", b"other content")))
    assert r.json()["results"][0]["status"] == "conflict"
    items = client.get("/v1/items").json()["items"]
    assert [i["key"] for i in items] == ["k1", "k2", "k3"]
    assert items[0]["sha256"] == hashlib.sha256(b"one").hexdigest()
    assert client.get(f"/v1/blobs/{items[1]['sha256']}").content == b"two"
    assert [i["key"] for i in client.get("/v1/items?after=2").json()["items"]] == ["k3"]
    assert client.get("/v1/stats").json()["duplicates"] == 2


def test_transport_lists_every_item_across_pages(
    client: httpx.Client, gateway: Gateway, token_file: Path
) -> None:
    client.post("/v1/items", content=batch(*[(f"k{i}", b"x%d" % i) for i in range(5)]))
    transport = HttpTransport(gateway.url, str(token_file))
    try:
        keys = [item["key"] for item in transport.list_items(page=2)]
    finally:
        transport.close()
    assert keys == [f"k{i}" for i in range(5)]


def test_malformed_batches_and_paths_are_refused(client: httpx.Client) -> None:
    assert client.post("/v1/items", content=b"garbage").status_code == 400
    assert client.post("/v1/items", content=batch(("k", b"data"))[:-2]).status_code == 400
    bad = encode_batch(
        [
            Record({"key": "k", "kind": "thumbnail", "sha256": "0" * 64}, b"x"),
            Record({"key": "../../etc/passwd", "kind": "t"}, b"x"),
        ]
    )
    results = client.post("/v1/items", content=bad).json()["results"]
    assert [(r["status"], r["reason"]) for r in results] == [
        ("invalid", "sha256 mismatch"),
        ("invalid", "bad key"),
    ]
    assert client.get("/v1/blobs/..%2F..%2Fgateway.db").status_code == 404
    assert client.get("/v1/blobs/" + "a" * 64).status_code == 404
    assert client.get("/v1/items?after=x").status_code == 400


def test_oversize_bodies_are_413(client: httpx.Client, gateway: Gateway) -> None:
    big = batch(("big", os.urandom(600 * 1024)))
    assert client.post("/v1/items", content=big).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield big[: 300 * 1024]
        yield big[300 * 1024 :]

    assert client.post("/v1/items", content=chunks()).status_code == 413
    bomb = gzip.compress(batch(("zeros", bytes(2 * 1024 * 1024))))  # small on the wire
    assert len(bomb) < 512 * 1024
    r = client.post("/v1/items", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    stats = client.get("/v1/stats").json()
    assert stats["too_large"] == 3 and stats["items"] == 0


def test_store_survives_reopen_and_names_files_by_digest(tmp_path: Path) -> None:
    store = GatewayStore(tmp_path / "s", inline_max_bytes=10)
    from wildcam.upload.wire import decode_batch

    results = store.ingest(list(decode_batch(batch(("small", b"tiny"), ("large", b"L" * 100)))))
    assert [r["status"] for r in results] == ["stored", "stored"]
    store.close()
    store = GatewayStore(tmp_path / "s", inline_max_bytes=10)
    assert [i["key"] for i in store.items()] == ["small", "large"]
    assert [p.name for p in (tmp_path / "s" / "blobs").iterdir()] == [
        hashlib.sha256(b"L" * 100).hexdigest()
    ]
    assert store.blob(hashlib.sha256(b"tiny").hexdigest()) == b"tiny"


def test_updates_are_published_and_listed(client: httpx.Client, operator: httpx.Client) -> None:
    assert client.post("/v1/blobs", content=b"model bytes").status_code == 403  # device token
    sha = operator.post("/v1/blobs", content=b"model bytes").json()["sha256"]
    manifest = json.dumps(
        {"update_id": "u1", "files": [{"path": "m.onnx", "sha256": sha, "size": 11}]}
    ).encode()
    doc = {"manifest": base64.b64encode(manifest).decode(), "signature": "c2ln"}
    assert client.post("/v1/updates", json=doc).status_code == 403
    assert operator.post("/v1/updates", json=doc).json() == {"seq": 1, "update_id": "u1"}
    missing = json.dumps({"update_id": "u2", "files": [{"path": "x", "sha256": "f" * 64}]})
    assert (
        operator.post(
            "/v1/updates",
            json={"manifest": base64.b64encode(missing.encode()).decode(), "signature": ""},
        ).status_code
        == 400
    )
    bad_id = json.dumps({"update_id": "../x"}).encode()
    assert (
        operator.post(
            "/v1/updates", json={"manifest": base64.b64encode(bad_id).decode(), "signature": ""}
        ).status_code
        == 400
    )
    updates = client.get("/v1/updates").json()["updates"]
    assert [(u["seq"], u["update_id"]) for u in updates] == [(1, "u1")]
    assert base64.b64decode(updates[0]["manifest"]) == manifest
    assert client.get("/v1/updates?after=1").json()["updates"] == []


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_is_served_and_verified_by_default(tmp_path: Path, token_file: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with Gateway(
        GatewayConfig(
            store=tmp_path / "s", token_file=token_file, port=0, certfile=cert, keyfile=key
        )
    ) as gw:
        assert gw.url.startswith("https://127.0.0.1:")
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            HttpTransport(gw.url, str(token_file)).probe()  # unknown CA: refused
        trusted = HttpTransport(gw.url, str(token_file), ca_file=str(cert))
        assert trusted.probe() >= 0.0
        assert trusted.get_json("/v1/stats")["items"] == 0
        assert HttpTransport(gw.url, str(token_file), tls_verify=False).probe() >= 0.0


def test_wildcam_gateway_command_serves_on_a_free_port(
    tmp_path: Path, gateway_cli: Callable[..., str]
) -> None:
    line = gateway_cli(tmp_path / "store")
    url = line.split()[3]
    token = (tmp_path / "store" / "token").read_text().strip()
    assert oct((tmp_path / "store" / "token").stat().st_mode & 0o777) == "0o600"
    assert token not in line
    r = httpx.get(f"{url}/v1/stats", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["items"] == 0
