"""Device identities on the gateway: per-device tokens from the CLI, attribution of stored items,
401 at once on revoke, and OTA updates targeted at a device or a group with a staged rollout
that a reported failure halts."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from wildcam.gateway import Gateway
from wildcam.gateway.devices import DeviceRegistry, in_rollout
from wildcam.upload.ota import build_manifest
from wildcam.upload.wire import Record, encode_batch

TOKEN = "gateway-test-token-0123456789"  # the shared token (conftest)


def post_item(gateway: Gateway, token: str, key: str) -> httpx.Response:
    body = encode_batch([Record({"key": key, "kind": "metadata"}, key.encode())])
    return httpx.post(
        f"{gateway.url}/v1/items", content=body, headers={"Authorization": f"Bearer {token}"}
    )


def publish(operator: httpx.Client, update_id: str, **target: object) -> httpx.Response:
    manifest = build_manifest(update_id, {}, params={"uploader": {"quota_mb": 10}}, version=1)
    return operator.post(
        "/v1/updates",
        json={
            "manifest": base64.b64encode(manifest).decode(),
            "signature": base64.b64encode(b"s" * 64).decode(),
            **target,
        },
    )


def offered(gateway: Gateway, token: str) -> list[str]:
    r = httpx.get(
        f"{gateway.url}/v1/updates?after=0", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    return [u["update_id"] for u in r.json()["updates"]]


def wildcam(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wildcam.cli", "gateway", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_issues_rotates_revokes_and_items_are_attributed(
    gateway: Gateway, tmp_path: Path
) -> None:
    store = str(gateway.config.store)
    added = wildcam(
        "--store",
        store,
        "device",
        "add",
        "trap-01",
        "--site",
        "north",
        "--group",
        "woods",
        "--profile",
        "rpi5",
        "--battery",
        "37Wh",
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token) >= 40
    # the registry keeps the digest only
    assert token not in (gateway.config.store / "gateway.db").read_bytes().decode("latin-1")
    assert post_item(gateway, token, "a1").json()["results"][0]["status"] == "stored"
    assert post_item(gateway, TOKEN, "shared1").status_code == 200  # the shared token still works
    items = {
        i["key"]: i["device"]
        for i in httpx.get(
            f"{gateway.url}/v1/items", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()["items"]
    }
    assert items == {"a1": "trap-01", "shared1": ""}

    rotated = wildcam(
        "--store", store, "device", "rotate", "trap-01", "--token-out", str(tmp_path / "t1")
    )
    assert rotated.returncode == 0, rotated.stderr
    new = (tmp_path / "t1").read_text().strip()
    assert (tmp_path / "t1").stat().st_mode & 0o777 == 0o600
    assert post_item(gateway, token, "a2").status_code == 401  # the old token, at once
    assert post_item(gateway, new, "a2").status_code == 200

    assert wildcam("--store", store, "device", "revoke", "trap-01").returncode == 0
    assert post_item(gateway, new, "a3").status_code == 401  # the next request
    listed = wildcam("--store", store, "device", "list")
    assert '"id":"trap-01"' in listed.stdout and '"revoked":null' not in listed.stdout
    keys = [
        i["key"]
        for i in httpx.get(
            f"{gateway.url}/v1/items", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()["items"]
    ]
    assert keys == ["a1", "shared1", "a2"]


def test_cli_refuses_bad_input_with_a_reason(gateway: Gateway) -> None:
    store = str(gateway.config.store)
    for args, reason in (
        (["add", "bad/id"], "device id"),
        (["rotate", "nobody"], "no device"),
        (["add", "x1", "--group", "a b"], "group"),
    ):
        done = wildcam("--store", store, "device", *args)
        assert done.returncode == 2 and reason in done.stderr and "Traceback" not in done.stderr
    assert wildcam("--store", store, "device", "add", "x2").returncode == 0
    again = wildcam("--store", store, "device", "add", "x2")
    assert again.returncode == 2 and "registered already" in again.stderr


def test_updates_target_a_device_or_a_staged_share_of_a_group(
    gateway: Gateway, operator: httpx.Client
) -> None:
    registry = gateway.devices
    tokens = {f"d{i}": registry.add(f"d{i}", group="woods") for i in range(10)}
    tokens["solo"] = registry.add("solo", group="field")
    assert publish(operator, "for-solo", device="solo").status_code == 200
    assert publish(operator, "stage", group="woods", share=0.3).status_code == 200
    assert publish(operator, "everyone").status_code == 200
    assert publish(operator, "bad", group="nobody").status_code == 400
    assert publish(operator, "bad", device="d1", group="woods").status_code == 400
    assert publish(operator, "bad", group="woods", share=0).status_code == 400

    members = [f"d{i}" for i in range(10)]
    first = [d for d in members if in_rollout("stage", d, members, 0.3)]
    assert len(first) == 3
    for device, token in tokens.items():
        expected = (
            (["for-solo"] if device == "solo" else [])
            + (["stage"] if device in first else [])
            + ["everyone"]
        )
        assert offered(gateway, token) == expected, device
    assert offered(gateway, TOKEN) == ["everyone"]  # the shared token: untargeted only

    # the first stage applies; one device fails: the rollout halts for the group
    ok = httpx.post(
        f"{gateway.url}/v1/updates/report",
        json={"update_id": "stage", "status": "applied"},
        headers={"Authorization": f"Bearer {tokens[first[0]]}"},
    )
    assert ok.json() == {"recorded": True, "halted": False}
    failed = httpx.post(
        f"{gateway.url}/v1/updates/report",
        json={"update_id": "stage", "status": "failed", "reason": "cascade_detector refused"},
        headers={"Authorization": f"Bearer {tokens[first[1]]}"},
    )
    assert failed.json() == {"recorded": True, "halted": True}
    assert all("stage" not in offered(gateway, tokens[d]) for d in members)
    # widening a halted rollout needs --resume
    widen = wildcam("--store", str(gateway.config.store), "rollout", "stage", "--share", "1")
    assert widen.returncode == 2 and "halted" in widen.stderr
    widen = wildcam(
        "--store", str(gateway.config.store), "rollout", "stage", "--share", "1", "--resume"
    )
    assert widen.returncode == 0, widen.stderr
    assert "cascade_detector refused" in widen.stdout  # the reports are shown
    # every device of the group is offered it now, except those that reported on it
    for device in members:
        assert ("stage" in offered(gateway, tokens[device])) == (device not in first[:2])
    # bad reports and reports from the shared token are refused
    assert (
        httpx.post(
            f"{gateway.url}/v1/updates/report",
            json={"update_id": "stage", "status": "maybe"},
            headers={"Authorization": f"Bearer {tokens['d1']}"},
        ).status_code
        == 400
    )
    assert (
        httpx.post(
            f"{gateway.url}/v1/updates/report",
            json={"update_id": "stage", "status": "failed"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).status_code
        == 403
    )
    # the device list is the operator's
    assert (
        httpx.get(
            f"{gateway.url}/v1/devices", headers={"Authorization": f"Bearer {tokens['d1']}"}
        ).status_code
        == 403
    )
    assert len(operator.get("/v1/devices").json()["devices"]) == 11


def test_registry_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "gateway.db"
    registry = DeviceRegistry(db)
    token = registry.add("trap", site="s", group="g")
    registry.close()
    again = DeviceRegistry(db)
    found = again.authenticate(token)
    assert found is not None and (found.id, found.site, found.group) == ("trap", "s", "g")
    assert again.authenticate(token + "x") is None
    again.close()


@pytest.mark.parametrize("share,expected", [(0.01, 1), (0.5, 5), (1.0, 10)])
def test_rollout_share_rounds_up(share: float, expected: int) -> None:
    members = [f"d{i}" for i in range(10)]
    assert sum(in_rollout("u", d, members, share) for d in members) == expected


def test_a_device_failing_an_update_halts_the_rollout_end_to_end(
    gateway: Gateway, operator: httpx.Client, tmp_path: Path
) -> None:
    from wildcam.upload.ota import OtaClient, generate_keys, load_public_key
    from wildcam.upload.transport import HttpTransport

    tokens = {d: gateway.devices.add(d, group="woods") for d in ("a1", "a2", "a3")}
    _, public = generate_keys(tmp_path / "keys")
    assert publish(operator, "broken", group="woods", share=1.0).status_code == 200  # bad sig
    (tmp_path / "a1.token").write_text(tokens["a1"] + "\n")
    transport = HttpTransport(gateway.url, str(tmp_path / "a1.token"))
    try:
        client = OtaClient(transport, load_public_key(public), tmp_path / "ota", applier=None)  # type: ignore[arg-type]
        lines = client.sync()
    finally:
        transport.close()
    assert len(lines) == 1 and lines[0].startswith("refused broken")
    assert client.state["unreported"] == []  # the gateway took the report
    assert gateway.devices.reports("broken")[0]["status"] == "failed"
    assert offered(gateway, tokens["a2"]) == offered(gateway, tokens["a3"]) == []


def test_a_store_from_before_gets_the_new_columns(tmp_path: Path) -> None:
    import sqlite3

    from wildcam.gateway import GatewayStore

    (tmp_path / "s").mkdir()
    db = sqlite3.connect(tmp_path / "s" / "gateway.db")
    db.executescript("""
        CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
            sha256 TEXT NOT NULL, size INTEGER NOT NULL, kind TEXT NOT NULL,
            priority INTEGER NOT NULL, score REAL NOT NULL, class_id TEXT NOT NULL,
            content_type TEXT NOT NULL, meta TEXT NOT NULL, received REAL NOT NULL);
        INSERT INTO items VALUES (1, 'old', 'x', 1, 'metadata', 0, 0.5, '', '', '{}', 1.0);
        CREATE TABLE updates (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            update_id TEXT NOT NULL UNIQUE, manifest BLOB NOT NULL, signature BLOB NOT NULL,
            published REAL NOT NULL);""")
    db.commit()
    db.close()
    store = GatewayStore(tmp_path / "s")
    try:
        assert [(i["key"], i["device"]) for i in store.items()] == [("old", "")]
        store.publish_update("u1", b"{}", b"", group="g", share=0.5)
        assert store.updates()[0]["share"] == 0.5
    finally:
        store.close()


def test_device_tokens_only_refuses_the_shared_token_once_devices_are_registered(
    tmp_path: Path, gateway_cli: Callable[..., str]
) -> None:
    store = tmp_path / "store"
    line = gateway_cli(store, "--device-tokens-only")
    assert "refused once a device is registered" in line
    url = line.split()[3]
    shared = (store / "token").read_text().strip()
    operator = (store / "operator.token").read_text().strip()

    def post(token: str, key: str) -> httpx.Response:
        body = encode_batch([Record({"key": key, "kind": "metadata"}, key.encode())])
        return httpx.post(
            f"{url}/v1/items", content=body, headers={"Authorization": f"Bearer {token}"}
        )

    assert post(shared, "s0").status_code == 200  # no device yet: a single-trap set-up
    added = wildcam("--store", str(store), "device", "add", "trap-01")
    assert added.returncode == 0, added.stderr
    assert post(shared, "s1").status_code == 401  # at once, no restart
    assert post(added.stdout.strip(), "a1").status_code == 200
    # revoking every device does not let the shared token back in
    assert wildcam("--store", str(store), "device", "revoke", "trap-01").returncode == 0
    assert post(shared, "s2").status_code == 401
    as_operator = {"Authorization": f"Bearer {operator}"}
    items = httpx.get(f"{url}/v1/items", headers=as_operator).json()["items"]
    assert {i["key"]: i["device"] for i in items} == {"s0": "", "a1": "trap-01"}
    assert httpx.get(f"{url}/v1/stats", headers=as_operator).json()["shared_token"] == 2
