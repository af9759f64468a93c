"""Mosquitto for a fleet: the configuration, password and ACL files, and a local broker process
(tests, the fleet benchmark).

The ACL gives each device its own prefix and nothing else (``%u`` is the user name, which is the
device id; with client certificates, ``use_identity_as_username`` makes it the certificate's
common name)::

    pattern write wildcam/%u/#                  # status, availability, events, acks
    pattern read  wildcam/%u/cmd                # its commands
    pattern write homeassistant/+/%u/+/config   # its discovery documents
    user operator                               # dashboards, Home Assistant, the operator
    topic read  wildcam/#
    topic write wildcam/+/cmd
    topic read  homeassistant/#

Passwords are stored as Mosquitto 2's PBKDF2-SHA512 hashes (``$7$``), the format
``mosquitto_passwd`` writes, so the tests need nothing but the broker.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from wildcam.errors import ConfigError

__all__ = ["OPERATOR", "Mosquitto", "acl_text", "find_mosquitto", "free_port", "password_line"]

OPERATOR = "operator"
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$ (mosquitto 2.0 man page)


def find_mosquitto() -> str | None:
    """The broker's executable (Debian installs it in /usr/sbin), or None."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)),
        None,
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def password_line(user: str, password: str) -> str:
    """One line of a Mosquitto password file."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return (
        f"{user}:$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}$"
        f"{base64.b64encode(digest).decode()}"
    )


def acl_text(prefix: str = "wildcam", discovery_prefix: str = "homeassistant") -> str:
    """The ACL file: each device under its own prefix, the operator reads all and commands."""
    return (
        f"pattern write {prefix}/%u/#\n"
        f"pattern read {prefix}/%u/cmd\n"
        f"pattern write {discovery_prefix}/+/%u/+/config\n\n"
        f"user {OPERATOR}\n"
        f"topic read {prefix}/#\n"
        f"topic write {prefix}/+/cmd\n"
        f"topic read {discovery_prefix}/#\n"
    )


class Mosquitto:
    """A Mosquitto broker on ``127.0.0.1:port`` with a generated configuration, in
    ``directory`` (password file, ACL, persistence, log); ``stop``/``start`` keep its state."""

    def __init__(
        self,
        directory: Path,
        users: Mapping[str, str],
        port: int = 0,
        executable: str | None = None,
        extra: str = "",
    ) -> None:
        exe = executable or find_mosquitto()
        if exe is None:
            raise ConfigError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.executable = exe
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.port = port or free_port()
        (self.directory / "passwd").write_text(
            "".join(password_line(u, p) + "\n" for u, p in users.items())
        )
        (self.directory / "acl").write_text(acl_text())
        for name in ("passwd", "acl"):
            os.chmod(self.directory / name, 0o600)
        self.config = self.directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {self.directory / 'passwd'}\n"
            f"acl_file {self.directory / 'acl'}\n"
            "persistence true\n"
            f"persistence_location {self.directory}/\n"
            f"log_dest file {self.directory / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            + ("user root\n" if os.geteuid() == 0 else "")  # do not drop to user mosquitto
            + extra
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        """Start the broker; returns once it accepts connections."""
        self.proc = subprocess.Popen(
            [self.executable, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise ConfigError(
                    f"mosquitto exited ({self.proc.returncode}): {err[-500:]} {self.log()[-500:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ConfigError(f"mosquitto did not listen on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the broker (SIGTERM: it saves its persistent state)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def log(self) -> str:
        """The broker's log so far."""
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""
