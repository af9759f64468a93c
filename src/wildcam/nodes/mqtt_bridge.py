"""mqtt_bridge: the trap on the fleet's MQTT broker (retained status, detection events, commands
with acknowledgements, Home Assistant discovery, a last will).

Subscribes ``power/state`` (mode, device state, battery), ``uploader/status`` (queue depth),
``power/energy_summary`` (energy, average power, projected battery life), ``/diagnostics`` (the
uploader's last update result) and ``detections/events``;
publishes ``uploader/check_updates`` for the "check for updates" command and ``/diagnostics``.
Status, events and acknowledgements go through a durable outbox (:mod:`wildcam.fleet.link`);
commands set parameters through the nodes' parameter services. The protocol is
:mod:`wildcam.fleet.protocol`, the logic :mod:`wildcam.fleet.bridge`. Started on request
(``wildcam bringup --with mqtt_bridge``).
"""

from __future__ import annotations

import threading
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.client import Client
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Empty

from wildcam import __version__
from wildcam.errors import WildcamError
from wildcam.fleet.bridge import BridgeCore
from wildcam.fleet.commands import CommandLog
from wildcam.fleet.config import BridgeConfig
from wildcam.fleet.link import MqttLink, link_settings, link_values
from wildcam.fleet.protocol import Scalar, Topics, detection_dicts, parse_allow_list
from wildcam.graph import DETECTION_EVENTS
from wildcam.msg import DetectionArray, PowerState, UploadStatus
from wildcam.ros.diagnostics import Health
from wildcam.ros.params import ParameterBinding
from wildcam.ros.qos import EVENTS, LATCHED
from wildcam.ros.remote_params import RosParameterApplier
from wildcam.ros.runner import main_for
from wildcam.srv import ClearOverrides
from wildcam.upload.items import detection_infos
from wildcam.upload.queue import DurableQueue


