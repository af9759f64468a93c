"""What the ``mqtt_bridge`` node does, without ROS: it keeps the device's facts, turns them into
status and event messages in the durable outbox, and runs commands through :class:`Actions`
(the node's parameter calls), acknowledging each.

A command is parsed first (:func:`~wildcam.fleet.protocol.parse_command`): a refused one changes
nothing and is acknowledged ``ok: false`` with the reason. A command whose id was seen before (a
QoS 1 redelivery, also after a restart: :class:`~wildcam.fleet.commands.CommandLog`) is not run
again; its first acknowledgement is queued again. The outbox keeps only the latest status (it is
state, retained on the broker); events and acknowledgements each wait until the broker has them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wildcam import __version__
from wildcam.errors import WildcamError
from wildcam.fleet.commands import CommandLog
from wildcam.fleet.link import outbox_item
from wildcam.fleet.protocol import (
    Command,
    CommandError,
    Scalar,
    Topics,
    ack_payload,
    event_payload,
    parse_command,
    status_key_prefix,
    status_payload,
)
from wildcam.upload.queue import DurableQueue

__all__ = ["Actions", "BridgeCore", "DeviceFacts"]


class Actions(Protocol):
    """What commands do on the device (the node: parameter services and topics)."""

    def set_params(self, node: str, values: dict[str, Scalar]) -> None:
        """Set ``values`` on ``node`` atomically; WildcamError with the node's reason."""

    def check_updates(self) -> str:
        """Ask the uploader to look for updates now; what happened."""

    def clear_overrides(self, node: str, parameter: str) -> list[str]:
        """Release the power manager's manual overrides (``''``: all); the released
        ``node.parameter`` names."""


_SUMMARY_KEYS = {
    "stage_total_j": "energy_j",
    "average_power_w": "average_power_w",
    "projected_battery_h": "projected_battery_h",
}


@dataclass
class DeviceFacts:
    """The latest of what the device's topics said."""

    battery_pct: float | None = None
    mode: str = ""
    state: str = ""
    charging: bool = False
    queue_depth: int | None = None
    last_detection: dict[str, Any] | None = None
    energy_j: float | None = None
    average_power_w: float | None = None
    projected_battery_h: float | None = None
    models: set[str] = field(default_factory=set)
    ota_last: str = ""

    def power(self, battery: float, mode: str, state: str, charging: bool) -> None:
        """``power/state``: mode, device state, battery (non-finite: unknown), charging."""
        self.battery_pct = battery if math.isfinite(battery) else None
        self.mode, self.state, self.charging = mode, state, charging

    def summary(self, pairs: Iterable[tuple[str, str]]) -> None:
        """The power manager's energy summary ``(key, value)`` pairs: energy, average power,
        projected battery life (a value that is no number is left out)."""
        for key, value in pairs:
            name = _SUMMARY_KEYS.get(key)
            if name is not None:
                try:
                    setattr(self, name, float(value))
                except ValueError:
                    pass

    def diagnostics(self, pairs: Iterable[tuple[str, str]]) -> None:
        """``/diagnostics`` pairs: the uploader's last over-the-air result."""
        for key, value in pairs:
            if key == "ota_last":
                self.ota_last = value[:300]


