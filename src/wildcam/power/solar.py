"""Solar harvest for the lifetime model: pvlib's clear sky on a tilted panel, times a seeded
cloudiness, through a charge controller.

The physics stays in pvlib (the standard library for this): ``Location.get_clearsky`` (Ineichen
with the Linke turbidity climatology) gives GHI/DNI/DHI, ``Location.get_solarposition`` the sun,
``irradiance.get_total_irradiance`` the plane-of-array irradiance for the panel's tilt and
azimuth. A panel of ``panel_w`` (rated at 1000 W/m², STC) delivers ``panel_w * POA / 1000`` before
the charge controller's ``controller_efficiency``. Clouds: each day's clear-sky energy is scaled by
a factor drawn from a Beta distribution whose mean is that month's ``clearness`` (the ratio of
measured to clear-sky irradiation; set it from PVGIS or a local station) and whose spread is set
by ``cloud_concentration``. Seeded: the same seed gives the same year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from wildcam.errors import ConfigError

__all__ = [
    "DEFAULT_CLEARNESS_52N",
    "SolarConfig",
    "clearsky_poa_w_m2",
    "cloud_factors",
    "hourly_harvest_w",
]

#: ASSUMPTION: monthly clearness (measured / clear-sky irradiation), January first, for a site at
#: ~52° N in western Europe: ~0.35 in winter to ~0.55 in summer. Measure/replace: PVGIS monthly
#: irradiation for the site divided by pvlib's clear-sky monthly totals (``clearsky_poa_w_m2``).
DEFAULT_CLEARNESS_52N = (0.35, 0.38, 0.42, 0.48, 0.52, 0.55, 0.55, 0.52, 0.48, 0.42, 0.37, 0.33)


@dataclass(frozen=True)
class SolarConfig:
    """A panel at a site, its charge controller and the sky's monthly clearness."""

    latitude: float = 52.0
    longitude: float = 0.0
    altitude_m: float = 50.0
    panel_w: float = 0.0  # rated (STC) watts; 0 = no panel
    tilt_deg: float = 35.0
    azimuth_deg: float = 180.0  # 180 = facing south
    # ASSUMPTION: a small PWM/MPPT controller plus the cell's charge efficiency ~0.8 from panel
    # to stored energy. Measure: the INA sensor's coulombs in against the panel's output.
    controller_efficiency: float = 0.8
    clearness: tuple[float, ...] = DEFAULT_CLEARNESS_52N
    # ASSUMPTION: Beta concentration 4 (day-to-day spread of the cloud factor, sd ~0.2 at mean
    # 0.45). Measure: the daily spread of a local station's irradiation over clear sky.
    cloud_concentration: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0 or not -180.0 <= self.longitude <= 180.0:
            raise ConfigError(
                f"site latitude/longitude out of range: {self.latitude}, {self.longitude}"
            )
        if self.panel_w < 0 or not 0.0 < self.controller_efficiency <= 1.0:
            raise ConfigError("panel_w must be >= 0 and controller_efficiency in (0, 1]")
        if not 0.0 <= self.tilt_deg <= 90.0 or not 0.0 <= self.azimuth_deg <= 360.0:
            raise ConfigError("tilt must be in [0, 90] and azimuth in [0, 360] degrees")
        if len(self.clearness) != 12 or not all(0.0 < c <= 1.0 for c in self.clearness):
            raise ConfigError("clearness needs 12 monthly values in (0, 1]")
        if self.cloud_concentration <= 0:
            raise ConfigError("cloud_concentration must be > 0")


def _hours(start: dt.datetime, days: int) -> object:
    import pandas as pd

    # Mid-hour stamps: the hourly mean irradiance, so a sum over the hours is Wh/m².
    first = pd.Timestamp(start).tz_convert("UTC") + pd.Timedelta(minutes=30)
    return pd.date_range(first, periods=days * 24, freq="1h")


def clearsky_poa_w_m2(cfg: SolarConfig, start: dt.datetime, days: int) -> np.ndarray:
    """Hourly mean clear-sky plane-of-array irradiance (W/m²) from ``start`` (UTC) for ``days``."""
    import pvlib

    if start.tzinfo is None:
        raise ConfigError("solar start must be timezone-aware")
    times = _hours(start, days)
    site = pvlib.location.Location(cfg.latitude, cfg.longitude, tz="UTC", altitude=cfg.altitude_m)
    sky = site.get_clearsky(times, model="ineichen")
    sun = site.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        cfg.tilt_deg,
        cfg.azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        sky["dni"],
        sky["ghi"],
        sky["dhi"],
    )
    return np.nan_to_num(poa["poa_global"].to_numpy(dtype=float), nan=0.0).clip(min=0.0)


def cloud_factors(cfg: SolarConfig, start: dt.datetime, days: int) -> np.ndarray:
    """One seeded cloud factor per day (mean: that month's clearness)."""
    rng = np.random.default_rng(cfg.seed)
    months = [(start + dt.timedelta(days=d)).month for d in range(days)]
    mean = np.array([cfg.clearness[m - 1] for m in months])
    k = cfg.cloud_concentration
    return rng.beta(mean * k, (1.0 - mean).clip(1e-6) * k)


def hourly_harvest_w(cfg: SolarConfig, start: dt.datetime, days: int) -> np.ndarray:
    """Mean power into the battery per hour (W), ``days * 24`` values from ``start``."""
    if cfg.panel_w == 0:
        return np.zeros(days * 24)
    poa = clearsky_poa_w_m2(cfg, start, days)
    clouds = np.repeat(cloud_factors(cfg, start, days), 24)
    return cfg.panel_w * poa / 1000.0 * clouds * cfg.controller_efficiency
