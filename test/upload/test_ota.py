"""Over-the-air updates: signatures, manifest checks, atomic install, apply with rollback, the
whole way through a gateway, and the operator's ``wildcam gateway keygen/publish``."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wildcam.errors import EXIT_NEEDS_OPERATOR, TransportError, UpdateError
from wildcam.gateway import Gateway
from wildcam.upload.ota import (
    InstalledRecordError,
    OtaClient,
    SignedOnlyParameters,
    build_manifest,
    generate_keys,
    install_files,
    load_private_key,
    load_public_key,
    sign_manifest,
    verify_update,
)
from wildcam.upload.transport import HttpTransport

MODEL_OK = b"ONNX good model bytes"
MODEL_BAD = b"ONNX corrupt"


class FakeNodes:
    """Parameter services of a few nodes; the cascade refuses a model file that is not good."""

    def __init__(self) -> None:
        self.params: dict[str, dict[str, Any]] = {
            "cascade_detector": {
                "manifest": "",
                "stage1_model": "tiny_v1",
                "stage2_model": "",
                "stage3_model": "",
            },
            "uploader": {"quota_mb": 512.0, "enabled": True},
        }
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get(self, node: str, names: list[str]) -> dict[str, Any]:
        if node not in self.params:
            raise UpdateError(f"node {node} does not answer parameter requests")
        return {n: self.params[node][n] for n in names}

    def set(self, node: str, values: dict[str, Any]) -> None:
        self.calls.append((node, dict(values)))
        if (
            node == "cascade_detector"
            and values.get("manifest")
            and Path(values["manifest"]).read_bytes() != MODEL_OK
        ):
            raise UpdateError("model refused: sha256 does not match the manifest")
        if node == "uploader" and float(values.get("quota_mb", 1.0)) <= 0:
            raise UpdateError("quota_mb=-1 is outside [0.01, 1000000.0]")
        self.params[node].update(values)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keys(tmp_path / "keys")


_VERSIONS = itertools.count(1)


def signed(
    keys: tuple[Path, Path],
    update_id: str,
    files: dict[str, bytes] | None = None,
    version: int | None = None,
    **sections: Any,
) -> tuple[bytes, bytes]:
    """A signed manifest; versions increase from call to call unless given."""
    manifest = build_manifest(
        update_id,
        files or {},
        sections.get("cascade"),
        sections.get("params"),
        version=next(_VERSIONS) if version is None else version,
    )
    return manifest, sign_manifest(manifest, load_private_key(keys[0]))


def test_only_a_valid_signature_over_the_exact_manifest_is_accepted(
    keys: tuple[Path, Path],
) -> None:
    public = load_public_key(keys[1])
    manifest, signature = signed(
        keys, "u1", {"m.onnx": MODEL_OK}, params={"uploader": {"quota_mb": 100.0}}
    )
    update = verify_update(manifest, signature, public)
    assert update.update_id == "u1" and update.params == {"uploader": {"quota_mb": 100.0}}
    with pytest.raises(UpdateError, match="unsigned"):
        verify_update(manifest, b"", public)
    other = Ed25519PrivateKey.generate().sign(manifest)
    with pytest.raises(UpdateError, match="bad signature"):
        verify_update(manifest, other, public)
    altered = manifest.replace(b"100.0", b"900.0")
    with pytest.raises(UpdateError, match="bad signature"):
        verify_update(altered, signature, public)
    with pytest.raises(UpdateError, match="bad signature"):
        verify_update(manifest[:-5], signature, public)  # truncated manifest


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"format": "other"}, "format"),
        ({"update_id": "../evil"}, "update_id"),
        ({"files": [{"path": "../../etc/x", "sha256": "0" * 64, "size": 1}]}, "plain relative"),
        ({"files": [{"path": "/abs", "sha256": "0" * 64, "size": 1}]}, "plain relative"),
        ({"files": [{"path": "m", "sha256": "xyz", "size": 1}]}, "sha256"),
        ({"cascade": {"max_stage": "3"}}, "cascade section"),
        ({"cascade": {"manifest": "not-shipped.json"}}, "not a file of the update"),
        ({"params": {"uploader": {"quota_mb": [1, 2]}}}, "scalars"),
        ({"version": 0}, "version"),
        ({"version": "9"}, "version"),
        ({"version": True}, "version"),
        ({"version": 2**60}, "version"),
    ],
)
def test_malformed_manifests_are_refused_even_when_signed(
    keys: tuple[Path, Path], doc: dict[str, Any], reason: str
) -> None:
    base = {
        "format": "wildcam-update/1",
        "update_id": "u",
        "version": 1,
        "files": [],
        "cascade": {},
        "params": {},
    }
    manifest = json.dumps({**base, **doc}).encode()
    signature = sign_manifest(manifest, load_private_key(keys[0]))
    with pytest.raises(UpdateError, match=reason):
        verify_update(manifest, signature, load_public_key(keys[1]))


def test_install_is_atomic_and_checks_size_and_digest(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    manifest, signature = signed(keys, "u1", {"models/a.onnx": MODEL_OK, "b.json": b"{}"})
    update = verify_update(manifest, signature, load_public_key(keys[1]))
    content = {"models/a.onnx": MODEL_OK, "b.json": b"{}"}
    target = install_files(update, lambda f, p: p.write_bytes(content[f.path]), tmp_path / "ota")
    assert (target / "models" / "a.onnx").read_bytes() == MODEL_OK
    again = install_files(update, lambda f, p: p.write_bytes(content[f.path]), tmp_path / "ota")
    assert again != target and target.exists()  # never overwrites installed files
    with pytest.raises(UpdateError, match="truncated"):
        install_files(update, lambda f, p: p.write_bytes(content[f.path][:-1]), tmp_path / "ota")
    with pytest.raises(UpdateError, match="does not match"):
        install_files(
            update, lambda f, p: p.write_bytes(content[f.path].upper()), tmp_path / "ota"
        )
    installed = sorted(p.name for p in (tmp_path / "ota" / "installed").iterdir())
    assert installed == ["u1", "u1.2"]
    assert list((tmp_path / "ota" / "staging").iterdir()) == []


def publish(
    gw: Gateway, token: Path, manifest: bytes, signature: bytes, files: dict[str, bytes]
) -> None:
    """Publish with the gateway's operator token (``token`` is the devices' token file: the
    operator's lies beside it)."""
    client = HttpTransport(gw.url, str(token.parent / "operator.token"))
    for data in files.values():
        client.post_bytes("/v1/blobs", data)
    client.post_json(
        "/v1/updates",
        {
            "manifest": base64.b64encode(manifest).decode(),
            "signature": base64.b64encode(signature).decode(),
        },
    )


