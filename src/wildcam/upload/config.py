"""Uploader configuration: one frozen dataclass, every field a declared (live) parameter.

The policy fields the power manager sets per mode (``enabled``, ``only_on_charger``,
``min_battery``, ``send_full_frames``, ``daily_energy_budget_j``) are part of the cross-node
contract; the rest are the uploader's own. The bearer token is never a parameter value: only the
path of the file holding it is (``token_file``). ``token_file`` and ``gateway_url`` are
read-only: no ROS participant can point the uploader's token at another file or another server.
Only a signed over-the-air parameter set changes them (kept in
``<ota_dir>/signed-parameters.json``, see :class:`~wildcam.upload.ota.SignedOnlyParameters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wildcam.errors import ConfigError, UpdateError
from wildcam.params import build_config, check_ranges, param, power_profile_param
from wildcam.upload.link import LINK_BACKENDS, parse_link_profile
from wildcam.upload.policy import parse_windows

__all__ = ["COMPRESSIONS", "UploaderConfig", "default_state_dir"]

COMPRESSIONS = ("gzip", "none")


def default_state_dir() -> Path:
    """Where the queue and OTA state live when no directory is given."""
    return Path.home() / ".local" / "state" / "wildcam"


@dataclass(frozen=True)
class UploaderConfig:
    """Parameters of the ``uploader`` node."""

    enabled: bool = param(
        True,
        "Upload at all (the power manager turns this off in critical mode; items keep queueing).",
    )
    only_on_charger: bool = param(False, "Upload only while power/state says charging.")
    min_battery: float = param(
        0.0,
        "Upload only at or above this battery fraction (unknown battery passes).",
        min=0.0,
        max=1.0,
    )
    send_full_frames: bool = param(
        False, "Queue and send full-frame JPEGs as well as metadata and thumbnails."
    )
    daily_energy_budget_j: float = param(
        5000.0, "Radio energy allowed per UTC day, joules (0: send nothing).", min=0.0, max=1e9
    )
    min_link_quality: float = param(
        0.3,
        "Upload only when the link backend reports at least this quality (0..1).",
        min=0.0,
        max=1.0,
    )
    windows: str = param(
        "",
        "UTC time windows uploads may happen in, e.g. '22:00-06:00,12:00-12:30' ('' = any time).",
    )
    gateway_url: str = param(
        "http://127.0.0.1:8470", "Base URL of the ingest gateway.", read_only=True
    )
    token_file: str = param(
        "",
        "File holding the gateway's bearer token: exactly one token on "
        "one line ('' = none; the token itself is never a parameter).",
        read_only=True,
    )
    tls_verify: bool = param(True, "Verify the gateway's TLS certificate (https URLs).")
    ca_file: str = param("", "CA bundle to verify the gateway with ('' = system roots).")
    queue_dir: str = param(
        "", "Durable queue directory ('' = ~/.local/state/wildcam/upload).", read_only=True
    )
    quota_mb: float = param(
        512.0,
        "Disk quota of the queue; the lowest priority is evicted first when it is reached.",
        min=0.01,
        max=1e6,
    )
    ttl_s: float = param(
        14 * 86400.0, "Items older than this are dropped (counted).", min=1.0, max=1e9
    )
    batch_max_items: int = param(64, "Most items in one request.", min=1, max=10000)
    batch_max_kb: int = param(1024, "Most payload kilobytes in one request.", min=1, max=1_000_000)
    batch_min_items: int = param(
        1,
        "Items to gather before switching the radio on (see batch_max_wait_s).",
        min=1,
        max=10000,
    )
    batch_max_wait_s: float = param(
        60.0,
        "Send fewer than batch_min_items once the oldest waiting item is this old, seconds.",
        min=0.0,
        max=1e7,
    )
    compression: str = param("gzip", "Request body compression.", choices=COMPRESSIONS)
    backoff_base_s: float = param(
        1.0,
        "First retry delay after a failure; doubles per failure, with jitter.",
        min=0.01,
        max=3600.0,
    )
    backoff_max_s: float = param(300.0, "Longest retry delay.", min=0.01, max=86400.0)
    request_timeout_s: float = param(10.0, "HTTP timeout of one request.", min=0.1, max=600.0)
    link_backend: str = param(
        "probe",
        "Link-quality backend: probe (the gateway's /v1/health "
        "latency) or simulated (link_profile).",
        choices=LINK_BACKENDS,
    )
    link_profile: str = param(
        "3600:1.0", "Simulated link: repeating 'seconds:quality' segments, e.g. '600:0.9,300:0.1'."
    )
    idle_period_s: float = param(
        1.0, "How often the sender looks again when it has nothing to do.", min=0.01, max=3600.0
    )
    ota_public_key: str = param(
        "",
        "Ed25519 public key (PEM) updates must be signed with ('' = no over-the-air updates).",
        read_only=True,
    )
    ota_dir: str = param(
        "", "Where updates are installed ('' = <queue_dir>/../ota).", read_only=True
    )
    ota_period_s: float = param(
        300.0, "How often to ask the gateway for updates.", min=1.0, max=1e7, read_only=True
    )
    power_profile: str = power_profile_param()
    device_id: str = param("", "Name of this trap in what it uploads ('' = the host name).")
    location: str = param(
        "",
        "Where the trap stands, 'lat,lon[,uncertainty_m]' in WGS84 "
        "degrees ('' = unknown; the Camtrap DP export needs it).",
    )
    camera_model: str = param("", "Camera make and model, for the deployment record.")
    camera_height_m: float = param(
        0.0, "Height of the camera above the ground, metres (0 = unknown).", min=0.0, max=100.0
    )
    setup_by: str = param("", "Who set the trap up, for the deployment record.")

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.backoff_max_s < self.backoff_base_s:
            raise ConfigError(
                f"backoff_max_s={self.backoff_max_s} must be >= "
                f"backoff_base_s={self.backoff_base_s}"
            )
        if not self.gateway_url.startswith(("http://", "https://")):
            raise ConfigError(f"gateway_url={self.gateway_url!r} must be an http(s) URL")
        parse_windows(self.windows)
        parse_link_profile(self.link_profile)
        if self.location:
            from wildcam.ecology.frames import parse_location

            try:
                parse_location(self.location)
            except ValueError as err:
                raise ConfigError(str(err)) from err

    def device(self) -> dict[str, object]:
        """The trap's deployment facts sent with every frame (see wildcam.ecology.frames)."""
        import socket

        return {
            "id": self.device_id or socket.gethostname(),
            "location": self.location,
            "camera_model": self.camera_model,
            "camera_height_m": self.camera_height_m,
            "setup_by": self.setup_by,
        }

    @property
    def queue_path(self) -> Path:
        """The queue directory."""
        return (
            Path(self.queue_dir).expanduser() if self.queue_dir else default_state_dir() / "upload"
        )

    @property
    def ota_path(self) -> Path:
        """The directory updates are installed in."""
        return Path(self.ota_dir).expanduser() if self.ota_dir else self.queue_path.parent / "ota"

    @property
    def max_priority(self) -> int:
        """Highest priority class that may be sent (full frames only when allowed)."""
        return 2 if self.send_full_frames else 1


SIGNED_ONLY = frozenset({"gateway_url", "token_file"})  # read-only; a signed update may set them


def with_signed(config: UploaderConfig, values: Mapping[str, Any]) -> UploaderConfig:
    """``config`` with the values a signed update set over it (UpdateError if invalid)."""
    try:
        return build_config(UploaderConfig, values, base=config)
    except ConfigError as err:
        raise UpdateError(f"uploader refused {sorted(values)}: {err}") from err
