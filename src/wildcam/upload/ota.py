"""Over-the-air updates: signed manifests of model files and parameter sets.

An update is a JSON manifest, signed as-is with Ed25519 by the operator (the private key never
leaves the operator's machine; the device holds the public key)::

    {"format": "wildcam-update/1", "update_id": "models-2026-11-30", "version": 7,
     "files":   [{"path": "manifest.json", "sha256": "...", "size": 1234}, ...],
     "cascade": {"manifest": "manifest.json", "stage1_model": "tiny-v2"},
     "params":  {"uploader": {"quota_mb": 256.0}, "motion_detector": {"pixel_threshold": 30}}}

The device (:class:`OtaClient`) fetches pending updates from the gateway, and accepts one only
when the signature verifies over the exact manifest bytes, the manifest is well formed, and every
file has the size and digest the manifest names, and only when its ``version`` is higher than the
version installed: an older update posted again is refused, not re-applied. The installed
version lives beside the signed manifest that carried it (``<ota_dir>/current.manifest`` and
``current.sig``, verified again at every start), not in ``state.json``: losing that file cannot
replay history. Files are streamed to disk, capped at the size the manifest names, and never held
in memory. Publishing needs the gateway's operator token, not a device token. Files are installed
atomically (a staging
directory renamed to ``<ota_dir>/installed/<update_id>``); ``cascade`` values are then set on the
``cascade_detector`` node (``manifest`` as the installed path), ``params`` on each named node,
through a :class:`ParameterApplier` (the nodes' parameter services). A node refusing a value
undoes everything the update changed before it and removes the installed files, so the previous
model and parameters keep working. Every refusal raises :class:`~wildcam.errors.UpdateError`
with the reason and is remembered (not retried) in ``<ota_dir>/state.json``.

Each result is reported to the gateway (``POST /v1/updates/report``: ``applied``, or ``failed``
with the reason), so a staged rollout stops at the first failure (see
:mod:`wildcam.gateway.devices`). Reports wait in ``state.json`` until the gateway took them; a
gateway that refuses them (403: the shared token is no registered device) drops them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from wildcam.errors import EXIT_NEEDS_OPERATOR, TransportError, UpdateError
from wildcam.fileio import fsync_directory, private_dir, write_durably

# cryptography is imported where keys are used: a node without OTA never loads it
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "CASCADE_NODE",
    "CASCADE_PARAMS",
    "FORMAT",
    "MAX_VERSION",
    "InstalledRecordError",
    "OtaClient",
    "ParameterApplier",
    "SignedOnlyParameters",
    "Update",
    "UpdateFile",
    "build_manifest",
    "generate_keys",
    "install_files",
    "load_private_key",
    "load_public_key",
    "sign_manifest",
    "valid_update_id",
    "verify_update",
]

FORMAT = "wildcam-update/1"
CASCADE_NODE = "cascade_detector"
CASCADE_PARAMS = ("manifest", "stage1_model", "stage2_model", "stage3_model")
MAX_UPDATE_BYTES = 1024 * 1024 * 1024
MAX_VERSION = 2**53  # JSON numbers stay exact below this
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_NODE = re.compile(r"^[A-Za-z_][A-Za-z0-9_/]{0,127}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
Scalar = bool | int | float | str


def valid_update_id(update_id: str) -> bool:
    """Update ids: 1-64 characters of ``[A-Za-z0-9._-]``, starting alphanumeric."""
    return bool(_ID.match(update_id))


@dataclass(frozen=True)
class UpdateFile:
    """One file of an update: where it goes (relative), its digest and size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Update:
    """A verified update."""

    update_id: str
    version: int
    files: tuple[UpdateFile, ...]
    cascade: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, Scalar]] = field(default_factory=dict)


class ParameterApplier(Protocol):
    """Reads and sets a node's parameters (the ROS implementation uses parameter services)."""

    def get(self, node: str, names: list[str]) -> dict[str, Scalar]:
        """Current values of ``names`` on ``node``; :class:`UpdateError` if it cannot answer."""

    def set(self, node: str, values: dict[str, Scalar]) -> None:
        """Set ``values`` on ``node`` all together; :class:`UpdateError` with the node's reason
        when it refuses (then nothing changed)."""


