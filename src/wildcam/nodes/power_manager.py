"""power_manager: picks the operating mode and the device state (warm / watch / sleep) and pushes
their parameters to the other nodes.

Subscribes ``power/battery``, ``power/temperature``, ``energy``, ``camera/trigger`` (a PIR held
high keeps the device warm), ``detections/events`` (an animal keeps it warm) and
``uploader/status`` (queued uploads with the link up keep the device from sleep); publishes
``power/state`` (wildcam/PowerState, latched: mode, device state and the reason of every change),
``power/energy_summary`` (diagnostic_msgs/DiagnosticStatus: energy by stage, node and device
state, projected battery life, budget spent, measured against modelled power; also in
``/diagnostics`` as ``/power_manager: energy``) and ``/diagnostics``. The per-mode and
per-state parameter sets come from ``config/power_policy.yaml``, applied through each node's
parameter service, checked, retried, verified and pushed again when a node (re)appears. Sleep
deactivates the managed camera through ``change_state`` and leaving sleep activates it
(:mod:`wildcam.ros.lifecycle`); the sleep command runs once the camera answered (or after
``sleep_wait_s``), and not at all when the device left sleep meanwhile
(:mod:`wildcam.power.sleep`). A value set by hand on a managed parameter (seen on
``/parameter_events``) is a manual override, kept and listed in ``/diagnostics`` until released
with ``~/clear_overrides`` (wildcam/srv/ClearOverrides). Entering sleep arms the RTC wake alarm
(``rtc_backend``) and calls its sleep (a halt on a real board). Mode, state and the lifetime
budget spent are saved to ``state_file`` and resumed at start.
"""

from __future__ import annotations

import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterEvent
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import parameter_value_to_python
from rclpy.qos import qos_profile_parameter_events
from sensor_msgs.msg import BatteryState, Temperature

from wildcam.errors import WildcamError
from wildcam.graph import DETECTION_EVENTS
from wildcam.msg import DetectionArray, EnergyReport, PowerState, Trigger, UploadStatus
from wildcam.power.calls import own_node
from wildcam.power.durable import load_state, save_state
from wildcam.power.manager import ManagerConfig, ManagerCore
from wildcam.power.policy import load_policy
from wildcam.power.sleep import sleep_now
from wildcam.power.wake import RtcConfig, make_wake_source
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import ENERGY_QOS
from wildcam.ros.params import ParameterBinding
from wildcam.ros.plan_push import PlanPusher
from wildcam.ros.power import (
    charging_of,
    checked_battery,
    checked_temperature,
    power_state,
    report_stages,
    stored_wh,
)
from wildcam.ros.qos import EVENTS, LATCHED
from wildcam.ros.runner import main_for
from wildcam.srv import ClearOverrides

_PUSH_PERIOD_S = 0.25  # wall: graph watch, parameter calls, timeouts


