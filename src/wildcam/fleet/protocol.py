"""The fleet's MQTT protocol: topics, payloads, commands, acknowledgements, Home Assistant
discovery and the keys consumers deduplicate by. Pure (no rclpy, no paho).

Topics, under ``<prefix>/<device>/`` (``prefix`` is ``wildcam`` unless configured)::

    status        retained, QoS 1   the device's health (see :func:`status_payload`)
    availability  retained, QoS 1   "online" / "offline" (the last will)
    events        QoS 1             one detection event (see :func:`event_payload`)
    cmd           QoS 1, to device  a command (see :func:`parse_command`)
    ack           QoS 1             the result of each command (see :func:`ack_payload`)

Every JSON payload the device sends has a ``key``: MQTT QoS 1 delivers at least once, and the
device resends what it was not acknowledged after a reconnect, so consumers keep what they saw
by key and get each message exactly once. Commands carry an ``id``; a
command seen again (a redelivery) is acknowledged again with the first result, not run twice.

Home Assistant discovery (:func:`discovery_documents`) goes to
``<discovery_prefix>/<component>/<device>/<object>/config`` (retained), so one ACL pattern per
component lets a device announce only itself.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wildcam.errors import InputError
from wildcam.types import NOT_ANIMALS

if TYPE_CHECKING:
    from wildcam.upload.items import DetectionInfo

__all__ = [
    "COMMANDS",
    "MAX_COMMAND_BYTES",
    "MODES",
    "Command",
    "CommandError",
    "Topics",
    "ack_payload",
    "discovery_documents",
    "encode",
    "event_payload",
    "parse_allow_list",
    "parse_command",
    "status_key_prefix",
    "status_payload",
    "valid_level",
]

MODES = ("critical", "low_power", "normal", "aggressive")  # wildcam.power.policy.MODES
COMMANDS = ("mode", "set", "status", "check_updates", "clear_overrides")
MAX_COMMAND_BYTES = 4096
_LEVEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,48}$")  # keys stay within the queue's 128
_PARAM = re.compile(r"^[a-z_][a-z0-9_]{0,63}\.[a-z_][a-z0-9_]{0,63}$")
Scalar = bool | int | float | str


def valid_level(text: str) -> bool:
    """A device id or prefix usable as one topic level (no ``/``, ``+``, ``#``)."""
    return bool(_LEVEL.match(text))


def encode(doc: dict[str, Any]) -> bytes:
    """Compact JSON (what every payload is)."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class Topics:
    """The topics of one device."""

    prefix: str
    device: str

    def __post_init__(self) -> None:
        for what, value in (("topic prefix", self.prefix), ("device id", self.device)):
            if not valid_level(value):
                raise InputError(
                    f"{what} {value!r}: 1-64 characters of A-Z a-z 0-9 _ -, "
                    "starting with a letter or digit"
                )

    def _t(self, leaf: str) -> str:
        return f"{self.prefix}/{self.device}/{leaf}"

    @property
    def status(self) -> str:
        """Retained device status."""
        return self._t("status")

    @property
    def availability(self) -> str:
        """Retained online/offline (the last will)."""
        return self._t("availability")

    @property
    def events(self) -> str:
        """Detection events."""
        return self._t("events")

    @property
    def cmd(self) -> str:
        """Commands to the device."""
        return self._t("cmd")

    @property
    def ack(self) -> str:
        """Command acknowledgements."""
        return self._t("ack")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 3)


def status_key_prefix(device: str) -> str:
    """What every status key of ``device`` starts with (and no other key of it)."""
    return f"{device}-s-"


def status_payload(
    device: str,
    seq: int,
    stamp_s: float,
    *,
    battery_pct: float | None,
    mode: str,
    state: str,
    charging: bool,
    queue_depth: int | None,
    last_detection: dict[str, Any] | None,
    energy_j: float | None,
    average_power_w: float | None,
    projected_battery_h: float | None,
    software: str,
    models: list[str],
    ota_last: str = "",
) -> dict[str, Any]:
    """The retained status document (``key`` is ``<device>-s-<seq>``)."""
    return {
        "key": f"{status_key_prefix(device)}{seq}",
        "device": device,
        "stamp": round(stamp_s, 3),
        "battery_pct": _finite(battery_pct),
        "mode": mode,
        "state": state,
        "charging": charging,
        "queue_depth": queue_depth,
        "last_detection": last_detection,
        "energy_j": _finite(energy_j),
        "average_power_w": _finite(average_power_w),
        "projected_battery_h": _finite(projected_battery_h),
        "software": software,
        "models": sorted(models),
        "ota_last": ota_last,
    }


def detection_dicts(detections: Iterable[DetectionInfo]) -> list[dict[str, Any]]:
    """The detections of an event as its payload lists them (non-finite scores left out)."""
    return [
        {
            "class_id": d.class_id,
            "score": round(d.score, 4),
            "stage": d.stage,
            "model_id": d.model_id,
            "box": [round(v, 1) for v in d.box],
        }
        for d in detections
        if math.isfinite(d.score)
    ]


def event_payload(
    device: str,
    frame_key: str,
    stamp_s: float,
    event_id: int,
    detections: list[dict[str, Any]],
    thumbnail: bytes = b"",
    thumbnail_max_bytes: int = 0,
) -> dict[str, Any]:
    """A detection event; the JPEG thumbnail (base64) only when it is at most
    ``thumbnail_max_bytes`` (0: never). ``key`` is ``<device>-e-<frame_key>`` (the frame's
    upload key: the same frame is the same event, whichever path it took). Its ``class_id`` and
    ``score`` are its best animal's (not a person's or vehicle's beside it)."""
    animals = [d for d in detections if d.get("class_id") not in NOT_ANIMALS] or detections
    best = max(animals, key=lambda d: float(d.get("score", 0.0)), default=None)
    doc: dict[str, Any] = {
        "key": f"{device}-e-{frame_key}",
        "device": device,
        "event_type": "detection",
        "stamp": round(stamp_s, 3),
        "event_id": event_id,
        "class_id": best.get("class_id", "") if best else "",
        "score": round(float(best.get("score", 0.0)), 4) if best else 0.0,
        "detections": detections,
    }
    if thumbnail and 0 < len(thumbnail) <= thumbnail_max_bytes:
        doc["thumbnail_jpeg_b64"] = base64.b64encode(thumbnail).decode()
    elif thumbnail:
        doc["thumbnail_omitted"] = f"{len(thumbnail)} bytes > limit {thumbnail_max_bytes}"
    return doc


class CommandError(InputError):
    """A command refused before it ran: why, and its id when it had a readable one."""

    def __init__(self, reason: str, command_id: str = "", command: str = "") -> None:
        super().__init__(reason)
        self.reason, self.command_id, self.command = reason, command_id, command


@dataclass(frozen=True)
class Command:
    """A valid command: ``mode`` (``mode``: a mode or ``auto``), ``set`` (``params``:
    ``node.name`` -> value, each on the allow-list), ``status``, ``check_updates`` or
    ``clear_overrides`` (``param``: ``node.name`` to release, ``''`` every manual override)."""

    id: str
    command: str
    mode: str = ""
    params: dict[str, Scalar] = field(default_factory=dict)
    param: str = ""


def parse_allow_list(text: str) -> frozenset[str]:
    """``'uploader.quota_mb, power_manager.override_state'`` -> the set (ConfigError-free:
    InputError names a bad entry)."""
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    bad = sorted(n for n in names if not _PARAM.match(n))
    if bad:
        raise InputError(f"allow-list entries must be node.parameter: {bad}")
    return names


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= 256
    return isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value))