def test_updates_through_the_gateway_apply_or_roll_back(
    tmp_path: Path, gateway: Gateway, token_file: Path, keys: tuple[Path, Path]
) -> None:
    nodes = FakeNodes()
    client = OtaClient(
        HttpTransport(gateway.url, str(token_file)),
        load_public_key(keys[1]),
        tmp_path / "ota",
        nodes,
    )
    good = {"cascade.json": MODEL_OK}
    publish(
        gateway,
        token_file,
        *signed(
            keys,
            "models-1",
            good,
            cascade={"manifest": "cascade.json", "stage1_model": "tiny_v2"},
            params={"uploader": {"quota_mb": 100}},
        ),
        good,
    )
    assert client.sync() == [f"applied models-1 (version {client.installed_version})"]
    installed = tmp_path / "ota" / "installed" / "models-1" / "cascade.json"
    assert nodes.params["cascade_detector"]["manifest"] == str(installed)
    assert nodes.params["cascade_detector"]["stage1_model"] == "tiny_v2"
    assert nodes.params["uploader"]["quota_mb"] == 100

    bad = {"cascade.json": MODEL_BAD}  # signed and intact, but the cascade refuses the model
    publish(
        gateway,
        token_file,
        *signed(
            keys, "models-2", bad, cascade={"manifest": "cascade.json", "stage1_model": "tiny_v3"}
        ),
        bad,
    )
    params = {"uploader": {"quota_mb": 50}, "motion_detector": {"pixel_threshold": 30}}
    publish(gateway, token_file, *signed(keys, "params-3", params=params), {})
    manifest, _ = signed(keys, "params-4", params={"uploader": {"quota_mb": 1}})
    publish(gateway, token_file, manifest, b"forged-signature", {})
    results = client.sync()
    assert results[0].startswith("refused models-2: cascade_detector refused")
    assert "model refused" in results[0]
    assert results[1].startswith("refused params-3: node motion_detector does not answer")
    assert (
        results[2] == "refused params-4: bad signature (not signed by the configured key, "
        "or altered)"
    )
    # the previous model and parameters keep working
    assert nodes.params["cascade_detector"]["manifest"] == str(installed)
    assert nodes.params["cascade_detector"]["stage1_model"] == "tiny_v2"
    assert nodes.params["uploader"]["quota_mb"] == 100  # params-3 rolled back
    assert not (tmp_path / "ota" / "installed" / "models-2").exists()
    assert client.sync() == []  # refused updates are remembered, not retried
    state = json.loads((tmp_path / "ota" / "state.json").read_text())
    assert state["applied"] == ["models-1"] and sorted(state["refused"]) == [
        "models-2",
        "params-3",
        "params-4",
    ]


