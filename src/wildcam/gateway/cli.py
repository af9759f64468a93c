"""The ``wildcam gateway`` command: run the ingest server, and the operator's update tools.

::

    wildcam gateway [--store DIR] [--port 8470] [--token-file FILE] [--cert C --key K]
                    [--operator-token-file FILE] [--device-tokens-only]
    wildcam gateway keygen --out DIR                  # Ed25519 pair for signing updates
    wildcam gateway publish --url URL --token-file OPERATOR_TOKEN --key DIR/wildcam-ota.key \\
        --update-id ID --version N [--file PATH=LOCAL ...] [--cascade NAME=VALUE ...] \\
        [--param NODE.NAME=VALUE ...]
        [--device ID | --group G [--share 0.2]]
    wildcam gateway list --url URL --token-file FILE  # stored items, JSON lines
    wildcam gateway [--store DIR] device add ID [--name N --site S --group G --profile P \
        --battery B] [--token-out FILE]                # prints (or writes) the device's token
    wildcam gateway [--store DIR] device rotate ID [--token-out FILE] | revoke ID | list
    wildcam gateway [--store DIR] rollout UPDATE_ID --share 0.5 [--resume]  # widen a rollout
    wildcam gateway [--store DIR] export --camtrap-dp DIR [--since T] [--device ID] \\
        [--md-json FILE] [--hard-examples DIR] [--location LAT,LON]  # from the store, offline

The server also serves the review page at ``/review/`` (log in with the token).

:func:`register` adds it to the project's CLI (``wildcam.cli``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from wildcam.errors import ConfigError, WildcamError
from wildcam.params import parse_assignments
from wildcam.upload.config import default_state_dir

__all__ = ["register"]


def _token_file(args: argparse.Namespace) -> str:
    """The client's token file, which must exist (bad input, not a failed transfer)."""
    if not Path(args.token_file).expanduser().is_file():
        raise ConfigError(f"token file {args.token_file} not found")
    return str(args.token_file)


def _serve(args: argparse.Namespace) -> int:
    from wildcam.gateway.server import GatewayConfig, serve

    store = Path(args.store).expanduser()
    config = GatewayConfig(
        store=store,
        token_file=Path(args.token_file or store / "token"),
        operator_token_file=Path(args.operator_token_file or store / "operator.token"),
        host=args.host,
        port=args.port,
        max_body_mb=args.max_body_mb,
        max_update_mb=args.max_update_mb,
        certfile=Path(args.cert) if args.cert else None,
        keyfile=Path(args.key) if args.key else None,
        device_tokens_only=args.device_tokens_only,
    )

    def ready(gateway: Any) -> None:
        print(
            f"wildcam gateway: serving {gateway.url} (store {store}, token file "
            f"{config.token_file}"
            + ("; refused once a device is registered" if config.device_tokens_only else "")
            + f"); review page {gateway.url}/review/",
            flush=True,
        )

    return serve(config, create_token=not args.token_file, ready=ready)


def _keygen(args: argparse.Namespace) -> int:
    from wildcam.upload.ota import generate_keys

    private, public = generate_keys(Path(args.out).expanduser(), args.name)
    print(
        f"private key (keep it off the device, mode 0600): {private}\n"
        f"public key (uploader parameter ota_public_key): {public}"
    )
    return 0


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise WildcamError(f"{what} {item!r} is not NAME=VALUE")
        out.append((name, value))
    return out