def parse_command(payload: bytes, allowed: frozenset[str]) -> Command:
    """The command in ``payload``; :class:`CommandError` with the reason for anything else
    (nothing of a refused command is applied)."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"command longer than {MAX_COMMAND_BYTES} bytes")
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise CommandError("command is not JSON") from None
    if not isinstance(doc, dict):
        raise CommandError("command must be a JSON object")
    command_id = doc.get("id", "")
    if not isinstance(command_id, str) or not _ID.match(command_id):
        raise CommandError("id must be 1-48 characters of A-Z a-z 0-9 . _ : -")
    name = doc.get("command")
    if name not in COMMANDS:
        raise CommandError(f"command must be one of {list(COMMANDS)}", command_id)
    extra = set(doc) - {
        "id",
        "command",
        *{"mode": {"mode"}, "set": {"params"}, "clear_overrides": {"param"}}.get(name, set()),
    }
    if extra:
        raise CommandError(f"unexpected field(s) {sorted(extra)} for {name}", command_id, name)
    if name == "mode":
        mode = doc.get("mode")
        if mode not in (*MODES, "auto"):
            raise CommandError(f"mode must be one of {[*MODES, 'auto']}", command_id, name)
        return Command(command_id, name, mode=str(mode))
    if name == "set":
        params = doc.get("params")
        if not isinstance(params, dict) or not params:
            raise CommandError("params must be a non-empty object", command_id, name)
        refused = sorted(k for k in params if k not in allowed)
        if refused:
            raise CommandError(f"not on the allow-list: {refused}", command_id, name)
        bad = sorted(k for k, v in params.items() if not _scalar(v))
        if bad:
            raise CommandError(f"values must be scalars: {bad}", command_id, name)
        return Command(command_id, name, params=dict(params))
    if name == "clear_overrides":
        param = doc.get("param", "")
        if not isinstance(param, str) or (param and not _PARAM.match(param)):
            raise CommandError("param must be node.parameter", command_id, name)
        return Command(command_id, name, param=param)
    return Command(command_id, str(name))


def ack_payload(
    device: str, command_id: str, command: str, ok: bool, result: str, nonce: int = 0
) -> dict[str, Any]:
    """The acknowledgement of one command (``key`` is ``<device>-a-<id>``; a command without a
    readable id is acknowledged with ``id`` '' under the key ``<device>-a-anon-<nonce>``)."""
    key = f"{device}-a-{command_id}" if command_id else f"{device}-a-anon-{nonce}"
    return {
        "key": key,
        "device": device,
        "id": command_id,
        "command": command,
        "ok": ok,
        "result": result[:500],
    }


def discovery_documents(
    topics: Topics, discovery_prefix: str, name: str, model: str, software: str
) -> list[tuple[str, dict[str, Any]]]:
    """Home Assistant MQTT discovery: battery and queue depth (sensors), mode (a select that
    sends a ``mode`` command) and detections (an event). (topic, document) pairs, retained."""
    dev = topics.device
    device = {
        "identifiers": [f"wildcam_{dev}"],
        "name": name or dev,
        "manufacturer": "wildcam",
        "model": model,
        "sw_version": software,
    }
    common = {
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }

    def topic(component: str, obj: str) -> str:
        return f"{discovery_prefix}/{component}/{dev}/{obj}/config"

    return [
        (
            topic("sensor", "battery"),
            {
                **common,
                "name": "Battery",
                "unique_id": f"wildcam_{dev}_battery",
                "state_topic": topics.status,
                "value_template": "{{ value_json.battery_pct }}",
                "unit_of_measurement": "%",
                "device_class": "battery",
                "state_class": "measurement",
            },
        ),
        (
            topic("sensor", "queue_depth"),
            {
                **common,
                "name": "Upload queue",
                "unique_id": f"wildcam_{dev}_queue_depth",
                "state_topic": topics.status,
                "value_template": "{{ value_json.queue_depth }}",
                "unit_of_measurement": "items",
                "state_class": "measurement",
            },
        ),
        (
            topic("select", "mode"),
            {
                **common,
                "name": "Mode",
                "unique_id": f"wildcam_{dev}_mode",
                "state_topic": topics.status,
                "value_template": "{{ value_json.mode }}",
                "command_topic": topics.cmd,
                "options": [*MODES, "auto"],
                "command_template": '{"id": "ha-{{ now().timestamp() | int }}", '
                '"command": "mode", "mode": "{{ value }}"}',
            },
        ),
        (
            topic("event", "detection"),
            {
                **common,
                "name": "Detection",
                "unique_id": f"wildcam_{dev}_detection",
                "state_topic": topics.events,
                "event_types": ["detection"],
            },
        ),
    ]