def test_truncated_download_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    manifest, signature = signed(keys, "u1", {"m.onnx": MODEL_OK}, cascade={"stage1_model": "x"})

    class ShortGateway:
        reports: ClassVar[list[Any]] = []

        def post_json(self, path: str, doc: Any) -> None:
            self.reports.append((path, doc))

        def get_json(self, path: str) -> Any:
            return {
                "updates": [
                    {
                        "seq": 1,
                        "update_id": "u1",
                        "manifest": base64.b64encode(manifest).decode(),
                        "signature": base64.b64encode(signature).decode(),
                    }
                ]
            }

        def download(self, path: str, target: Path, max_bytes: int) -> str:
            target.write_bytes(MODEL_OK[:10])  # the connection dropped half way
            return ""

    nodes = FakeNodes()
    client = OtaClient(ShortGateway(), load_public_key(keys[1]), tmp_path / "ota", nodes)
    assert client.sync() == [
        "refused u1: m.onnx: truncated or wrong size (10 bytes, manifest says 21)"
    ]
    # the failure is reported to the gateway (a staged rollout stops on it)
    assert ShortGateway.reports == [
        (
            "/v1/updates/report",
            {
                "update_id": "u1",
                "status": "failed",
                "reason": "m.onnx: truncated or wrong size (10 bytes, manifest says 21)",
            },
        )
    ]
    assert nodes.calls == [] and nodes.params["cascade_detector"]["stage1_model"] == "tiny_v1"