def _publish(args: argparse.Namespace) -> int:
    from wildcam.upload.ota import build_manifest, load_private_key, sign_manifest
    from wildcam.upload.transport import HttpTransport

    files = {
        path: Path(local).expanduser().read_bytes() for path, local in _pairs(args.file, "--file")
    }
    params = parse_assignments(args.param)
    manifest = build_manifest(
        args.update_id,
        files,
        dict(_pairs(args.cascade, "--cascade")),
        params,
        version=args.version,
    )
    signature = sign_manifest(manifest, load_private_key(Path(args.key).expanduser()))
    target: dict[str, Any] = (
        {"device": args.device}
        if args.device
        else {"group": args.group, "share": args.share}
        if args.group
        else {}
    )
    transport = HttpTransport(
        args.url, _token_file(args), ca_file=args.ca_file, compression="none"
    )
    try:
        for data in files.values():
            transport.post_bytes("/v1/blobs", data)
        answer = transport.post_json(
            "/v1/updates",
            {
                "manifest": base64.b64encode(manifest).decode(),
                "signature": base64.b64encode(signature).decode(),
                **target,
            },
        )
    finally:
        transport.close()
    to = (
        f" to device {args.device}"
        if args.device
        else f" to {args.share:.0%} of group {args.group}"
        if args.group
        else ""
    )
    print(
        f"published {answer['update_id']} (version {args.version}) as update {answer['seq']}"
        f"{to} ({len(files)} file(s), {sum(len(v) for v in params.values())} parameter(s))"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from wildcam.upload.transport import HttpTransport

    transport = HttpTransport(args.url, _token_file(args), ca_file=args.ca_file)
    try:
        for item in transport.list_items():
            print(json.dumps(item, separators=(",", ":")))
    finally:
        transport.close()
    return 0


def _issued(token: str, out: str, device_id: str) -> None:
    """Hand a new token over: into ``out`` (created 0600) or on stdout."""
    if out:
        from wildcam.fileio import write_durably

        write_durably(Path(out).expanduser(), f"{token}\n".encode())
        print(
            f"token of {device_id} written to {out} (mode 0600; the gateway keeps only its digest)"
        )
    else:
        print(token)


def _device(args: argparse.Namespace) -> int:
    from wildcam.gateway.devices import DeviceRegistry

    registry = DeviceRegistry.in_store(Path(args.store).expanduser())
    try:
        if args.device_command == "add":
            _issued(
                registry.add(
                    args.id, args.name, args.site, args.group, args.profile, args.battery
                ),
                args.token_out,
                args.id,
            )
        elif args.device_command == "rotate":
            _issued(registry.rotate(args.id), args.token_out, args.id)
        elif args.device_command == "revoke":
            registry.revoke(args.id)
            print(f"revoked {args.id}: its token is refused from the next request on")
        else:
            for device in registry.all(args.group):
                print(json.dumps(device.public(), separators=(",", ":")))
    finally:
        registry.close()
    return 0


def _rollout(args: argparse.Namespace) -> int:
    from wildcam.gateway.devices import DeviceRegistry

    if not 0.0 < args.share <= 1.0:
        raise ConfigError("--share must be in (0, 1]")
    registry = DeviceRegistry.in_store(Path(args.store).expanduser())
    try:
        seq = registry.set_rollout(args.update_id, args.share, args.resume)
        for report in registry.reports(args.update_id):
            print(json.dumps(report, separators=(",", ":")))
    finally:
        registry.close()
    print(f"rollout of {args.update_id}: {args.share:.0%} of its group (update {seq})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from wildcam.ecology.camtrap import specs_dir, validate_package
    from wildcam.ecology.cli import export_store

    specs = Path(args.specs) if args.specs else specs_dir()
    if specs is None:
        raise WildcamError(
            "the Camtrap DP 1.0.2 specification is not found: give --specs "
            "DIR or set WILDCAM_SPECS (its folder holds camtrap-dp-1.0.2/)"
        )
    lines = export_store(
        Path(args.store).expanduser(),
        Path(args.camtrap_dp),
        specs,
        since=args.since,
        device=args.device,
        md_json=args.md_json,
        hard=args.hard_examples,
        location=args.location,
        title=args.title,
        contributors=args.contributor,
        manifest=args.manifest,
    )
    print("\n".join(lines))
    if not args.no_validate:
        problems = validate_package(Path(args.camtrap_dp), specs)
        for problem in problems:
            print(f"invalid: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"valid Camtrap DP 1.0.2 (profile and table schemas in {specs})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gateway`` command to ``subparsers``."""
    gw = subparsers.add_parser(
        "gateway",
        help="the ingest gateway (HTTP server) and the update signing tools",
        description="Run the ingest server, and the operator's update tools.",
    )
    gw.add_argument(
        "--store",
        default=str(default_state_dir() / "gateway"),
        help="storage directory (default: %(default)s)",
    )
    gw.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    gw.add_argument("--port", type=int, default=8470, help="port (0: any free port)")
    gw.add_argument(
        "--token-file",
        default="",
        help="devices' bearer token file (default: <store>/token, created if missing)",
    )
    gw.add_argument(
        "--operator-token-file",
        default="",
        help="operator's bearer token file, needed to publish updates and the review page's "
        "login once the shared token is refused (default: <store>/operator.token, created if "
        "missing)",
    )
    gw.add_argument(
        "--max-body-mb", type=float, default=16.0, help="largest upload request body (413 above)"
    )
    gw.add_argument("--max-update-mb", type=float, default=256.0, help="largest update file")
    gw.add_argument("--cert", default="", help="TLS certificate (PEM): serve HTTPS")
    gw.add_argument("--key", default="", help="TLS private key (PEM)")
    gw.add_argument(
        "--device-tokens-only",
        action="store_true",
        help="refuse the shared token (401) once any device is registered: a fleet runs on "
        "per-device tokens only, and people log in to the review page with the operator token",
    )
    gw.set_defaults(func=_serve)
    sub = gw.add_subparsers(dest="gateway_command", metavar="SUBCOMMAND")

    key = sub.add_parser("keygen", help="create an Ed25519 key pair for signing updates")
    key.add_argument("--out", required=True, help="directory to write the key pair to")
    key.add_argument("--name", default="wildcam-ota", help="file name stem")
    key.set_defaults(func=_keygen)

    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("--url", default="http://127.0.0.1:8470", help="gateway base URL")
    client.add_argument("--token-file", required=True, help="bearer token file")
    client.add_argument("--ca-file", default="", help="CA bundle for an HTTPS gateway")

    pub = sub.add_parser(
        "publish",
        parents=[client],
        help="sign an update (model files, parameter sets) and publish it "
        "(--token-file: the operator token)",
    )
    pub.add_argument("--key", required=True, help="Ed25519 private key (PEM) to sign with")
    pub.add_argument("--update-id", required=True, help="name of the update")
    pub.add_argument(
        "--version",
        type=int,
        required=True,
        help="update version: devices apply only a version higher than the one "
        "they have installed",
    )
    pub.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH=LOCAL",
        help="ship LOCAL, installed as PATH (relative) in the update's directory",
    )
    pub.add_argument(
        "--cascade",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="cascade_detector model parameter (manifest=PATH of a shipped file, "
        "stage1_model=ID, ...)",
    )
    pub.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NODE.NAME=VALUE",
        help="parameter to set on a node (JSON scalar or text)",
    )
    target = pub.add_mutually_exclusive_group()
    target.add_argument("--device", default="", help="offer the update to this device only")
    target.add_argument(
        "--group",
        default="",
        help="offer the update to this group only, "
        "staged: the first --share of it (the rest with `rollout`)",
    )
    pub.add_argument(
        "--share",
        type=float,
        default=1.0,
        help="with --group: the share of the group offered first (0-1]",
    )
    pub.set_defaults(func=_publish)

    dev = sub.add_parser("device", help="the device registry: per-device tokens (reads --store)")
    dsub = dev.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    add = dsub.add_parser("add", help="register a device; prints its new token")
    add.add_argument("id", help="device id (A-Z a-z 0-9 _ -)")
    for name in ("name", "site", "group", "profile", "battery"):
        add.add_argument(f"--{name}", default="", help=f"the device's {name}")
    rot = dsub.add_parser("rotate", help="issue a new token (the old one is refused at once)")
    rot.add_argument("id", help="device id")
    for parser in (add, rot):
        parser.add_argument(
            "--token-out",
            default="",
            metavar="FILE",
            help="write the token to FILE (0600) instead of printing it",
        )
    rev = dsub.add_parser("revoke", help="refuse the device's token from the next request on")
    rev.add_argument("id", help="device id")
    dls = dsub.add_parser("list", help="the registered devices, JSON lines")
    dls.add_argument("--group", default="", help="only this group")
    dev.set_defaults(func=_device)

    roll = sub.add_parser("rollout", help="widen a staged group rollout (reads --store)")
    roll.add_argument("update_id", help="the published update")
    roll.add_argument("--share", type=float, required=True, help="share of the group (0-1]")
    roll.add_argument(
        "--resume", action="store_true", help="resume a rollout a device's failure halted"
    )
    roll.set_defaults(func=_rollout)

    lst = sub.add_parser("list", parents=[client], help="print the stored items (JSON lines)")
    lst.set_defaults(func=_list)

    exp = sub.add_parser(
        "export",
        help="write what the store holds as a Camtrap DP 1.0.2 "
        "package (and MegaDetector JSON, hard examples); reads --store",
    )
    exp.add_argument("--camtrap-dp", required=True, metavar="DIR", help="package directory")
    exp.add_argument(
        "--since",
        default="",
        help="only frames at or after this ISO 8601 time or date (UTC unless it names a zone)",
    )
    exp.add_argument("--device", default="", help="only this device's frames")
    exp.add_argument(
        "--md-json",
        default="",
        metavar="FILE",
        help="also write the frames as MegaDetector batch output",
    )
    exp.add_argument(
        "--hard-examples",
        default="",
        metavar="DIR",
        help="also write the reviewed events' images and labels.csv",
    )
    exp.add_argument(
        "--location",
        default="",
        metavar="LAT,LON[,UNC_M]",
        help="location of devices that sent none",
    )
    exp.add_argument(
        "--title",
        default="wildcam camera-trap detections",
        help="the data package's title (default: %(default)s)",
    )
    exp.add_argument("--contributor", action="append", default=[], help="a contributor name")
    exp.add_argument(
        "--manifest",
        default="",
        help="model manifest naming the models' sha256 (default: the package's)",
    )
    exp.add_argument(
        "--specs",
        default="",
        help="the camtrap-dp-1.0.2 folder (default: $WILDCAM_SPECS or ../shared/specs)",
    )
    exp.add_argument("--no-validate", action="store_true", help="skip the validation")
    exp.set_defaults(func=_export)