class BridgeCore:
    """Facts in, outbox items out; commands through ``actions``."""

    def __init__(
        self,
        topics: Topics,
        outbox: DurableQueue,
        commands: CommandLog,
        actions: Actions,
        allowed: frozenset[str],
        clock: Callable[[], float],
        thumbnail_max_bytes: int = 0,
    ) -> None:
        self.topics, self.outbox, self.commands, self.actions = topics, outbox, commands, actions
        self.allowed = allowed
        self.clock = clock
        self.thumbnail_max_bytes = thumbnail_max_bytes
        self.facts = DeviceFacts()
        self._lock = threading.Lock()  # facts and the status: executor vs. link thread
        # wall-clock milliseconds: status keys keep increasing across restarts (the node's clock
        # may be simulated and start at 0)
        self._status_seq = time.time_ns() // 1_000_000

    def queue_status(self) -> str:
        """Put the current status in the outbox (retained); its key."""
        with self._lock:  # also orders the put and supersede of concurrent calls
            self._status_seq += 1
            f = self.facts
            doc = status_payload(
                self.topics.device,
                self._status_seq,
                self.clock(),
                battery_pct=f.battery_pct,
                mode=f.mode,
                state=f.state,
                charging=f.charging,
                queue_depth=f.queue_depth,
                last_detection=f.last_detection,
                energy_j=f.energy_j,
                average_power_w=f.average_power_w,
                projected_battery_h=f.projected_battery_h,
                software=__version__,
                models=sorted(f.models),
                ota_last=f.ota_last,
            )
            key = str(doc["key"])
            # A status is state, not an event: like the broker's retained message, the outbox
            # keeps only the latest. The new one is stored first (a crash in between leaves two,
            # not none); when the quota refused it, the older one stays.
            if self.outbox.put([outbox_item(key, self.topics.status, doc, retain=True)]).stored:
                self.outbox.supersede(status_key_prefix(self.topics.device), key)
        return key

    def queue_event(
        self,
        frame_key: str,
        stamp_s: float,
        event_id: int,
        detections: list[dict[str, Any]],
        thumbnail: bytes,
    ) -> str:
        """Put a detection event in the outbox (and remember it as the last detection)."""
        doc = event_payload(
            self.topics.device,
            frame_key,
            stamp_s,
            event_id,
            detections,
            thumbnail,
            self.thumbnail_max_bytes,
        )
        with self._lock:
            self.facts.last_detection = {
                "stamp": doc["stamp"],
                "class_id": doc["class_id"],
                "score": doc["score"],
                "event_id": event_id,
            }
            self.facts.models.update(
                str(d.get("model_id", "")) for d in detections if d.get("model_id")
            )
        self.outbox.put(
            [
                outbox_item(
                    doc["key"],
                    self.topics.events,
                    doc,
                    kind="thumbnail" if "thumbnail_jpeg_b64" in doc else "metadata",
                )
            ]
        )
        return str(doc["key"])

    def _run(self, cmd: Command) -> str:
        if cmd.command == "mode":
            self.actions.set_params(
                "power_manager", {"override_mode": "" if cmd.mode == "auto" else cmd.mode}
            )
            return f"mode {cmd.mode}" + (" (the policy decides)" if cmd.mode == "auto" else "")
        if cmd.command == "set":
            by_node: dict[str, dict[str, Scalar]] = {}
            for name, value in cmd.params.items():
                node, _, param = name.partition(".")
                by_node.setdefault(node, {})[param] = value
            for node, values in sorted(by_node.items()):
                self.actions.set_params(node, values)
            return f"set {sorted(cmd.params)}"
        if cmd.command == "check_updates":
            return self.actions.check_updates()
        if cmd.command == "clear_overrides":
            node, _, parameter = cmd.param.partition(".")
            cleared = self.actions.clear_overrides(node, parameter)
            return f"cleared {cleared}" if cleared else "no manual override held"
        return f"status {self.queue_status()} queued"

    def handle_command(self, payload: bytes) -> dict[str, Any]:
        """Parse, run (once per id) and acknowledge one command; the acknowledgement."""
        try:
            cmd = parse_command(payload, self.allowed)
        except CommandError as err:
            ack = ack_payload(
                self.topics.device,
                err.command_id,
                err.command,
                False,
                f"refused: {err.reason}",
                nonce=time.monotonic_ns(),
            )
        else:
            seen = self.commands.get(cmd.id)
            if seen is not None:
                ack = seen
            else:
                try:
                    ack = ack_payload(
                        self.topics.device, cmd.id, cmd.command, True, self._run(cmd)
                    )
                except WildcamError as err:
                    ack = ack_payload(
                        self.topics.device, cmd.id, cmd.command, False, f"failed: {err}"
                    )
                self.commands.record(cmd.id, ack)
        self.outbox.put([outbox_item(ack["key"], self.topics.ack, ack)])
        return ack