class MqttBridge(Node):
    """Device facts to the outbox, the outbox to the broker, commands to parameters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("mqtt_bridge", **kwargs)
        self.link: MqttLink | None = None
        self.health = Health(self)
        self.params = ParameterBinding(self, BridgeConfig, self.on_parameters)
        cfg = self.params.config
        self.outbox = DurableQueue(
            cfg.outbox_path, int(cfg.outbox_quota_mb * 1024 * 1024), cfg.outbox_ttl_s
        )
        self.commands = CommandLog(cfg.outbox_path / "commands.db")
        self.topics = Topics(cfg.topic_prefix, cfg.device)
        self.applier = RosParameterApplier(self)
        self.check_pub = self.create_publisher(Empty, "uploader/check_updates", 10)
        self.clear_client: Client = self.create_client(
            ClearOverrides, "power_manager/clear_overrides"
        )
        self.core = BridgeCore(
            self.topics,
            self.outbox,
            self.commands,
            self,
            parse_allow_list(cfg.allowed_params),
            self.now_s,
            cfg.thumbnail_max_bytes,
        )
        self.link = MqttLink(
            link_settings(cfg, self.topics, __version__),
            self.outbox,
            self.health.guard("command")(self.core.handle_command),
        ).start()
        self.create_subscription(
            PowerState, "power/state", self.health.guard("power")(self.power_callback), LATCHED
        )
        self.create_subscription(
            UploadStatus, "uploader/status", self.health.guard("upload")(self.upload_callback), 10
        )
        self.create_subscription(
            DiagnosticStatus,
            "power/energy_summary",
            self.health.guard("energy")(self.summary_callback),
            10,
        )
        self.create_subscription(
            DiagnosticArray,
            "/diagnostics",
            self.health.guard("diagnostics")(self.diagnostics_callback),
            10,
        )
        self.create_subscription(
            DetectionArray,
            DETECTION_EVENTS,
            self.health.guard("detections")(self.detections_callback),
            EVENTS,
        )
        self.status_timer = self.create_timer(
            cfg.status_period_s, self.health.guard("status")(self.status_callback)
        )
        self.create_timer(1.0, self.health.guard("link")(self.link_callback))

    def now_s(self) -> float:
        """The node's clock in seconds."""
        return self.get_clock().now().nanoseconds * 1e-9

    def on_parameters(self, old: BridgeConfig, new: BridgeConfig) -> None:
        """Status period, thumbnail limit, outbox quota and TTL, backoff change live."""
        self.core.thumbnail_max_bytes = new.thumbnail_max_bytes
        self.outbox.quota_bytes = int(new.outbox_quota_mb * 1024 * 1024)
        self.outbox.ttl_s = new.outbox_ttl_s
        if self.link is not None:
            self.link.set_backoff(new.backoff_base_s, new.backoff_max_s)
        if new.status_period_s != old.status_period_s:
            self.status_timer.timer_period_ns = int(new.status_period_s * 1e9)
            self.status_timer.reset()

    # -- Actions (called on the link's thread) ------------------------------------------------

    def set_params(self, node: str, values: dict[str, Scalar]) -> None:
        """Set parameters of ``node`` (UpdateError with its reason)."""
        self.applier.set(node, values)

    def clear_overrides(self, node: str, parameter: str) -> list[str]:
        """Release the power manager's manual overrides (WildcamError when it does not answer)."""
        timeout_s = self.applier.timeout_s
        if not self.clear_client.wait_for_service(timeout_sec=timeout_s):
            raise WildcamError("the power manager does not answer clear_overrides")
        done = threading.Event()
        request = ClearOverrides.Request(node=node, parameter=parameter)
        future = self.clear_client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        response = future.result() if done.wait(timeout_s) else None
        if response is None:
            raise WildcamError(f"clear_overrides: no answer within {timeout_s} s")
        return list(response.cleared)

    def check_updates(self) -> str:
        """Ask the uploader to look for updates now (WildcamError when it cannot)."""
        if self.check_pub.get_subscription_count() == 0:
            raise WildcamError("no uploader listens on uploader/check_updates")
        if not self.applier.get("uploader", ["ota_public_key"])["ota_public_key"]:
            raise WildcamError("over-the-air updates are off (uploader.ota_public_key is empty)")
        self.check_pub.publish(Empty())
        return "the uploader checks for updates now (the result follows in the status)"

    # -- the device's topics -----------------------------------------------------------------

    def power_callback(self, msg: PowerState) -> None:
        """Mode, device state, battery, charging."""
        self.core.facts.power(
            float(msg.battery_percentage), msg.mode_name, msg.device_state, bool(msg.charging)
        )

    def upload_callback(self, msg: UploadStatus) -> None:
        """Queue depth."""
        self.core.facts.queue_depth = int(msg.queue_depth)

    def summary_callback(self, msg: DiagnosticStatus) -> None:
        """Energy, average power and projected battery life from the power manager."""
        self.core.facts.summary((kv.key, kv.value) for kv in msg.values)

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        """The uploader's last over-the-air result."""
        self.core.facts.diagnostics((kv.key, kv.value) for s in msg.status for kv in s.values)

    def detections_callback(self, msg: DetectionArray) -> None:
        """One detection event per analysed frame with detections."""
        if not msg.detections:
            return
        stamp_ns = Time.from_msg(msg.header.stamp).nanoseconds
        self.core.queue_event(
            f"{stamp_ns}-{msg.event_id}",
            stamp_ns * 1e-9,
            int(msg.event_id),
            detection_dicts(detection_infos(msg.detections)),
            bytes(msg.thumbnail.data),
        )
        self.health.count("events")

    def status_callback(self) -> None:
        """The periodic status."""
        self.core.queue_status()

    def link_callback(self) -> None:
        """Link state and outbox depth on /diagnostics."""
        assert self.link is not None
        c = self.link.counters
        self.health.values.update(link_values(c, self.outbox.stats()))
        self.health.degraded("" if c.connected else f"broker not connected: {c.last_error}")

    def destroy_node(self) -> None:
        """Stop the link (announcing offline), close the outbox and the command log."""
        if self.link is not None:
            self.link.stop()
        if hasattr(self, "outbox"):
            self.outbox.close()
        if hasattr(self, "commands"):
            self.commands.close()
        super().destroy_node()


def main() -> int:
    """``ros2 run wildcam mqtt_bridge``."""
    return main_for(MqttBridge)


if __name__ == "__main__":
    raise SystemExit(main())
