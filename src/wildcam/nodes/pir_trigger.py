"""pir_trigger: publishes each PIR edge as ``camera/trigger`` (wildcam/Trigger), stamped with the
edge's time on the node clock, ``source`` PIR and ``active`` (false: the pulse ended).

The line is waited on in a reader thread (libgpiod's ``wait_edge_events`` polls the request's
file descriptor), so the CPU sleeps between edges; rising edges within ``hold_off_s`` of the last
published one are dropped. Started on request (``wildcam bringup --with pir_trigger``), so a
host without a PIR never starts it. Where the line cannot be had (no such chip, line busy) the
node stays up, reports itself degraded on ``/diagnostics`` with the reason and tries again
every few seconds: a missing sensor never takes the graph down.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.node import Node
from rclpy.time import Time

from wildcam.errors import DeviceError
from wildcam.msg import Trigger
from wildcam.power.wake import HoldOff, PirConfig, WakeSource, make_wake_source
from wildcam.ros.diagnostics import Health
from wildcam.ros.params import ParameterBinding
from wildcam.ros.runner import main_for

_RETRY_S = (5.0, 60.0)  # wall seconds before the next attempt after a failure: first, most


class PirTrigger(Node):
    """One PIR backend read by a thread; edges become triggers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pir_trigger", **kwargs)
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self.source: WakeSource | None = None  # destroy_node may run after a failed start
        self.health = Health(self)
        self.params = ParameterBinding(self, PirConfig, self.on_parameters)
        cfg = self.params.config
        self.hold_off = HoldOff(cfg.hold_off_s)
        self.pub = self.create_publisher(Trigger, "camera/trigger", 10)
        self.source = make_wake_source(cfg, self._now)
        self._reader = threading.Thread(target=self._read_loop, name="pir", daemon=True)
        self._reader.start()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_parameters(self, old: PirConfig, new: PirConfig) -> None:
        """The hold-off changes live."""
        self.hold_off.hold_off_s = new.hold_off_s

    def _read_loop(self) -> None:
        arm = self.health.guard("arm")(self.arm_source)
        publish = self.health.guard("edges")(self.publish_edges)
        armed, delay = False, _RETRY_S[0]
        while not self._stop.is_set():
            armed = armed or bool(arm())
            if armed and publish():
                delay = _RETRY_S[0]
            else:  # failures are logged and counted by the guards
                self._stop.wait(delay)
                delay = min(_RETRY_S[1], 2 * delay)

    def arm_source(self) -> bool:
        """Request the PIR line; while it cannot be had the node is degraded."""
        assert self.source is not None
        try:
            self.source.arm()
        except DeviceError as err:
            self.health.degraded(f"no PIR: {err}")
            raise
        self.health.degraded("")
        return True

    def publish_edges(self) -> bool:
        """Wait for edges (at most ``wait_s``) and publish those the hold-off keeps."""
        assert self.source is not None
        for event in self.source.poll(self.params.config.wait_s):
            if not self.hold_off.accept(event):
                self.health.count("held_off")
                continue
            msg = Trigger(source=Trigger.SOURCE_PIR, active=event.active)
            msg.header.stamp = Time(nanoseconds=round(event.t_s * 1e9)).to_msg()
            msg.header.frame_id = "pir"
            self.pub.publish(msg)
            self.health.count("triggers" if event.active else "releases")
        return True

    def destroy_node(self) -> None:
        """Stop the reader, then free the line."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=self.params.config.wait_s + 2.0)
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def main() -> int:
    """``ros2 run wildcam pir_trigger``."""
    return main_for(PirTrigger)


if __name__ == "__main__":
    raise SystemExit(main())