# -- keys and signing (operator side) -------------------------------------------------------------
def generate_keys(directory: Path, name: str = "wildcam-ota") -> tuple[Path, Path]:
    """Write a new Ed25519 key pair (private key mode 0600); the (private, public) paths."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = directory / f"{name}.key"
    public = directory / f"{name}.pub"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise UpdateError(f"cannot load signing key {path}: {err}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise UpdateError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as err:
        raise UpdateError(f"cannot load update public key {path}: {err}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise UpdateError(f"{path} is not an Ed25519 public key")
    return key


def build_manifest(
    update_id: str,
    files: Mapping[str, bytes],
    cascade: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Scalar]] | None = None,
    *,
    version: int,
) -> bytes:
    """The manifest bytes of update ``version`` with ``files`` (relative path -> content)."""
    doc = {
        "format": FORMAT,
        "update_id": update_id,
        "version": version,
        "files": [
            {"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for p, d in sorted(files.items())
        ],
        "cascade": dict(cascade or {}),
        "params": {n: dict(v) for n, v in (params or {}).items()},
    }
    manifest = json.dumps(doc, indent=1, sort_keys=True).encode()
    _parse(manifest)  # the operator hears about a bad manifest before the device does
    return manifest


def sign_manifest(manifest: bytes, key: Ed25519PrivateKey) -> bytes:
    """The Ed25519 signature of ``manifest``."""
    return key.sign(manifest)


# -- verification (device side) -------------------------------------------------------------------
def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not path:
        raise UpdateError(f"file path {path!r} is not a string")
    parts = PurePosixPath(path).parts
    if PurePosixPath(path).is_absolute() or not all(_PATH_PART.match(p) for p in parts):
        raise UpdateError(f"file path {path!r} is not a plain relative path")
    return path


def _parse(manifest: bytes) -> Update:
    try:
        doc = json.loads(manifest)
    except ValueError as err:
        raise UpdateError(f"manifest is not JSON: {err}") from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UpdateError(f"manifest format is not {FORMAT!r}")
    update_id = doc.get("update_id")
    if not isinstance(update_id, str) or not valid_update_id(update_id):
        raise UpdateError(f"bad update_id {update_id!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < MAX_VERSION:
        raise UpdateError(f"version must be an integer in [1, 2**53), not {version!r}")
    files: list[UpdateFile] = []
    total = 0
    for entry in doc.get("files", []):
        if not isinstance(entry, dict):
            raise UpdateError("file entry is not an object")
        sha, size = entry.get("sha256"), entry.get("size")
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise UpdateError(f"file {entry.get('path')!r}: bad sha256")
        if not isinstance(size, int) or size < 0:
            raise UpdateError(f"file {entry.get('path')!r}: bad size")
        total += size
        files.append(UpdateFile(_check_path(entry.get("path")), sha, size))
    if len({f.path for f in files}) != len(files):
        raise UpdateError("a file path appears twice")
    if total > MAX_UPDATE_BYTES:
        raise UpdateError(f"update is {total} bytes, more than {MAX_UPDATE_BYTES}")
    cascade = doc.get("cascade", {})
    if not isinstance(cascade, dict) or not all(
        k in CASCADE_PARAMS and isinstance(v, str) for k, v in cascade.items()
    ):
        raise UpdateError(f"cascade section may only set {CASCADE_PARAMS} to strings")
    if "manifest" in cascade and cascade["manifest"] not in {f.path for f in files}:
        raise UpdateError(f"cascade manifest {cascade['manifest']!r} is not a file of the update")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise UpdateError("params is not an object")
    for node, values in params.items():
        if (
            not _NODE.match(str(node))
            or not isinstance(values, dict)
            or not all(
                isinstance(k, str) and isinstance(v, (bool, int, float, str))
                for k, v in values.items()
            )
        ):
            raise UpdateError(f"params for {node!r} must map names to scalars")
    return Update(
        update_id, version, tuple(files), dict(cascade), {n: dict(v) for n, v in params.items()}
    )


def verify_update(manifest: bytes, signature: bytes, key: Ed25519PublicKey) -> Update:
    """The update, if ``signature`` is a valid signature of ``manifest`` by ``key`` and the
    manifest is well formed; else :class:`UpdateError` saying why."""
    from cryptography.exceptions import InvalidSignature

    if not signature:
        raise UpdateError("update is unsigned")
    try:
        key.verify(signature, manifest)
    except InvalidSignature:
        raise UpdateError("bad signature (not signed by the configured key, or altered)") from None
    return _parse(manifest)


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def install_files(
    update: Update, fetch: Callable[[UpdateFile, Path], None], ota_dir: Path
) -> Path:
    """Fetch, check and install the update's files; the install directory.

    ``fetch(entry, path)`` writes the file (mode 0600, fsync'd; at most ``entry.size`` bytes)
    to ``path``. Files go to ``<ota_dir>/staging/<update_id>``, which is renamed in one step to
    ``<ota_dir>/installed/<update_id>``: the install directory is complete or absent.
    """
    staging = ota_dir / "staging" / update.update_id
    target = ota_dir / "installed" / update.update_id
    shutil.rmtree(staging, ignore_errors=True)
    try:
        private_dir(staging)
        for entry in update.files:
            path = staging / entry.path
            private_dir(path.parent)
            fetch(entry, path)
            size, digest = _file_digest(path)
            if size != entry.size:
                raise UpdateError(
                    f"{entry.path}: truncated or wrong size ({size} bytes, "
                    f"manifest says {entry.size})"
                )
            if digest != entry.sha256:
                raise UpdateError(f"{entry.path}: content does not match the manifest sha256")
        private_dir(target.parent)
        n = 1
        while target.exists():  # never overwrite files a node may be using
            n += 1
            target = target.with_name(f"{update.update_id}.{n}")
        os.rename(staging, target)
        fsync_directory(target.parent)
    except OSError as err:
        raise UpdateError(f"cannot install update {update.update_id}: {err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class SignedOnlyParameters:
    """A :class:`ParameterApplier` that lets signed updates change read-only parameters of the
    device's own node (``names`` of ``node``, e.g. the uploader's ``gateway_url`` and
    ``token_file``), which no parameter service may change.

    Their values are kept in ``path`` (JSON, 0600, written durably) and reach the node through
    ``on_change(values)`` (it validates them and raises :class:`UpdateError` to refuse); every
    other value goes to ``inner``. ``values`` holds what the last accepted update set (empty
    before any), for the node to apply over its parameters at start.
    """

    def __init__(
        self,
        inner: ParameterApplier,
        node: str,
        names: frozenset[str],
        path: Path,
        current: Mapping[str, Scalar],
        on_change: Callable[[dict[str, Scalar]], None],
    ) -> None:
        self.inner, self.node, self.names, self.path = inner, node, names, path
        self._current = dict(current)
        self._on_change = on_change
        self.values: dict[str, Scalar] = {}
        if path.exists():
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise InstalledRecordError(f"cannot read {path}: {err}") from err
            if (
                not isinstance(doc, dict)
                or not set(doc) <= names
                or not all(isinstance(v, (bool, int, float, str)) for v in doc.values())
            ):
                raise InstalledRecordError(f"{path} may only set {sorted(names)} to scalars")
            self.values = doc

    def _split(
        self, node: str, values: Mapping[str, Scalar]
    ) -> tuple[dict[str, Scalar], dict[str, Scalar]]:
        own = {k: v for k, v in values.items() if node == self.node and k in self.names}
        return own, {k: v for k, v in values.items() if k not in own}

    def get(self, node: str, names: list[str]) -> dict[str, Scalar]:
        """Current values (the signed-only ones from the last update, else the node's)."""
        own, rest = self._split(node, dict.fromkeys(names, ""))
        found = {k: self.values.get(k, self._current[k]) for k in own}
        return {**found, **(self.inner.get(node, list(rest)) if rest else {})}

    def set(self, node: str, values: dict[str, Scalar]) -> None:
        """Set ``values``: the signed-only ones through ``on_change`` and the file, the rest
        through ``inner``; all or nothing."""
        own, rest = self._split(node, values)
        if not own:
            self.inner.set(node, values)
            return
        merged = {k: v for k, v in {**self.values, **own}.items() if v != self._current[k]}
        self._on_change(merged)
        try:
            if rest:
                self.inner.set(node, rest)
        except UpdateError:
            self._on_change(self.values)
            raise
        write_durably(self.path, json.dumps(merged, sort_keys=True).encode())
        self.values = merged


class InstalledRecordError(UpdateError):
    """The record of the installed update does not verify: the device cannot know which
    versions are old, so it applies nothing until a person looks (no respawn)."""

    exit_code = EXIT_NEEDS_OPERATOR


class _Fetcher(Protocol):
    def get_json(self, path: str) -> Any: ...
    def post_json(self, path: str, doc: Any) -> Any: ...
    def download(self, path: str, target: Path, max_bytes: int) -> str: ...


class OtaClient:
    """Fetches, verifies and applies updates from the gateway; remembers what it did.

    ``installed_version`` comes from the signed manifest of the last applied update
    (``current.manifest``/``current.sig``), verified with the public key at start.
    """

    def __init__(
        self,
        transport: _Fetcher,
        public_key: Ed25519PublicKey,
        ota_dir: Path,
        applier: ParameterApplier,
    ) -> None:
        self.transport = transport
        self.public_key = public_key
        self.ota_dir = private_dir(Path(ota_dir))
        self.applier = applier
        self._state_path = self.ota_dir / "state.json"
        try:
            self.state: dict[str, Any] = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            self.state = {"last_seq": 0, "applied": [], "refused": {}}
        self.installed_version = 0
        current = self.ota_dir / "current.manifest"
        if current.exists():
            try:
                update = verify_update(
                    current.read_bytes(), (self.ota_dir / "current.sig").read_bytes(), public_key
                )
            except (OSError, UpdateError) as err:
                raise InstalledRecordError(
                    f"installed update record {current} cannot be "
                    f"verified ({err}); refusing to guess the "
                    f"installed version"
                ) from err
            self.installed_version = update.version

    @property
    def last_result(self) -> str:
        """What the latest update did, for diagnostics."""
        return str(self.state.get("last_result", ""))

    def _save(self) -> None:
        write_durably(self._state_path, json.dumps(self.state, indent=1).encode())

    def _record_installed(self, manifest: bytes, signature: bytes, version: int) -> None:
        """Make ``version`` the installed one, durably (signature first, then the manifest)."""
        write_durably(self.ota_dir / "current.sig", signature)
        write_durably(self.ota_dir / "current.manifest", manifest)
        fsync_directory(self.ota_dir)
        self.installed_version = version

    def _send_reports(self) -> None:
        """Post the results the gateway has not taken yet (kept for the next sync on a
        failure; dropped when it refuses them for good)."""
        pending: list[dict[str, str]] = self.state.setdefault("unreported", [])
        while pending:
            try:
                self.transport.post_json("/v1/updates/report", pending[0])
            except TransportError as err:
                if getattr(err, "status", 0) not in (400, 403):
                    break
            pending.pop(0)
            self._save()

    def sync(self) -> list[str]:
        """Look for new updates and apply them in order; one result line per update."""
        self._send_reports()
        doc = self.transport.get_json(f"/v1/updates?after={int(self.state['last_seq'])}")
        lines = []
        for entry in doc.get("updates", []):
            update_id = str(entry.get("update_id", "?"))[:64]
            try:
                manifest = base64.b64decode(entry["manifest"], validate=True)
                signature = base64.b64decode(entry.get("signature", ""), validate=True)
                update = verify_update(manifest, signature, self.public_key)
                if update.version <= self.installed_version:
                    raise UpdateError(
                        f"version {update.version} is not newer than the "
                        f"installed version {self.installed_version}"
                    )
                self.apply(update)
                self._record_installed(manifest, signature, update.version)
            except (KeyError, TypeError, binascii.Error) as err:
                result = f"refused {update_id}: malformed update entry ({type(err).__name__})"
                self.state["refused"][update_id] = result
            except UpdateError as err:
                result = f"refused {update_id}: {err}"
                self.state["refused"][update_id] = result
            else:
                result = f"applied {update_id} (version {update.version})"
                self.state["applied"].append(update_id)
            try:
                self.state["last_seq"] = int(entry.get("seq", self.state["last_seq"]))
            except (TypeError, ValueError):
                pass
            self.state["last_result"] = result
            applied = result.startswith("applied")
            self.state.setdefault("unreported", []).append(
                {
                    "update_id": update_id,
                    "status": "applied" if applied else "failed",
                    "reason": "" if applied else result.split(": ", 1)[-1],
                }
            )
            self._save()
            lines.append(result)
        if lines:
            self._send_reports()
        return lines

    def _fetch(self, entry: UpdateFile, path: Path) -> None:
        try:
            self.transport.download(f"/v1/blobs/{entry.sha256}", path, entry.size)
        except TransportError as err:
            raise UpdateError(f"{entry.path}: cannot fetch ({err})") from err

    def apply(self, update: Update) -> None:
        """Install and apply a verified update, all or nothing."""
        install = install_files(update, self._fetch, self.ota_dir) if update.files else None
        changes: list[tuple[str, dict[str, Scalar]]] = []
        if update.cascade:
            values: dict[str, Scalar] = dict(update.cascade)
            if "manifest" in values and install is not None:
                values["manifest"] = str(install / str(values["manifest"]))
            changes.append((CASCADE_NODE, values))
        changes += [(node, dict(values)) for node, values in update.params.items()]
        done: list[tuple[str, dict[str, Scalar]]] = []
        try:
            for node, values in changes:
                done.append((node, self.applier.get(node, list(values))))
                try:
                    self.applier.set(node, values)
                except UpdateError as err:
                    raise UpdateError(f"{node} refused {sorted(values)}: {err}") from err
        except UpdateError:
            for node, previous in reversed(done):
                try:
                    self.applier.set(node, previous)
                except UpdateError:
                    pass  # the node refused the new values too: it kept the old ones
            if install is not None:
                shutil.rmtree(install, ignore_errors=True)
            raise
