"""``wildcam install-service``: a systemd unit that starts the graph at boot, so a trap halted
until its RTC alarm or PIR wakes it comes back by itself.

The unit runs ``wildcam bringup`` with the deployment's parameters file as an ordinary user,
restarts it when it fails, and starts after the clock is set (``time-sync.target``: RTC or
NTP) but does not wait for the network: the trap captures and queues without a link. Per
systemd.special(7), a service that needs a synchronized clock orders itself ``After=`` that
target without pulling it in. Durable state (upload queue, OTA state, charge counter) lives in
the user's ``~/.local/state/wildcam`` and survives halts.
"""

from __future__ import annotations

import argparse
import getpass
import pwd
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wildcam.errors import ConfigError

__all__ = ["ServiceSpec", "install_service", "register", "render_unit"]

# useradd's default NAME_REGEX (shadow-utils): portable login names.
_USER = re.compile(r"^[a-z_][a-z0-9_-]*\$?$")
_UNIT_NAME = re.compile(r"^[A-Za-z0-9_.@-]+$")


@dataclass(frozen=True)
class ServiceSpec:
    """What the unit runs: as whom, which executable, which parameters, which extra nodes."""

    user: str
    params_file: Path
    executable: Path
    with_nodes: tuple[str, ...] = ()
    name: str = "wildcam"
    composed: bool = False  # all nodes in one process (the Pi Zero 2 W's 512 MB)

    def __post_init__(self) -> None:
        from wildcam.graph import NODES

        if not _USER.match(self.user) or len(self.user) > 32:
            raise ConfigError(f"--user {self.user!r} is not a valid login name")
        if not _UNIT_NAME.match(self.name):
            raise ConfigError(f"--name {self.name!r} is not a valid unit name")
        if not self.params_file.is_absolute() or not self.params_file.is_file():
            raise ConfigError(
                f"parameters file {self.params_file} not found (give a path to "
                f"the deployment's YAML)"
            )
        on_request = {n.name for n in NODES if n.on_request}
        for name in self.with_nodes:
            if name not in on_request:
                raise ConfigError(
                    f"--with {name!r}: not an on-request node; one of "
                    f"{', '.join(sorted(on_request))}"
                )


def render_unit(spec: ServiceSpec) -> str:
    """The unit file's text."""
    argv = [str(spec.executable), "bringup", "--params-file", str(spec.params_file)]
    for name in spec.with_nodes:
        argv += ["--with", name]
    if spec.composed:
        argv.append("--composed")
    return f"""\
# Installed by `wildcam install-service`: starts the wildcam graph at boot.
[Unit]
Description=wildcam camera trap (ROS 2 graph)
# After the clock is set (RTC or NTP), without waiting for a network the trap may not have.
After=time-sync.target network.target
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=simple
User={spec.user}
WorkingDirectory=~
ExecStart={shlex.join(argv).replace("%", "%%")}
Environment=ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=10
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
"""


def install_service(spec: ServiceSpec, prefix: Path, dry_run: bool = False) -> Path:
    """Write the unit under ``prefix`` (``/`` on the trap); return its path."""
    if not prefix.is_dir():
        raise ConfigError(f"--prefix {prefix} is not a directory")
    path = prefix / "etc" / "systemd" / "system" / f"{spec.name}.service"
    if not dry_run:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_unit(spec))
        except OSError as err:
            raise ConfigError(f"cannot write {path}: {err} (root is needed for /etc)") from err
    return path


def _install(args: argparse.Namespace) -> int:
    executable = Path(sys.executable).with_name("wildcam")
    if not executable.is_file():
        raise ConfigError(f"no wildcam executable next to {sys.executable}")
    params = (
        Path(args.params_file).expanduser().resolve() if args.params_file else _default_params()
    )
    spec = ServiceSpec(
        user=args.user,
        params_file=params,
        executable=executable,
        with_nodes=tuple(args.with_nodes),
        name=args.name,
        composed=args.composed,
    )
    prefix = Path(args.prefix)
    if prefix.resolve() == Path("/") and not args.dry_run:
        try:
            pwd.getpwnam(spec.user)
        except KeyError:
            raise ConfigError(f"--user {spec.user!r} does not exist on this host") from None
    path = install_service(spec, prefix, args.dry_run)
    if args.dry_run:
        print(f"# {path} (dry run: not written)")
        print(render_unit(spec), end="")
    else:
        print(f"wrote {path}")
    print(
        f"next, as root:\n  systemctl daemon-reload\n  systemctl enable --now "
        f"{spec.name}.service\n  journalctl -u {spec.name} -f    # its log"
    )
    return 0


def _default_params() -> Path:
    from wildcam.bringup import default_params_file

    return default_params_file()


def register(sub: Any) -> None:
    """Add ``install-service`` to the ``wildcam`` subcommands."""
    p = sub.add_parser(
        "install-service",
        help="write a systemd unit that starts the graph at "
        "boot (a halted trap woken by its RTC or PIR comes back by itself)",
    )
    p.add_argument(
        "--prefix",
        default="/",
        help="root to install under (default /: /etc/systemd/system/NAME.service)",
    )
    p.add_argument(
        "--user",
        default=getpass.getuser(),
        help="user the graph runs as "
        "(default: you; on a Pi one in the gpio, i2c and video groups)",
    )
    p.add_argument(
        "--params-file",
        default="",
        help="the deployment's parameters YAML (default: the package's config/wildcam.yaml)",
    )
    p.add_argument(
        "--with",
        dest="with_nodes",
        action="append",
        default=[],
        metavar="NODE",
        help="also start this on-request node (repeatable), e.g. pir_trigger",
    )
    p.add_argument(
        "--composed",
        action="store_true",
        help="run all nodes in one process (wildcam bringup --composed): needed on a Pi "
        "Zero 2 W, whose 512 MB do not hold one process per node (README: Memory)",
    )
    p.add_argument("--name", default="wildcam", help="unit name (default wildcam)")
    p.add_argument("--dry-run", action="store_true", help="print the unit, write nothing")
    p.set_defaults(func=_install)
