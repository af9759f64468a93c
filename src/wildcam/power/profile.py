"""Device power profiles: the constants that turn measured CPU time and bytes into joules.

A profile lives in ``config/power_profiles/<name>.yaml`` (constants with their sources in
comments) and is loaded into a frozen :class:`PowerProfile`. The model is deliberately simple:

* the board draws ``idle_w`` whatever happens while it is up (counted once per device, by the
  power manager);
* a CPU second measured on this host is ``slowdown`` seconds of one busy core on the device,
  which costs ``active_core_w`` above idle;
* a captured frame costs ``capture_j_per_frame`` (camera module and ISP: a named assumption);
* a transfer costs ``j_per_mb`` of its link plus the radio's tail (``tail_s`` at ``tail_w``)
  after the last byte.

The ``states`` section (:class:`PowerStates`) describes the whole device in each of its power
states — off with a wake source armed, suspend, warm idle, camera standby and streaming, IR —
and what it costs to boot, resume and shut down; the device-state policy
(:mod:`wildcam.power.states`) and the lifetime model (:mod:`wildcam.power.lifetime`) use it.

**The camera is counted once.** ``camera_streaming_w`` is the camera module + CSI/ISP power
over idle while streaming; ``capture_j_per_frame`` is the same power spread over the frames at
the camera driver's default rate (:data:`CAPTURE_BASIS_FPS`):
``capture_j_per_frame = camera_streaming_w / CAPTURE_BASIS_FPS`` (checked on load). The energy
ledger charges per frame (the graph's reports); the lifetime model charges ``camera_streaming_w``
per warm second and never adds the per-frame figure on top.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from wildcam.errors import ConfigError
from wildcam.params import DEFAULT_PROFILE
from wildcam.params import power_profile_dir as profile_dir
from wildcam.params import power_profile_names as profile_names

__all__ = [
    "CAPTURE_BASIS_FPS",
    "DEFAULT_PROFILE",
    "PROFILE_NAMES",
    "SLEEP_KINDS",
    "WAKE_SOURCES",
    "LinkProfile",
    "PowerProfile",
    "PowerStates",
    "check_profile",
    "load_profile",
    "profile_dir",
    "profile_names",
    "states_markdown",
]

_NAME = re.compile(r"^[a-z0-9_]+$")
#: What can wake a device from its off/sleep state: the RTC alarm, a PIR edge, a timer of the
#: controller that switches the SoC's power.
WAKE_SOURCES = ("rtc", "pir", "timer")
#: How the device sleeps: Linux halt (SoC stays in a low-power halt), suspend to RAM, or the SoC's
#: supply switched off by a controller.
SLEEP_KINDS = ("halt", "suspend", "power_cut")
#: The camera driver's default frame rate (``camera_driver.fps``): the rate at which
#: ``capture_j_per_frame`` x fps equals ``camera_streaming_w``.
CAPTURE_BASIS_FPS = 10.0


def _check_number(where: str, name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ConfigError(f"{where}: {name} must be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class PowerStates:
    """The whole device's power in each state (W at the battery/5 V input), and its transitions.

    ``camera_standby_w``, ``camera_streaming_w`` and ``ir_w`` are extra over ``idle_w``;
    ``boot_*`` runs from power-on to the first frame, ``resume_*`` from suspend (equal to boot
    where the platform has no suspend). ``wake_sources``: ``rtc`` (an alarm powers the device up
    from sleep), ``pir`` (a PIR edge calls the closed camera in watch; from sleep too where a
    controller switches the power, ``sleep_kind`` ``power_cut``), ``timer`` (the controller's
    timer, as the RTC).
    """

    off_w: float
    suspend_w: float | None
    idle_w: float
    camera_standby_w: float
    camera_streaming_w: float
    ir_w: float
    boot_s: float
    boot_j: float
    resume_s: float
    resume_j: float
    shutdown_s: float
    shutdown_j: float
    wake_sources: tuple[str, ...]
    sleep_kind: str

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name not in ("wake_sources", "sleep_kind") and not (
                f.name == "suspend_w" and self.suspend_w is None
            ):
                _check_number("power states", f.name, getattr(self, f.name))
        problem = ""
        if set(self.wake_sources) - set(WAKE_SOURCES) or len(set(self.wake_sources)) != len(
            self.wake_sources
        ):
            problem = (
                f"wake_sources must be distinct names from {', '.join(WAKE_SOURCES)}, "
                f"got {list(self.wake_sources)}"
            )
        elif self.sleep_kind not in SLEEP_KINDS:
            problem = (
                f"sleep_kind must be one of {', '.join(SLEEP_KINDS)}, got {self.sleep_kind!r}"
            )
        elif (self.sleep_kind == "suspend") != (self.suspend_w is not None):
            problem = "suspend_w is given exactly when sleep_kind is 'suspend'"
        elif self.suspend_w is None and (self.resume_s, self.resume_j) != (
            self.boot_s,
            self.boot_j,
        ):
            problem = "without suspend, resume_s/resume_j must equal boot_s/boot_j"
        elif self.off_w > self.idle_w or (
            self.suspend_w is not None and not self.off_w <= self.suspend_w <= self.idle_w
        ):
            problem = "states must order off_w <= suspend_w <= idle_w"
        elif self.camera_standby_w > self.camera_streaming_w:
            problem = "camera_standby_w must not exceed camera_streaming_w"
        if problem:
            raise ConfigError(f"power states: {problem}")

    @property
    def warm_w(self) -> float:
        """Power of the warm state: idle plus the streaming camera (stage work not included)."""
        return self.idle_w + self.camera_streaming_w

    @property
    def can_sleep(self) -> bool:
        """Whether something powers the device up again at a set time (an RTC alarm, a timer)."""
        return "rtc" in self.wake_sources or "timer" in self.wake_sources

    @property
    def can_watch(self) -> bool:
        """Whether a trigger (a PIR edge, a timer) can call the closed camera in watch."""
        return "pir" in self.wake_sources or "timer" in self.wake_sources

    @property
    def pir_wakes_from_off(self) -> bool:
        """Whether a PIR edge powers the device up from sleep (a controller switches its power)."""
        return "pir" in self.wake_sources and self.sleep_kind == "power_cut"

    @classmethod
    def from_mapping(cls, profile: str, data: Mapping[str, Any]) -> PowerStates:
        """Build from the YAML ``states`` mapping; resume defaults to boot without suspend."""
        data = dict(data)
        data.setdefault("suspend_w", None)
        if data["suspend_w"] is None:
            data.setdefault("resume_s", data.get("boot_s"))
            data.setdefault("resume_j", data.get("boot_j"))
        data["wake_sources"] = tuple(data.get("wake_sources") or ())
        try:
            return cls(**data)
        except TypeError as err:
            raise ConfigError(f"power profile {profile!r}: bad states section: {err}") from err
        except ConfigError as err:
            raise ConfigError(f"power profile {profile!r}: {err}") from err


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
    states: PowerStates
    active_core_w: float
    slowdown: float
    capture_j_per_frame: float
    links: Mapping[str, LinkProfile]
    upload_link: str
    cores: int = 4
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("active_core_w", "slowdown", "capture_j_per_frame"):
            _check_number(f"power profile {self.name!r}", name, getattr(self, name))
        streaming_w = self.capture_j_per_frame * CAPTURE_BASIS_FPS
        if abs(streaming_w - self.states.camera_streaming_w) > 1e-3 * max(1.0, streaming_w):
            raise ConfigError(
                f"power profile {self.name!r}: capture_j_per_frame x "
                f"{CAPTURE_BASIS_FPS:g} fps ({streaming_w:.4g} W) must equal "
                f"states.camera_streaming_w ({self.states.camera_streaming_w:g} W): "
                "the camera is counted once"
            )
        if self.slowdown <= 0 or self.cores < 1:
            raise ConfigError(f"power profile {self.name!r}: slowdown > 0 and cores >= 1 needed")
        if self.upload_link not in self.links:
            raise ConfigError(
                f"power profile {self.name!r}: upload_link {self.upload_link!r} "
                f"is not one of its links {sorted(self.links)}"
            )

    @property
    def idle_w(self) -> float:
        """Warm idle power of the whole board (``states.idle_w``)."""
        return self.states.idle_w

    def cpu_joules(self, cpu_seconds: float) -> float:
        """Energy above idle of ``cpu_seconds`` of host CPU time run on the device."""
        return cpu_seconds * self.slowdown * self.active_core_w

    def link(self, name: str | None = None) -> LinkProfile:
        """The named link (default: the upload link)."""
        key = name or self.upload_link
        try:
            return self.links[key]
        except KeyError:
            raise ConfigError(
                f"power profile {self.name!r} has no link {key!r}; known: {sorted(self.links)}"
            ) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PowerProfile:
        """Build a profile from its YAML mapping (unknown keys are rejected)."""
        data = dict(data)
        try:
            links = {k: LinkProfile(**v) for k, v in dict(data.pop("links")).items()}
            states = PowerStates.from_mapping(str(data.get("name", "?")), data.pop("states"))
            return cls(links=links, states=states, **data)
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ConfigError(f"bad power profile {data.get('name', '?')!r}: {err}") from err


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
        raise ConfigError(
            f"no power profile {name!r} (looked for {path}); known: {', '.join(profile_names())}"
        ) from None
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read power profile {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"power profile {path} is not a mapping")
    profile = PowerProfile.from_mapping(data)
    if profile.name != name:
        raise ConfigError(f"power profile {path} names itself {profile.name!r}")
    return profile


def check_profile(name: str) -> str:
    """Return ``name`` if it loads as a profile, else raise :class:`ConfigError`."""
    load_profile(name)
    return name


_UNITS = {"_w": "W", "_s": "s", "_j": "J"}


def states_markdown(names: tuple[str, ...] | None = None) -> str:
    """The power states of the shipped profiles as a Markdown table (the README's; each value's
    source is the comment beside it in the profile's YAML)."""
    profiles = [load_profile(n) for n in (names or profile_names())]
    head = "| state | " + " | ".join(f"`{p.name}`" for p in profiles) + " |"
    rows = [head, "|---|" + "---|" * len(profiles)]
    for f in dataclasses.fields(PowerStates):
        cells = []
        for p in profiles:
            value = getattr(p.states, f.name)
            unit = next((u for k, u in _UNITS.items() if f.name.endswith(k)), "")
            if value is None:
                cells.append("—")
            elif isinstance(value, tuple):
                cells.append(", ".join(value) or "none")
            elif isinstance(value, str):
                cells.append(value)
            else:
                cells.append(f"{value:g} {unit}".strip())
        rows.append(f"| {f.name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
