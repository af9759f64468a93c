"""Parameters of the ``mqtt_bridge`` node."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

from wildcam.errors import ConfigError, InputError
from wildcam.fleet.protocol import parse_allow_list, valid_level
from wildcam.params import check_ranges, param
from wildcam.upload.config import default_state_dir

__all__ = ["BridgeConfig"]

DEFAULT_ALLOWED = (
    "power_manager.override_state,uploader.send_full_frames,uploader.quota_mb,uploader.windows"
)


@dataclass(frozen=True)
class BridgeConfig:
    """Broker connection, topics, what is published and which commands are taken."""

    broker_host: str = param("127.0.0.1", "MQTT broker host.", read_only=True)
    broker_port: int = param(
        1883, "MQTT broker port (8883 is the usual TLS port).", min=1, max=65535, read_only=True
    )
    protocol: str = param(
        "5",
        "MQTT protocol version (with 3.1.1 a publish the broker's ACL refuses is lost silently).",
        choices=("3.1.1", "5"),
        read_only=True,
    )
    tls: bool = param(
        False, "Connect with TLS (the broker's certificate is verified).", read_only=True
    )
    ca_file: str = param(
        "", "CA bundle for the broker's certificate ('' = the system's).", read_only=True
    )
    cert_file: str = param(
        "",
        "Client certificate (PEM) for brokers that authenticate "
        "devices by certificate ('' = none).",
        read_only=True,
    )
    key_file: str = param("", "Private key (PEM) of the client certificate.", read_only=True)
    username: str = param(
        "",
        "Broker user name ('' = the device id when a password file is given, else none).",
        read_only=True,
    )
    password_file: str = param(
        "", "File holding the broker password on one line ('' = no password).", read_only=True
    )
    device_id: str = param(
        "", "This trap's id: its topics' level and client id ('' = the host name).", read_only=True
    )
    device_name: str = param(
        "", "Name shown in Home Assistant ('' = the device id).", read_only=True
    )
    topic_prefix: str = param(
        "wildcam", "First topic level of every device topic.", read_only=True
    )
    discovery: bool = param(
        True, "Publish Home Assistant MQTT discovery documents.", read_only=True
    )
    discovery_prefix: str = param(
        "homeassistant", "Home Assistant's discovery prefix.", read_only=True
    )
    status_period_s: float = param(
        60.0, "How often the retained status is published.", min=1.0, max=86400.0
    )
    thumbnail_max_bytes: int = param(
        0,
        "Detection events carry the JPEG thumbnail when it is "
        "at most this many bytes (0 = never).",
        min=0,
        max=262144,
    )
    allowed_params: str = param(
        DEFAULT_ALLOWED,
        "Parameters a 'set' command may change, comma-separated node.parameter.",
        read_only=True,
    )
    outbox_dir: str = param(
        "",
        "Durable outbox of telemetry, events and acks, and the ids of the commands run "
        "('' = ~/.local/state/wildcam/mqtt).",
        read_only=True,
    )
    outbox_quota_mb: float = param(16.0, "Disk quota of the outbox.", min=0.1, max=100000.0)
    outbox_ttl_s: float = param(
        30 * 86400.0, "Messages older than this are dropped (counted).", min=60.0, max=1e9
    )
    keepalive_s: int = param(
        60,
        "MQTT keep-alive: the broker sends the last will after 1.5 x this without a packet.",
        min=5,
        max=65535,
        read_only=True,
    )
    backoff_base_s: float = param(
        1.0, "First reconnect delay after a failure.", min=0.05, max=3600.0
    )
    backoff_max_s: float = param(
        300.0, "Longest reconnect delay (exponential, jittered).", min=0.1, max=86400.0
    )
    max_inflight: int = param(
        20, "QoS 1 messages sent and not yet acknowledged by the broker.", min=1, max=1000
    )
    poll_s: float = param(
        0.5,
        "Longest wait of the network loop (new outbox items wait at most this long).",
        min=0.01,
        max=10.0,
        read_only=True,
    )

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.backoff_max_s < self.backoff_base_s:
            raise ConfigError("backoff_max_s must be >= backoff_base_s")
        for name in ("topic_prefix", "discovery_prefix"):
            if not valid_level(getattr(self, name)):
                raise ConfigError(
                    f"{name}={getattr(self, name)!r}: one topic level of A-Z a-z 0-9 _ -"
                )
        if self.device_id and not valid_level(self.device_id):
            raise ConfigError(
                f"device_id={self.device_id!r}: 1-64 characters of A-Z a-z 0-9 "
                "_ -, starting with a letter or digit"
            )
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError("a client certificate needs both cert_file and key_file")
        try:
            parse_allow_list(self.allowed_params)
        except InputError as err:
            raise ConfigError(str(err)) from err

    @property
    def device(self) -> str:
        """The device id (the host name, made a valid topic level, when not set)."""
        if self.device_id:
            return self.device_id
        host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64].strip("-_")
        return host if valid_level(host) else "wildcam"

    @property
    def outbox_path(self) -> Path:
        """The outbox directory."""
        return (
            Path(self.outbox_dir).expanduser() if self.outbox_dir else default_state_dir() / "mqtt"
        )
