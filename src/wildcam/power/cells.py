"""Battery presets for the lifetime model, each constant with its source or an ASSUMPTION.

A preset gives the stored energy, how fast it leaks (self-discharge), how much of it the cells
deliver in the cold (:meth:`BatteryPreset.usable_fraction`, the mode policy's linear
:func:`~wildcam.power.policy.cold_usable_fraction` with the chemistry's own knee and slope),
the depth of discharge the chemistry is used to, and whether and above which temperature it may
be charged.
"""

from __future__ import annotations

from dataclasses import dataclass

from wildcam.errors import ConfigError
from wildcam.power.policy import cold_usable_fraction

__all__ = ["BATTERIES", "BatteryPreset", "battery_preset"]


@dataclass(frozen=True)
class BatteryPreset:
    """A battery: energy, leak, cold behaviour, usable depth and charging limits."""

    name: str
    capacity_wh: float
    self_discharge_per_month: float
    rechargeable: bool
    charge_min_c: float  # no charging below this cell temperature
    cold_start_c: float  # the cold derating starts below this
    cold_loss_per_c: float  # share of the charge lost per degree below it
    cold_floor: float  # never derate below this share
    depth_of_discharge: float  # share of the capacity the chemistry is used to
    source: str

    def __post_init__(self) -> None:
        if (
            self.capacity_wh <= 0
            or not 0.0 <= self.self_discharge_per_month < 1.0
            or not 0.0 < self.depth_of_discharge <= 1.0
        ):
            raise ConfigError(
                f"battery {self.name!r}: capacity > 0, self-discharge in [0, 1) "
                "and depth of discharge in (0, 1] needed"
            )

    @property
    def capacity_j(self) -> float:
        """Nominal stored energy in joules."""
        return self.capacity_wh * 3600.0

    def usable_fraction(self, temperature_c: float) -> float:
        """Share of the stored energy the cells deliver at ``temperature_c``."""
        return cold_usable_fraction(
            temperature_c, self.cold_start_c, self.cold_loss_per_c, self.cold_floor
        )

    def self_discharge_per_s(self) -> float:
        """Share of the stored energy lost per second."""
        return self.self_discharge_per_month / (30.4 * 86400.0)


BATTERIES: dict[str, BatteryPreset] = {
    p.name: p
    for p in (
        BatteryPreset(
            "li18650x7",
            capacity_wh=89.1,
            self_discharge_per_month=0.02,
            rechargeable=True,
            charge_min_c=0.0,
            cold_start_c=10.0,
            cold_loss_per_c=0.01,
            cold_floor=0.5,
            depth_of_discharge=1.0,
            source="7 parallel 18650 cells of 3500 mAh at 3.635 V (LG INR18650 MJ1 datasheet) = "
            "89 Wh (the issue's ~88 Wh); charge only at 0-45 C (same datasheet); "
            "self-discharge 1-2 %/month (Battery University BU-802b), 2 % taken, ASSUMPTION "
            "that a uA-class protection circuit adds little (measure: pack voltage over a "
            "month at rest); cold: ~1 %/C below 10 C, the mode policy's Li-ion derating",
        ),
        BatteryPreset(
            "lithium_aa_x8",
            capacity_wh=36.0,
            self_discharge_per_month=0.001,
            rechargeable=False,
            charge_min_c=float("inf"),
            cold_start_c=0.0,
            cold_loss_per_c=0.005,
            cold_floor=0.7,
            depth_of_discharge=1.0,
            source="8 Li-FeS2 AA cells, ~3000 mAh at 1.5 V under a few hundred mA (Energizer L91 "
            "datasheet: 3500 mAh at low drain) = 36 Wh; primary, never charged; 20-year "
            "shelf life (same) ~0.1 %/month; ASSUMPTION cold loss 0.5 %/C below 0 C (the "
            "datasheet rates -40..60 C; measure: discharge at -20 C)",
        ),
        BatteryPreset(
            "lead_acid_12v7ah",
            capacity_wh=84.0,
            self_discharge_per_month=0.03,
            rechargeable=True,
            charge_min_c=-15.0,
            cold_start_c=20.0,
            cold_loss_per_c=0.008,
            cold_floor=0.5,
            depth_of_discharge=0.5,
            source="12 V 7 Ah at the 20 h rate (Yuasa NP7-12 datasheet) = 84 Wh; self-discharge "
            "~3 %/month at 20 C (same); ASSUMPTION: used to 50 % depth of discharge for "
            "cycle life, capacity -0.8 %/C below 20 C (datasheet temperature curve read "
            "roughly: ~85 % at 0 C); measure: discharge tests at the site's temperatures",
        ),
    )
}


def battery_preset(name: str) -> BatteryPreset:
    """The named preset; :class:`ConfigError` listing the known ones."""
    try:
        return BATTERIES[name]
    except KeyError:
        raise ConfigError(f"unknown battery {name!r}; one of {', '.join(BATTERIES)}") from None
