"""EnergyMeter: every node's energy accounting, published as ``wildcam/EnergyReport``.

::

    meter = EnergyMeter(node, profile_name)   # reports on `energy` every 10 s of the node clock
    with meter.measure("cascade_stage1"):     # thread CPU time of the block -> joules
        ...
    meter.add_transfer("upload", nbytes)      # radio energy of the profile's upload link
    meter.set_profile(name)                   # live change of the node's `power_profile` param

The period runs on the node's clock, so with ``use_sim_time`` a report covers 10 simulated
seconds. The ledger and the profile model are in :mod:`wildcam.power.energy`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from wildcam.msg import EnergyReport
from wildcam.msg import StageEnergy as StageEnergyMsg
from wildcam.power.energy import EnergyLedger, StageEnergy
from wildcam.power.profile import load_profile

__all__ = ["ENERGY_QOS", "EnergyMeter", "report_msg"]

REPORT_PERIOD_S = 10.0
# Reports are few and each one is energy the power manager must not miss.
ENERGY_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=20, reliability=ReliabilityPolicy.RELIABLE
)


def report_msg(
    node_name: str, profile: str, period_s: float, stages: list[StageEnergy]
) -> EnergyReport:
    """The ``EnergyReport`` for one period (header stamp left to the caller)."""
    msg = EnergyReport(node=node_name, profile=profile, period_s=float(period_s))
    msg.stages = [
        StageEnergyMsg(
            stage=s.stage,
            count=s.count,
            cpu_seconds=s.cpu_seconds,
            device_seconds=s.device_seconds,
            joules=s.joules,
        )
        for s in stages
    ]
    return msg


class EnergyMeter:
    """Measures a node's operations and publishes one report per period."""

    def __init__(self, node: Node, profile_name: str, period_s: float = REPORT_PERIOD_S) -> None:
        self._node = node
        self.ledger = EnergyLedger(load_profile(profile_name))
        self._pub = node.create_publisher(EnergyReport, "energy", ENERGY_QOS)
        self._clock = node.get_clock()
        self._last = self._clock.now()
        self._period_s = period_s
        self._timer = node.create_timer(period_s, self.publish)

    @property
    def profile_name(self) -> str:
        """The current profile's name."""
        return self.ledger.profile.name

    @contextmanager
    def measure(self, stage: str, count: int = 1) -> Iterator[None]:
        """Charge the calling thread's CPU time inside the block to ``stage`` (``count`` ops)."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.ledger.add_cpu(stage, time.thread_time() - start, count)

    def add_transfer(
        self, stage: str, nbytes: int, link: str | None = None, duration_s: float = 0.0
    ) -> StageEnergy:
        """Charge ``nbytes`` sent on ``link`` (default: the profile's upload link)."""
        now = self._clock.now().nanoseconds * 1e-9
        return self.ledger.add_transfer(stage, nbytes, now, link, duration_s)

    def set_profile(self, name: str) -> None:
        """Switch profile; what was measured so far is reported under the old one first."""
        profile = load_profile(name)  # ConfigError before anything changes
        if profile.name != self.profile_name:
            self.publish()
            self.ledger.set_profile(profile)

    def publish(self) -> None:
        """Publish the report of the period that ends now."""
        now = self._clock.now()
        if self._last.nanoseconds == 0:  # sim time: the period began before the first /clock
            period_s = self._period_s
        else:
            period_s = max(0.0, (now - self._last).nanoseconds * 1e-9)
        self._last = now
        msg = report_msg(self._node.get_name(), self.profile_name, period_s, self.ledger.take())
        msg.header.stamp = now.to_msg()
        self._pub.publish(msg)