def test_operator_signs_and_publishes_with_the_cli(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    wildcam = [sys.executable, "-m", "wildcam.cli", "gateway"]
    out = subprocess.run(
        [*wildcam, "keygen", "--out", str(tmp_path / "k")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "wildcam-ota.pub" in out
    model = tmp_path / "model.onnx"
    model.write_bytes(MODEL_OK)
    publish_cmd = [
        *wildcam,
        "publish",
        "--url",
        gateway.url,
        "--key",
        str(tmp_path / "k" / "wildcam-ota.key"),
        "--update-id",
        "cli-1",
        "--version",
        "3",
    ]
    device = subprocess.run(
        [*publish_cmd, "--token-file", str(token_file)], capture_output=True, text=True
    )
    assert device.returncode == 2 and "HTTP 403" in device.stderr  # a device cannot publish
    done = subprocess.run(
        [
            *publish_cmd,
            "--token-file",
            str(tmp_path / "operator.token"),
            "--file",
            f"m.onnx={model}",
            "--cascade",
            "stage2_model=medium",
            "--param",
            "uploader.quota_mb=64",
            "--param",
            "uploader.enabled=false",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "published cli-1 (version 3) as update 1" in done.stdout
    nodes = FakeNodes()
    nodes.params["cascade_detector"]["stage2_model"] = ""
    client = OtaClient(
        HttpTransport(gateway.url, str(token_file)),
        load_public_key(tmp_path / "k" / "wildcam-ota.pub"),
        tmp_path / "ota",
        nodes,
    )
    assert client.sync() == ["applied cli-1 (version 3)"]
    assert nodes.params["uploader"] == {"quota_mb": 64, "enabled": False}
    assert (tmp_path / "ota" / "installed" / "cli-1" / "m.onnx").read_bytes() == MODEL_OK
    bad_key = subprocess.run(
        [
            *wildcam,
            "publish",
            "--url",
            gateway.url,
            "--token-file",
            str(token_file),
            "--key",
            str(token_file),
            "--update-id",
            "x",
            "--version",
            "4",
        ],
        capture_output=True,
        text=True,
    )
    assert bad_key.returncode == 2 and "cannot load signing key" in bad_key.stderr


def test_replayed_or_older_updates_are_refused_even_after_state_is_lost(
    tmp_path: Path, gateway: Gateway, token_file: Path, keys: tuple[Path, Path]
) -> None:
    nodes = FakeNodes()

    def client() -> OtaClient:
        return OtaClient(
            HttpTransport(gateway.url, str(token_file)),
            load_public_key(keys[1]),
            tmp_path / "ota",
            nodes,
        )

    old = signed(keys, "quota-100", params={"uploader": {"quota_mb": 100}}, version=10)
    publish(gateway, token_file, *old, {})
    publish(
        gateway,
        token_file,
        *signed(keys, "quota-200", params={"uploader": {"quota_mb": 200}}, version=11),
        {},
    )
    assert client().sync() == ["applied quota-100 (version 10)", "applied quota-200 (version 11)"]
    # the older signed update posted again (a new update id, a new sequence number at the gateway)
    publish(
        gateway,
        token_file,
        *signed(keys, "quota-100b", params={"uploader": {"quota_mb": 100}}, version=10),
        {},
    )
    assert client().sync() == [
        "refused quota-100b: version 10 is not newer than the installed version 11"
    ]
    (tmp_path / "ota" / "state.json").unlink()  # lost: every published update is seen again
    results = client().sync()
    assert all(r.startswith("refused") for r in results) and len(results) == 3
    assert nodes.params["uploader"]["quota_mb"] == 200
    for name in ("state.json", "current.manifest", "current.sig"):
        assert (tmp_path / "ota" / name).stat().st_mode & 0o077 == 0
    # a forged record of the installed version is not believed
    (tmp_path / "ota" / "current.manifest").write_bytes(b"{}")
    with pytest.raises(InstalledRecordError, match="cannot be verified") as err:
        client()
    assert err.value.exit_code == EXIT_NEEDS_OPERATOR  # a person looks; bringup waits


def test_downloads_stream_to_disk_and_stop_at_the_manifest_size(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    operator = HttpTransport(gateway.url, str(tmp_path / "operator.token"))
    sha = operator.post_bytes("/v1/blobs", b"J" * 100_000)["sha256"]
    device = HttpTransport(gateway.url, str(token_file))
    target = tmp_path / "file"
    with pytest.raises(TransportError, match="longer than 1000 bytes"):
        device.download(f"/v1/blobs/{sha}", target, 1000)
    assert not target.exists()
    assert device.download(f"/v1/blobs/{sha}", target, 100_000) == sha
    assert target.read_bytes() == b"J" * 100_000 and target.stat().st_mode & 0o077 == 0


def test_signed_updates_alone_change_the_uploaders_read_only_values(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    nodes = FakeNodes()
    seen: list[dict[str, Any]] = []

    def on_change(values: dict[str, Any]) -> None:
        if not str(values.get("gateway_url", "http://")).startswith("http"):
            raise UpdateError("gateway_url must be an http(s) URL")
        seen.append(dict(values))

    path = tmp_path / "signed.json"
    signed_only = SignedOnlyParameters(
        nodes,
        "uploader",
        frozenset({"gateway_url", "token_file"}),
        path,
        {"gateway_url": "http://old", "token_file": "/t"},
        on_change,
    )
    public = load_public_key(keys[1])

    class Fetch:
        def __init__(self, *updates: tuple[bytes, bytes]) -> None:
            self.docs = [
                {
                    "seq": n + 1,
                    "update_id": f"u{n}",
                    "manifest": base64.b64encode(m).decode(),
                    "signature": base64.b64encode(s).decode(),
                }
                for n, (m, s) in enumerate(updates)
            ]

        def post_json(self, path: str, doc: Any) -> None:
            pass

        def get_json(self, path: str) -> Any:
            after = int(path.rsplit("=", 1)[1])
            return {"updates": [d for d in self.docs if d["seq"] > after]}

        def download(self, path: str, target: Path, max_bytes: int) -> str:
            raise AssertionError("no files")

    fetch = Fetch(
        signed(keys, "move", params={"uploader": {"gateway_url": "http://new", "quota_mb": 100}}),
        signed(keys, "bad-url", params={"uploader": {"gateway_url": "ftp://x"}}),
        signed(keys, "bad-quota", params={"uploader": {"token_file": "/other", "quota_mb": -1}}),
    )
    results = OtaClient(fetch, public, tmp_path / "ota", signed_only).sync()
    assert results[0].startswith("applied u0")
    assert results[1].startswith("refused u1") and results[2].startswith("refused u2")
    assert json.loads(path.read_text()) == {"gateway_url": "http://new"}
    assert path.stat().st_mode & 0o077 == 0
    assert nodes.params["uploader"]["quota_mb"] == 100  # the rest went to the parameter service
    assert "gateway_url" not in nodes.params["uploader"]
    assert seen[-1] == {"gateway_url": "http://new"}  # bad-quota was undone on the node too
    again = SignedOnlyParameters(
        nodes,
        "uploader",
        frozenset({"gateway_url"}),
        path,
        {"gateway_url": "http://old"},
        on_change,
    )
    assert again.values == {"gateway_url": "http://new"}  # survives a restart