class PowerManager(Node):
    """Policy on the node clock; parameter pushes on the wall clock."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("power_manager", **kwargs)
        self.health = Health(self)
        self.params = ParameterBinding(self, ManagerConfig, self.on_parameters)
        cfg = self.params.config
        saved, note = load_state(cfg.state_path())
        self.get_logger().info(
            note + (f": mode {saved.mode}, device state {saved.device_state}" if saved else "")
        )
        self.core = ManagerCore(cfg, load_policy(cfg.policy_file), self._now(), saved=saved)
        self.rtc = make_wake_source(
            RtcConfig(backend=cfg.rtc_backend, sleep_command=cfg.sleep_command), self._now
        )
        self.pusher = PlanPusher(self, self.core, self.health)
        self.pub_state = self.create_publisher(PowerState, "power/state", LATCHED)
        self.pub_summary = self.create_publisher(DiagnosticStatus, "power/energy_summary", 10)
        for msg_type, topic, name, callback, qos in (
            (BatteryState, "power/battery", "battery", self.battery_callback, 10),
            (Temperature, "power/temperature", "temperature", self.temperature_callback, 10),
            (EnergyReport, "energy", "energy", self.energy_callback, ENERGY_QOS),
            (Trigger, "camera/trigger", "trigger", self.trigger_callback, 10),
            (DetectionArray, DETECTION_EVENTS, "animal", self.animal_callback, EVENTS),
            (UploadStatus, "uploader/status", "upload", self.upload_callback, 10),
            (
                ParameterEvent,
                "/parameter_events",
                "parameter_event",
                self.parameter_event_callback,
                qos_profile_parameter_events,
            ),
        ):
            self.create_subscription(msg_type, topic, self.health.guard(name)(callback), qos)
        self.update_timer = self.create_timer(
            cfg.update_period_s, self.health.guard("update")(self.update_callback)
        )
        self.summary_timer = self.create_timer(
            cfg.summary_period_s, self.health.guard("summary")(self.summary_callback)
        )
        self.create_timer(
            _PUSH_PERIOD_S,
            self.health.guard("push")(self.push_callback),
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self.create_service(ClearOverrides, "~/clear_overrides", self.clear_overrides_callback)
        self.publish_state()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_parameters(self, old: ManagerConfig, new: ManagerConfig) -> None:
        """A manual override takes effect at once; periods and state settings change live."""
        self.core.reconfigure(new, self._now())
        for timer, period in (
            (self.update_timer, new.update_period_s),
            (self.summary_timer, new.summary_period_s),
        ):
            timer.timer_period_ns = int(period * 1e9)
            timer.reset()
        if (new.override_mode, new.override_state) != (old.override_mode, old.override_state):
            self.update_callback()
            self.pusher.push()

    def battery_callback(self, msg: BatteryState) -> None:
        """Latest battery (NaN fields are unknown; implausible ones are made unknown)."""
        for problem in checked_battery(msg):
            self.health.error("battery_input", problem)
        self.core.on_battery(
            self._now(),
            msg.percentage,
            charging_of(msg),
            msg.temperature,
            stored_wh(msg),
            msg.voltage,
            msg.current,
        )

    def temperature_callback(self, msg: Temperature) -> None:
        """Latest SoC/board temperature (an implausible one is unknown)."""
        celsius, problem = checked_temperature(msg.temperature)
        if problem:
            self.health.error("temperature_input", problem)
        self.core.on_temperature(self._now(), celsius)

    def trigger_callback(self, msg: Trigger) -> None:
        """A PIR edge: the state policy goes warm while it is high (unless asleep and unable to
        wake on it)."""
        heard = self.core.on_trigger(self._now(), msg.active)
        self.health.count(
            ("triggers" if msg.active else "releases") if heard else "triggers_lost_asleep"
        )

    def animal_callback(self, msg: DetectionArray) -> None:
        """The cascade decided a frame "animal": the device stays warm."""
        self.core.on_animal(self._now())

    def upload_callback(self, msg: UploadStatus) -> None:
        """Queued uploads with the link up keep the device from sleep."""
        self.core.on_upload_status(self._now(), msg.queue_depth, msg.link_up)

    def energy_callback(self, msg: EnergyReport) -> None:
        """One node's energy report."""
        self.core.on_energy(self._now(), msg.node, msg.period_s, report_stages(msg))

    def update_callback(self) -> None:
        """Run the policies; on a change publish and save the state, and sleep if asked to."""
        self.rtc.poll()  # a simulated sleep ends when its alarm time has come
        decision, state = self.core.step(self._now(), time.monotonic())
        if decision.changed:
            self.get_logger().info(f"mode {decision.mode}: {decision.reason}")
        if state.changed:
            self.get_logger().info(f"device state {state.state}: {state.reason}")
            self.health.values["sleep_command"] = self.core.sleep.status()
        if decision.changed or state.changed:
            self.publish_state()
            self.save()

    def push_callback(self) -> None:
        """Push the plans; sleep once the managed nodes answered their deactivation (or the
        wait for them ran out)."""
        self.pusher.push()
        due = self.core.sleep.due(self.core.lifecycle, time.monotonic())
        if due is None:
            return
        if due.problem():
            self.health.error("sleep", due.problem())
        self.health.values["sleep_command"] = "ran"
        try:
            self.health.values["rtc"] = sleep_now(self.rtc, due.state, self.save)
        except WildcamError as err:
            self.health.error("sleep", f"cannot sleep: {err}")

    def save(self) -> None:
        """Write mode, state and budget to the state file (atomic)."""
        try:
            save_state(self.core.config.state_path(), self.core.durable(self._now()))
        except OSError as err:
            self.health.error("state_file", str(err))

    def publish_state(self) -> None:
        """Publish the current mode and device state (latched)."""
        policy, state = self.core.policy, self.core.state
        inputs = self.core.inputs(self._now())
        self.pub_state.publish(power_state(policy, state, inputs, self.get_clock().now().to_msg()))
        self.health.values.update(self.core.status_values())

    def parameter_event_callback(self, msg: ParameterEvent) -> None:
        """A managed parameter changed to a value this node did not push: a manual override."""
        node = own_node(msg.node, self.get_namespace())
        if node is None:
            return
        changes = [(p.name, parameter_value_to_python(p.value)) for p in msg.changed_parameters]
        for name, value in self.core.hand_set(node, changes):
            self.get_logger().warning(
                f"manual override: {node}.{name}={value!r} is kept until cleared "
                f"(service {self.get_fully_qualified_name()}/clear_overrides)"
            )
        self._report_overrides()

    def clear_overrides_callback(
        self, request: ClearOverrides.Request, response: ClearOverrides.Response
    ) -> ClearOverrides.Response:
        """Release manual overrides: the nodes get the policy's values again."""
        response.cleared = self.core.plan.clear(time.monotonic(), request.node, request.parameter)
        self.get_logger().info(f"manual overrides cleared: {response.cleared or 'none held'}")
        self._report_overrides()
        return response

    def _report_overrides(self) -> None:
        values = self.health.values
        for key in [k for k in values if k.startswith("manual_override.")]:
            del values[key]
        values.update(self.core.override_values())

    def summary_callback(self) -> None:
        """Publish the energy aggregate and the projected battery life."""
        pairs = self.core.summary_pairs(self._now())
        self.save()
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK,
            name=f"{self.get_fully_qualified_name()}: energy",
            message=self.core.policy.mode,
            hardware_id=self.health.hardware_id,
            values=[KeyValue(key=k, value=v) for k, v in pairs],
        )
        self.pub_summary.publish(status)
        self.health.extra["energy"] = status  # in /diagnostics too, beside the node's status


def main() -> int:
    """``ros2 run wildcam power_manager``."""
    return main_for(PowerManager)


if __name__ == "__main__":
    raise SystemExit(main())
