"""uploader: the store-and-forward uploader between the cascade and the gateway.

Subscribes ``detections/events`` (wildcam/DetectionArray) and ``power/state`` (wildcam/PowerState,
latched); every analysed frame goes into the durable queue first (metadata, thumbnail, and the
full frame when ``send_full_frames``), then a background sender posts batches to the gateway when
the policy allows. Publishes ``uploader/status`` (wildcam/UploadStatus), ``energy`` and
``/diagnostics``; applies signed over-the-air updates through the nodes' parameter services.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Empty

from wildcam.graph import DETECTION_EVENTS
from wildcam.msg import DetectionArray, PowerState, UploadStatus
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import EnergyMeter
from wildcam.ros.params import ParameterBinding
from wildcam.ros.qos import EVENTS, LATCHED
from wildcam.ros.remote_params import RosParameterApplier
from wildcam.ros.runner import main_for
from wildcam.upload.config import SIGNED_ONLY, UploaderConfig, with_signed
from wildcam.upload.engine import SenderThread, UploadEngine, make_link, make_transport
from wildcam.upload.items import (
    DeviceStatus,
    FrameDetections,
    detection_infos,
    detection_problem,
    items_for_frame,
)
from wildcam.upload.ota import OtaClient, Scalar, SignedOnlyParameters, load_public_key
from wildcam.upload.policy import PowerFacts
from wildcam.upload.queue import DurableQueue


class Uploader(Node):
    """Queue on arrival, send in the background, report."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("uploader", **kwargs)
        self.health = Health(self)
        self.params = ParameterBinding(self, UploaderConfig, self.on_parameters)
        cfg = self.params.config
        self.meter = EnergyMeter(self, cfg.power_profile)
        self.queue = DurableQueue(cfg.queue_path, int(cfg.quota_mb * 1024 * 1024), cfg.ttl_s)
        if not cfg.tls_verify:
            self.get_logger().warning(
                "tls_verify is off: the gateway's certificate is not checked"
            )
        self.signed = SignedOnlyParameters(
            RosParameterApplier(self),
            self.get_name(),
            SIGNED_ONLY,
            cfg.ota_path / "signed-parameters.json",
            {k: getattr(cfg, k) for k in SIGNED_ONLY},
            self.apply_signed,
        )
        effective = with_signed(cfg, self.signed.values)  # the live config: engine.config
        transport = make_transport(effective)
        self.engine = UploadEngine(
            self.queue,
            transport,
            make_link(effective, transport),
            effective,
            self.charge_transfer,
            policy_clock=self.now_s,
        )
        self.ota: OtaClient | None = None
        periodic = []
        if cfg.ota_public_key:
            self.ota = OtaClient(
                transport,
                load_public_key(Path(cfg.ota_public_key).expanduser()),
                cfg.ota_path,
                self.signed,
            )
            periodic.append((cfg.ota_period_s, self.ota_sync))
        self.pub = self.create_publisher(UploadStatus, "uploader/status", 10)
        self.create_subscription(
            DetectionArray,
            DETECTION_EVENTS,
            self.health.guard("detections")(self.detections_callback),
            EVENTS,
        )
        self.create_subscription(
            PowerState, "power/state", self.health.guard("power")(self.power_callback), LATCHED
        )
        # "check for updates" from the fleet (mqtt_bridge): the OTA check runs at the next turn
        self.create_subscription(Empty, "uploader/check_updates", self.check_updates_callback, 10)
        self.create_subscription(
            DiagnosticArray,
            "/diagnostics",
            self.health.guard("diagnostics")(self.diagnostics_callback),
            10,
        )
        self.device_status = DeviceStatus()  # sent with each frame (review page)
        self.create_timer(1.0, self.health.guard("status")(self.status_callback))
        self.sender = SenderThread(self.engine, periodic).start()

    def now_s(self) -> float:
        """The node's clock in seconds (simulated time when use_sim_time)."""
        return self.get_clock().now().nanoseconds * 1e-9

    def charge_transfer(self, nbytes: int) -> float:
        """Radio energy of ``nbytes`` on the upload link (through the energy meter)."""
        return self.meter.add_transfer("upload", nbytes).joules

    def apply_signed(self, values: dict[str, Scalar]) -> None:
        """A signed update sets read-only transport values (see :class:`SignedOnlyParameters`)."""
        self.use(with_signed(self.params.config, values))

    def on_parameters(self, old: UploaderConfig, new: UploaderConfig) -> None:
        """Policy, quota, TTL and batching apply at the next step."""
        self.use(with_signed(new, self.signed.values))
        if new.power_profile != old.power_profile:
            self.meter.set_profile(new.power_profile)

    def use(self, effective: UploaderConfig) -> None:
        """Make ``effective`` the live config (a new gateway or link: a new transport)."""
        previous = self.engine.use(effective)
        if previous is not None:
            if self.ota is not None:
                self.ota.transport = self.engine.transport
            previous.close()
        self.sender.wake()

    def ota_sync(self) -> None:
        """Fetch and apply pending updates (runs on the sender thread)."""
        assert self.ota is not None
        for line in self.ota.sync():
            self.get_logger().info(f"update {line}")
            if line.startswith("refused"):
                self.health.error("update", line)
            else:
                self.health.count("updates_applied")
        self.health.values["ota_last"] = self.ota.last_result

    def detections_callback(self, msg: DetectionArray) -> None:
        """Store the frame's items durably, then let the sender know."""
        frame = FrameDetections(
            stamp_ns=Time.from_msg(msg.header.stamp).nanoseconds,
            frame_id=msg.header.frame_id,
            event_id=msg.event_id,
            detections=detection_infos(msg.detections),
            thumbnail=bytes(msg.thumbnail.data),
            full_frame=bytes(msg.full_frame.data),
            extra={
                "device": self.params.config.device(),
                "status": dict(self.device_status.values),
            },
        )
        for det in frame.detections:
            problem = detection_problem(det)
            if problem:
                self.health.error("detection_refused", f"frame {frame.stamp_ns}: {problem}")
        result = self.queue.put(items_for_frame(frame, self.params.config.send_full_frames))
        self.health.count("frames")
        self.health.count("items_stored", len(result.stored))
        if result.refused:
            self.health.count("refused_quota", len(result.refused))
        for key, reason in result.invalid.items():
            self.health.error("item_invalid", f"{key}: {reason} (dead-lettered)")
        self.sender.wake()

    def check_updates_callback(self, msg: Empty) -> None:
        """Check for updates at the sender's next turn."""
        self.sender.periodic_now()

    def power_callback(self, msg: PowerState) -> None:
        """The power manager's view: battery and charging."""
        battery = float(msg.battery_percentage)
        self.engine.power = PowerFacts(
            battery if math.isfinite(battery) else math.nan, bool(msg.charging)
        )
        self.device_status.power(battery, msg.mode_name, msg.device_state, bool(msg.charging))

    def diagnostics_callback(self, msg: DiagnosticArray) -> None:
        """The power manager's projected battery life, for the device status."""
        self.device_status.diagnostics((kv.key, kv.value) for s in msg.status for kv in s.values)

    def status_callback(self) -> None:
        """Publish uploader/status and refresh the diagnostics values."""
        stats = self.queue.stats()
        self.device_status.values["queue_depth"] = stats.depth
        c = self.engine.counters
        msg = UploadStatus(
            queue_depth=stats.depth,
            queue_depth_by_priority=list(stats.depth_by_priority),
            queue_bytes=stats.bytes,
            items_sent=c.items_sent,
            bytes_sent=c.bytes_sent,
            retries=c.retries,
            evictions=stats.counters["evicted"] + stats.counters["refused"],
            joules_per_mb=c.joules_per_mb,
            link_up=c.link_up,
            last_error=c.last_error,
            dead_lettered=stats.counters["dead_lettered"],
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(msg)
        dead = next((f"{d.key}: {d.reason}" for d in self.queue.dead_letters(1)), "")
        self.health.values.update(self.engine.report(stats, dead))

    def destroy_node(self) -> None:
        """Stop the sender, close the queue (also after a start that failed half way: rclpy
        destroys the node at shutdown)."""
        if hasattr(self, "sender"):
            self.sender.stop()
        if hasattr(self, "engine"):
            self.engine.transport.close()
        if hasattr(self, "queue"):
            self.queue.close()
        super().destroy_node()


def main() -> int:
    """``ros2 run wildcam uploader``."""
    return main_for(Uploader)


if __name__ == "__main__":
    raise SystemExit(main())
