"""The energy ledger: CPU seconds, frames and bytes per stage, turned into joules by a profile.

A node keeps one :class:`EnergyLedger`; each operation adds its measured host CPU time (or its
bytes on the radio) under a stage name, and every reporting period :meth:`EnergyLedger.take`
returns one :class:`StageEnergy` per stage and starts afresh. Nothing here knows ROS.

Stage names (shared by every node): :data:`STAGES`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from wildcam.power.profile import PowerProfile

__all__ = ["STAGES", "EnergyLedger", "StageEnergy"]

STAGES = (
    "capture",
    "motion",
    "cascade_stage1",
    "cascade_stage2",
    "cascade_stage3",
    "encode",
    "upload",
)


@dataclass(frozen=True)
class StageEnergy:
    """Time and energy of one stage over a period (the fields of ``wildcam/StageEnergy``)."""

    stage: str
    count: int = 0
    cpu_seconds: float = 0.0
    device_seconds: float = 0.0
    joules: float = 0.0
    nbytes: int = 0

    def __add__(self, other: StageEnergy) -> StageEnergy:
        return replace(
            self,
            count=self.count + other.count,
            cpu_seconds=self.cpu_seconds + other.cpu_seconds,
            device_seconds=self.device_seconds + other.device_seconds,
            joules=self.joules + other.joules,
            nbytes=self.nbytes + other.nbytes,
        )


class EnergyLedger:
    """Accumulates per-stage energy under one profile; thread-safe.

    Radio tails: a transfer that starts while the previous one's tail is still running only pays
    the part of the tail it extends (``now_s`` is any monotonic clock in seconds).
    """

    def __init__(self, profile: PowerProfile) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, StageEnergy] = {}
        self._tail_until: dict[str, float] = {}
        self.profile = profile

    def set_profile(self, profile: PowerProfile) -> None:
        """Use ``profile`` for what is added from now on."""
        with self._lock:
            self.profile = profile

    def _add(self, item: StageEnergy) -> None:
        with self._lock:
            old = self._stages.get(item.stage)
            self._stages[item.stage] = item if old is None else old + item

    def add_cpu(self, stage: str, cpu_seconds: float, count: int = 1) -> StageEnergy:
        """``count`` operations of ``stage`` took ``cpu_seconds`` of host CPU; return their cost.

        A ``capture`` operation also pays the profile's per-frame camera energy.
        """
        p = self.profile
        cpu_seconds = max(0.0, cpu_seconds)
        joules = p.cpu_joules(cpu_seconds)
        if stage == "capture":
            joules += count * p.capture_j_per_frame
        item = StageEnergy(stage, count, cpu_seconds, cpu_seconds * p.slowdown, joules)
        self._add(item)
        return item

    def add_transfer(
        self,
        stage: str,
        nbytes: int,
        now_s: float,
        link: str | None = None,
        duration_s: float = 0.0,
    ) -> StageEnergy:
        """``nbytes`` went out on ``link`` (default: the profile's upload link) at ``now_s``."""
        p = self.profile
        spec = p.link(link)
        key = link or p.upload_link
        end = now_s + max(0.0, duration_s)
        with self._lock:
            tail_until = self._tail_until.get(key, float("-inf"))
            self._tail_until[key] = end + spec.tail_s
        # The tail is paid in advance; a transfer inside it pays only the extension.
        tail_j = spec.tail_w * min(spec.tail_s, max(0.0, end + spec.tail_s - max(tail_until, end)))
        joules = max(0, nbytes) / 1e6 * spec.j_per_mb + tail_j
        item = StageEnergy(stage, 1, 0.0, 0.0, joules, max(0, nbytes))
        self._add(item)
        return item

    def take(self) -> list[StageEnergy]:
        """The stages accumulated since the last call (sorted by name); the ledger is emptied."""
        with self._lock:
            items, self._stages = self._stages, {}
        return [items[k] for k in sorted(items)]
