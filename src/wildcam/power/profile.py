"""Device power profiles: the constants that turn measured CPU time and bytes into joules.

A profile lives in ``config/power_profiles/<name>.yaml`` (constants with their sources in
comments) and is loaded into a frozen :class:`PowerProfile`. The model is deliberately simple:

* the board draws ``idle_w`` whatever happens (counted once per device, by the power manager);
* a CPU second measured on this host is ``slowdown`` seconds of one busy core on the device,
  which costs ``active_core_w`` above idle;
* a captured frame costs ``capture_j_per_frame`` (camera module and ISP: a named assumption);
* a transfer costs ``j_per_mb`` of its link plus the radio's tail (``tail_s`` at ``tail_w``)
  after the last byte.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wildcam.errors import ConfigError
from wildcam.params import param
from wildcam.rosenv import config_dir

__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "LinkProfile", "PowerProfile", "check_profile",
           "load_profile", "power_profile_param", "profile_dir", "profile_names"]

DEFAULT_PROFILE = "rpi4b"
_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class LinkProfile:
    """A radio link: energy per megabyte sent and the tail the radio stays powered after it."""

    j_per_mb: float
    tail_s: float = 0.0
    tail_w: float = 0.0

    @property
    def tail_j(self) -> float:
        """Energy of one full tail."""
        return self.tail_s * self.tail_w


@dataclass(frozen=True)
class PowerProfile:
    """One device's power constants (see the module docstring for the model)."""

    name: str
    idle_w: float
    active_core_w: float
    slowdown: float
    capture_j_per_frame: float
    links: Mapping[str, LinkProfile]
    upload_link: str
    cores: int = 4
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("idle_w", "active_core_w", "slowdown", "capture_j_per_frame"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"power profile {self.name!r}: {name} must be a number >= 0, "
                                  f"got {value!r}")
        if self.slowdown <= 0 or self.cores < 1:
            raise ConfigError(f"power profile {self.name!r}: slowdown > 0 and cores >= 1 needed")
        if self.upload_link not in self.links:
            raise ConfigError(f"power profile {self.name!r}: upload_link {self.upload_link!r} "
                              f"is not one of its links {sorted(self.links)}")

    def cpu_joules(self, cpu_seconds: float) -> float:
        """Energy above idle of ``cpu_seconds`` of host CPU time run on the device."""
        return cpu_seconds * self.slowdown * self.active_core_w

    def link(self, name: str | None = None) -> LinkProfile:
        """The named link (default: the upload link)."""
        key = name or self.upload_link
        try:
            return self.links[key]
        except KeyError:
            raise ConfigError(f"power profile {self.name!r} has no link {key!r}; "
                              f"known: {sorted(self.links)}") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PowerProfile:
        """Build a profile from its YAML mapping (unknown keys are rejected)."""
        data = dict(data)
        try:
            links = {k: LinkProfile(**v) for k, v in dict(data.pop("links")).items()}
            return cls(links=links, **data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ConfigError(f"bad power profile {data.get('name', '?')!r}: {err}") from err


def profile_dir() -> Path:
    """``config/power_profiles`` of the package."""
    return config_dir() / "power_profiles"


def profile_names() -> tuple[str, ...]:
    """The profiles shipped in :func:`profile_dir`, sorted."""
    try:
        return tuple(sorted(p.stem for p in profile_dir().glob("*.yaml")))
    except FileNotFoundError:
        return (DEFAULT_PROFILE,)


#: Profiles known when this module was imported (the choices of every ``power_profile`` param).
PROFILE_NAMES = profile_names()


@functools.lru_cache(maxsize=16)
def load_profile(name: str = DEFAULT_PROFILE) -> PowerProfile:
    """Load ``config/power_profiles/<name>.yaml``; :class:`ConfigError` if missing or invalid."""
    if not _NAME.match(name):
        raise ConfigError(f"power profile name {name!r} must match {_NAME.pattern}")
    path = profile_dir() / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no power profile {name!r} (looked for {path}); "
                          f"known: {', '.join(profile_names())}") from None
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read power profile {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"power profile {path} is not a mapping")
    profile = PowerProfile.from_mapping(data)
    if profile.name != name:
        raise ConfigError(f"power profile {path} names itself {profile.name!r}")
    return profile


def power_profile_param() -> Any:
    """The ``power_profile`` field every node's config class declares (:mod:`wildcam.params`)."""
    return param(DEFAULT_PROFILE, "Device power profile of the energy reports "
                 "(config/power_profiles/<name>.yaml; live).", choices=PROFILE_NAMES)


def check_profile(name: str) -> str:
    """Return ``name`` if it loads as a profile, else raise :class:`ConfigError`."""
    load_profile(name)
    return name
