"""How long will it last? A deployment simulated event by event for a year or more.

**Inputs.** A device (a power profile with its states, :mod:`wildcam.power.profile`); what the
real graph measured (:class:`MeasuredCosts`: ``bench/results/energy.json`` for the stage energy
per warm second and per event, ``bench/results/wake.json`` for the wake latencies when it exists);
animal activity (:class:`Activity`: events per day, a diel pattern, log-normal visit lengths,
the share a PIR sees; seeded); solar harvest (:mod:`wildcam.power.solar`, pvlib); a battery
preset (:mod:`wildcam.power.cells`) with a seasonal temperature curve; and the policies — the
real :class:`~wildcam.power.states.StatePolicy` and :class:`~wildcam.power.policy.ModePolicy`,
not copies.

**Stepping.** Between decision points the device state is constant, so the model integrates
energy over intervals instead of seconds: it asks the state policy at every event, window
boundary, end of a warm hold and at least hourly while the device is up (at the RTC wake while
it sleeps), and the mode policy alongside. Power by state: warm = ``idle_w +
camera_streaming_w`` + the measured capture-CPU and motion-gate power + ``ir_w`` while the sun
is down; watch = ``idle_w``; sleep = ``off_w``; every sleep costs ``shutdown_j`` and every wake
``boot_j``. Each captured event adds the measured cascade, encode and upload energy.

**Events.** In warm a visit is captured with the graph's measured recall. In watch the PIR
must see it (else "pir miss") and the visit must outlast the trigger-to-frame latency (else
"waking"); the trigger keeps the device warm for ``warm_hold_s``. Asleep on a device whose PIR
powers it up (in or out of the active windows: the power manager hears a PIR edge from sleep
on such a device and the state policy goes warm on it), the same with the boot time as latency;
or, with ``burst_on_wake``, the power controller captures a burst on the PIR edge while the SoC
boots and holds it for the state policy's ``batch_s`` (longer when over the lifetime budget),
and the SoC analyses the held bursts (the measured analysis CPU time each, the board idle) and
sends them in one upload, and goes back to sleep, with no warm hold. Asleep otherwise:
"asleep". When the mode policy is critical the camera is trigger-only: warm becomes watch
("power mode" misses). An empty battery misses the rest ("battery empty").

**Battery.** Stored energy (capacity x depth of discharge) gains the harvest (refused below the
chemistry's charging temperature, or when full: spilled), loses the load and the self-discharge;
the cells deliver only their cold usable fraction, so the device dies when the stored energy
falls below the share the cold locks away. Bookkeeping: harvest accepted = load + self-discharge
+ change in store, checked by the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wildcam.errors import ConfigError
from wildcam.power.cells import BatteryPreset, battery_preset
from wildcam.power.policy import ModePolicy, PolicyConfig, PolicyInputs, load_policy
from wildcam.power.profile import PowerProfile, load_profile
from wildcam.power.solar import SolarConfig, clearsky_poa_w_m2, hourly_harvest_w
from wildcam.power.states import StateConfig, StateInputs, StatePolicy, capabilities
from wildcam.types import DAY_S

__all__ = [
    "DIEL_PATTERNS",
    "MISS_REASONS",
    "POLICIES",
    "SHIPPED",
    "Activity",
    "Climate",
    "Constant",
    "LifetimeResult",
    "LifetimeScenario",
    "MeasuredCosts",
    "constants_table",
    "policy_config",
    "run_battery_line",
    "scenario",
    "simulate",
    "summary_line",
]

MISS_REASONS = ("asleep", "waking", "pir miss", "power mode", "battery empty", "not detected")
POLICIES = ("always_warm", "pir_wake", "scheduled", "adaptive")
_RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results"

#: ASSUMPTION: relative activity per local hour (0..23) of the three diel patterns: nocturnal
#: (most visits 20:00-05:00), crepuscular (peaks at dawn and dusk), diurnal (daylight). Shapes
#: as camera-trap activity studies draw them; measure: the hour histogram of your own trap's
#: detections (the gateway listing).
DIEL_PATTERNS: dict[str, tuple[float, ...]] = {
    "nocturnal": (
        1,
        1,
        1,
        1,
        1,
        0.6,
        0.3,
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.05,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.3,
        0.6,
        1,
        1,
        1,
        1,
    ),
    "crepuscular": (
        0.2,
        0.2,
        0.2,
        0.3,
        0.6,
        1,
        1,
        0.8,
        0.4,
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.2,
        0.5,
        0.9,
        1,
        1,
        0.6,
        0.3,
        0.2,
    ),
    "diurnal": (
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.05,
        0.2,
        0.6,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
        0.8,
        0.5,
        0.2,
        0.05,
        0.02,
        0.02,
        0.02,
    ),
}


@dataclass(frozen=True)
class Constant:
    """A figure the simulation used and where it came from (a file, a datasheet, ASSUMPTION)."""

    value: float
    source: str


@dataclass(frozen=True)
class Activity:
    """Seeded animal activity: Poisson events per day, diel pattern, visit lengths, PIR share."""

    events_per_day: float = 17.0  # Whytock et al. 2021's median images per day (the issue)
    pattern: str = "nocturnal"
    # ASSUMPTION: visit length log-normal, median 20 s, sigma 1.0 (a few seconds to minutes).
    # Measure: first to last detection per motion event in the day-run report or a trap's log.
    visit_median_s: float = 20.0
    visit_sigma: float = 1.0
    # ASSUMPTION: a PIR sees 90 % of the visits the camera's motion gate sees (it misses small
    # and cold-bodied animals). Measure: PIR triggers against motion events over a warm week.
    pir_share: float = 0.9
    # where pir_share came from: a measurement (wildcam.report.pir) or a scenario input
    pir_share_source: str = "ASSUMPTION (Activity)"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pattern not in DIEL_PATTERNS:
            raise ConfigError(
                f"unknown diel pattern {self.pattern!r}; one of {', '.join(DIEL_PATTERNS)}"
            )
        if (
            self.events_per_day < 0
            or self.visit_median_s <= 0
            or self.visit_sigma < 0
            or not 0.0 <= self.pir_share <= 1.0
        ):
            raise ConfigError(
                "activity: events_per_day >= 0, visit_median_s > 0, "
                "visit_sigma >= 0 and pir_share in [0, 1] needed"
            )

    def generate(
        self, start_s: float, days: int, utc_offset_h: float, recall: float
    ) -> dict[str, np.ndarray]:
        """Event start times, visit lengths, and whether the PIR / the motion gate sees each."""
        rng = np.random.default_rng(self.seed)
        counts = rng.poisson(self.events_per_day, size=days)
        n = int(counts.sum())
        weights = np.asarray(DIEL_PATTERNS[self.pattern], dtype=float)
        hours = rng.choice(24, size=n, p=weights / weights.sum())
        day = np.repeat(np.arange(days), counts)
        local_midnight = start_s + day * DAY_S - utc_offset_h * 3600.0
        t = np.sort(local_midnight + (hours + rng.random(n)) * 3600.0)
        return {
            "t": t,
            "visit_s": rng.lognormal(math.log(self.visit_median_s), self.visit_sigma, size=n),
            "pir": rng.random(n) < self.pir_share,
            "gate": rng.random(n) < recall,
        }


@dataclass(frozen=True)
class Climate:
    """ASSUMPTION: ambient temperature, a seasonal cosine (coldest mid-January) plus a daily one
    (warmest at 15:00), near the Met Office 1991-2020 averages for southern England (~4 C in
    January, ~17 C in July). Measure: the trap's own temperature log (power/temperature)."""

    mean_c: float = 10.5
    seasonal_amplitude_c: float = 6.5
    coldest_day_of_year: int = 15
    daily_amplitude_c: float = 4.0

    def at(self, t_s: float, utc_offset_h: float = 0.0) -> float:
        """Temperature at epoch ``t_s``."""
        doy = (t_s / DAY_S) % 365.25  # day of year from 1 January 1970 (same phase each year)
        hour = ((t_s / 3600.0) + utc_offset_h) % 24.0
        return (
            self.mean_c
            - self.seasonal_amplitude_c
            * math.cos(2 * math.pi * (doy - self.coldest_day_of_year) / 365.25)
            + self.daily_amplitude_c * math.cos(2 * math.pi * (hour - 15.0) / 24.0)
        )


def _load_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read measured figures {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object")
    return data


def _num(data: Mapping[str, object], key: str, path: Path) -> float:
    value = data.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{path}: {key} missing or not a number")
    return float(value)


@dataclass(frozen=True)
class MeasuredCosts:
    """Energy and latencies the real graph measured, scaled to a profile, each with its file."""

    warm_stage_w: Constant  # capture CPU + motion gate per warm second (camera not included)
    event_j: Constant  # cascade + encode + upload per captured event
    bytes_per_event: Constant
    gate_recall: Constant  # share of visits the warm graph detects
    warm_latency_s: Constant
    watch_latency_s: Constant
    decision_s: Constant  # first frame to the cascade's decision
    burst_decision_s: Constant  # a held burst's analysis: CPU-bound, not paced by the camera
    upload_s: Constant  # decision to the alert at the gateway

    @classmethod
    def load(cls, profile: PowerProfile, results_dir: Path | None = None) -> MeasuredCosts:
        """From ``energy.json`` (required) and ``wake.json`` (when present) in ``results_dir``."""
        base_dir = results_dir or _RESULTS
        epath, wpath = base_dir / "energy.json", base_dir / "wake.json"
        energy = _load_json(epath)
        if energy is None:
            raise ConfigError(
                f"no {epath}: run bench/energy.py first (the lifetime model takes "
                "its per-event and per-warm-second energy from it)"
            )
        base = load_profile(str(energy.get("profile", "rpi4b")))
        # Host CPU energy scales with slowdown x busy-core power; radio energy with J/MB.
        cpu = (profile.slowdown * profile.active_core_w) / (base.slowdown * base.active_core_w)
        radio = profile.link().j_per_mb / base.link().j_per_mb
        per_day = _num(energy, "joules_per_day", epath) / _num(energy, "run_stage_joules", epath)
        frames_day = _num(energy, "frames", epath) * per_day
        visits_day = _num(energy, "visits", epath) * per_day
        camera_day = base.capture_j_per_frame * frames_day  # in warm_w already: taken out
        warm_cpu = (
            _num(energy, "j_per_day_capture", epath)
            - camera_day
            + _num(energy, "j_per_day_motion", epath)
        ) / DAY_S
        analysis = sum(
            _num(energy, f"j_per_day_{k}", epath)
            for k in ("cascade_stage1", "cascade_stage2", "cascade_stage3", "encode")
        )
        upload = _num(energy, "j_per_day_upload", epath)
        src = f"{epath.name} ({energy.get('profile')}, {energy.get('generated', '?')})"
        scale = f" x {cpu:.2f} ({profile.name}/{base.name} slowdown x core W)"
        wake = _load_json(wpath)
        if wake is not None:
            wsrc = f"{wpath.name} ({wake.get('generated', '?')}) x slowdown {profile.slowdown}"
            warm_lat = Constant(
                _num(wake, "trigger_to_frame_ms_warm", wpath) / 1000.0 * profile.slowdown, wsrc
            )
            watch_lat = Constant(
                _num(wake, "trigger_to_frame_ms_watch", wpath) / 1000.0 * profile.slowdown, wsrc
            )
            # first frame to decision, less the bench scene's wait for its animal (scene time,
            # not work)
            decision = Constant(
                max(
                    0.0,
                    _num(wake, "first_frame_to_decision_s_median", wpath)
                    - _num(wake, "scene_animal_enters_s", wpath),
                )
                * profile.slowdown,
                wsrc + " (first frame to decision - animal's entry)",
            )
        else:
            warm_lat = Constant(
                0.1,
                "ASSUMPTION: wake.json absent; the issue's warm goal "
                "(100 ms); measure with bench/wake.py",
            )
            watch_lat = Constant(
                0.4,
                "ASSUMPTION: wake.json absent; the issue's watch goal "
                "(400 ms); measure with bench/wake.py",
            )
            decision = Constant(
                2.0,
                "ASSUMPTION: wake.json absent; first frame to decision "
                "~2 s on the device; measure with bench/wake.py",
            )
        held = None if wake is None else wake.get("held_burst_cpu_s")
        if isinstance(held, (int, float)) and not isinstance(held, bool):
            # measured through the graph: camera decode + motion gate + cascade CPU per held
            # burst (bench/wake.py), as one core's time on the device
            burst = Constant(
                float(held) * profile.slowdown,
                f"{wsrc}: held_burst_cpu_s (camera + motion + cascade CPU per held burst)",
            )
        else:
            burst = Constant(
                analysis / visits_day * cpu / profile.active_core_w,
                f"{src}: (cascade 1-3 + encode) J per visit{scale} / {profile.active_core_w} W "
                "(one busy core): a held burst is read from storage as fast as the CPU goes, "
                "so its decision takes the analysis CPU time (the live decision_s waits for "
                "frames at the camera's rate)",
            )
        return cls(
            warm_stage_w=Constant(
                warm_cpu * cpu,
                f"{src}: (capture - camera per frame + motion) J/day / 86400{scale}",
            ),
            event_j=Constant(
                analysis / visits_day * cpu + upload / visits_day * radio,
                f"{src}: (cascade 1-3 + encode){scale} + upload x {radio:.2f} "
                "(J/MB ratio), per visit of the day run",
            ),
            bytes_per_event=Constant(
                upload / visits_day / base.link().j_per_mb * 1e6,
                f"{src}: upload J per visit / {base.link().j_per_mb} J/MB "
                "(upper bound: the radio tails are counted as bytes)",
            ),
            gate_recall=Constant(
                _num(energy, "event_recall", epath),
                f"{src}: event_recall ({energy.get('visits')} visits)",
            ),
            warm_latency_s=warm_lat,
            watch_latency_s=watch_lat,
            decision_s=decision,
            burst_decision_s=burst,
            upload_s=Constant(
                5.0,
                "ASSUMPTION: Wi-Fi association + batch upload ~5 s; "
                "measure: the uploader's link-up to acknowledgement time",
            ),
        )


#: ASSUMPTION: a burst on the PIR edge captured by the power controller's own low-power camera
#: module while the SoC boots (the trail-camera design: 0.1-0.7 s trigger to frame, the issue);
#: 0.5 s latency, 0.5 W for 3 s, plus the profile's IR for those 3 s at night. Measure: a meter
#: on the controller's camera supply.
BURST_LATENCY_S = Constant(0.5, "ASSUMPTION: controller camera, trail cameras' 0.1-0.7 s")
BURST_S = Constant(3.0, "ASSUMPTION: controller camera burst length")
BURST_CAMERA_W = Constant(0.5, "ASSUMPTION: controller camera module while capturing")


def policy_config(
    name: str,
    states_pir_wakes: bool,
    schedule: str = "18:00-07:00",
    target_days: float = 365.0,
    warm_hold_s: float = 60.0,
    utc_offset_h: float = 0.0,
    batch_s: float = 0.0,
    over_budget_batch_s: float = 43200.0,
) -> StateConfig:
    """The device-state settings of a named policy for the Pareto figure.

    ``always_warm``: warm all day; ``pir_wake``: rest in the cheapest state a PIR can end
    (sleep where the PIR powers the device up, else watch), all day, holding the controller's
    bursts longer when over the lifetime budget of ``target_days``; ``scheduled``: warm inside
    the windows, asleep outside; ``adaptive``: scheduled, resting lower when over the lifetime
    budget. ``batch_s`` and ``over_budget_batch_s``: :class:`StateConfig`'s.
    """
    low = "sleep" if states_pir_wakes else "watch"
    common = functools.partial(
        StateConfig,
        warm_hold_s=warm_hold_s,
        utc_offset_h=utc_offset_h,
        batch_s=batch_s,
        over_budget_batch_s=over_budget_batch_s,
    )
    if name == "always_warm":
        return common(idle_state="warm", outside_state="warm")
    if name == "pir_wake":
        return common(
            idle_state=low, over_budget_state=low, outside_state=low, target_days=target_days
        )
    if name == "scheduled":
        return common(
            schedule=schedule, idle_state="warm", over_budget_state=low, outside_state="sleep"
        )
    if name == "adaptive":
        return common(
            schedule=schedule,
            idle_state="warm",
            over_budget_state=low,
            outside_state="sleep",
            target_days=target_days,
        )
    raise ConfigError(f"unknown policy {name!r}; one of {', '.join(POLICIES)}")


@dataclass(frozen=True)
class LifetimeScenario:
    """Everything one simulated deployment needs."""

    profile: str = "pizero2w_mcu"
    battery: str | BatteryPreset = "li18650x7"  # a preset's name, or a preset
    states: StateConfig = field(default_factory=StateConfig)
    modes: PolicyConfig | None = None  # None: the package's config/power_policy.yaml
    activity: Activity = field(default_factory=Activity)
    solar: SolarConfig = field(default_factory=SolarConfig)
    climate: Climate = field(default_factory=Climate)
    start: dt.datetime = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    days: int = 365
    initial_soc: float = 1.0
    burst_on_wake: bool = False  # the states' batch_s / over_budget_batch_s apply with it
    results_dir: Path | None = None

    @property
    def preset(self) -> BatteryPreset:
        """The battery preset."""
        return (
            self.battery
            if isinstance(self.battery, BatteryPreset)
            else battery_preset(self.battery)
        )

    def __post_init__(self) -> None:
        if self.days < 1 or not 0.0 < self.initial_soc <= 1.0:
            raise ConfigError("days >= 1 and initial_soc in (0, 1] needed")
        if self.start.tzinfo is None:
            raise ConfigError("start must be timezone-aware")


@dataclass
class LifetimeResult:
    """What a run produced (energy in joules, times in seconds unless named)."""

    days_simulated: int
    days_until_empty: float | None
    soc_daily: list[float]
    events: int
    detectable: int  # events an always-warm trap with power would capture
    detectable_alive: int  # ... of those, before the battery emptied
    captured: int
    missed: dict[str, int]
    alert_s: list[float]
    energy_by_kind_j: dict[str, float]  # warm, ir, watch, sleep, boot, shutdown, events, ...
    total_load_j: float
    harvest_in_j: float
    harvest_spilled_j: float
    self_discharge_j: float
    store_start_j: float
    store_end_j: float
    time_in_state_h: dict[str, float]
    wakes: int
    min_soc: float
    reached_critical: bool
    bytes_sent: float
    constants: dict[str, Constant]
    sim_wall_s: float

    @property
    def energy_neutral(self) -> bool:
        """Never emptied over the simulated span."""
        return self.days_until_empty is None

    @property
    def capture_share(self) -> float:
        """Captured over what an always-warm trap with power would capture, whole span."""
        return self.captured / self.detectable if self.detectable else math.nan

    @property
    def capture_share_alive(self) -> float:
        """The same while the battery lasted: what the policy gives up, apart from lifetime."""
        return self.captured / self.detectable_alive if self.detectable_alive else math.nan

    def alert_percentile_s(self, q: float) -> float:
        """Capture-to-alert latency percentile (NaN without alerts)."""
        return float(np.percentile(self.alert_s, q)) if self.alert_s else math.nan

    @property
    def j_per_captured_event(self) -> float:
        """All the device's energy over the captured events."""
        return self.total_load_j / self.captured if self.captured else math.nan

    @property
    def bytes_per_week(self) -> float:
        """Bytes sent per week of operation."""
        alive = self.days_until_empty or self.days_simulated
        return self.bytes_sent / max(alive, 1e-9) * 7.0

    def summary(self) -> dict[str, float | int | bool | str | None]:
        """Flat figures (JSON and the CLI's table)."""
        return {
            "days_simulated": self.days_simulated,
            "days_until_empty": None
            if self.days_until_empty is None
            else round(self.days_until_empty, 1),
            "energy_neutral": self.energy_neutral,
            "events": self.events,
            "captured": self.captured,
            "capture_vs_always_warm": round(self.capture_share, 4),
            "capture_vs_always_warm_while_alive": round(self.capture_share_alive, 4),
            **{f"missed_{k.replace(' ', '_')}": v for k, v in self.missed.items()},
            "median_alert_s": round(self.alert_percentile_s(50), 1),
            "p95_alert_s": round(self.alert_percentile_s(95), 1),
            "j_per_captured_event": round(self.j_per_captured_event, 1),
            "bytes_per_week": round(self.bytes_per_week),
            "min_soc": round(self.min_soc, 4),
            "reached_critical": self.reached_critical,
            "wakes": self.wakes,
            **{f"hours_{k}": round(v, 1) for k, v in self.time_in_state_h.items()},
            "sim_wall_s": round(self.sim_wall_s, 3),
        }


class _Battery:
    """The store and its bookkeeping (harvest in = load + leak + change in store)."""

    def __init__(self, preset: BatteryPreset, soc: float) -> None:
        self.preset = preset
        self.capacity_j = preset.capacity_j * preset.depth_of_discharge
        self.stored = self.start = soc * self.capacity_j
        self.load_j = self.harvest_j = self.spilled_j = self.leak_j = 0.0

    def step(self, dt_s: float, load_j: float, harvest_j: float, temperature_c: float) -> bool:
        """Apply one interval; False once the cells cannot deliver what is left."""
        if not self.preset.rechargeable or temperature_c < self.preset.charge_min_c:
            harvest_j = 0.0
        leak = self.stored * (1.0 - math.exp(-self.preset.self_discharge_per_s() * dt_s))
        stored = self.stored - leak - load_j + harvest_j
        spilled = max(0.0, stored - self.capacity_j)
        stored -= spilled
        taken = load_j
        if stored < 0.0:  # could not supply it all: what was there went
            taken += stored
            stored = 0.0
        self.stored = stored
        self.load_j += taken
        self.leak_j += leak
        self.harvest_j += harvest_j - spilled
        self.spilled_j += spilled
        return self.stored > self.capacity_j * (1.0 - self.preset.usable_fraction(temperature_c))

    @property
    def soc(self) -> float:
        return self.stored / self.capacity_j


def _night_mask(solar: SolarConfig, start: dt.datetime, days: int) -> np.ndarray:
    """Hours without daylight on the site's horizontal (clear-sky GHI ~0): the IR is on."""
    flat = dataclasses.replace(solar, tilt_deg=0.0, panel_w=1.0)
    return clearsky_poa_w_m2(flat, start, days) < 1.0


def simulate(sc: LifetimeScenario, costs: MeasuredCosts | None = None) -> LifetimeResult:
    """Run one deployment; see the module docstring for the model."""
    wall = time.perf_counter()
    run = _Run(sc, costs)
    run.loop()
    return run.result(time.perf_counter() - wall)


class _Run:
    """One simulated deployment: the state, the battery and the tallies."""

    def __init__(self, sc: LifetimeScenario, costs: MeasuredCosts | None) -> None:
        self.sc = sc
        self.profile = load_profile(sc.profile)
        self.st = self.profile.states
        self.costs = costs or MeasuredCosts.load(self.profile, sc.results_dir)
        self.start_s = sc.start.timestamp()
        self.end_s = self.start_s + sc.days * DAY_S
        self.off_h = sc.states.utc_offset_h
        harvest_w = hourly_harvest_w(sc.solar, sc.start, sc.days)
        self.cum_harvest = np.concatenate([[0.0], np.cumsum(harvest_w * 3600.0)])
        self.night = _night_mask(sc.solar, sc.start, sc.days)
        self.ev = sc.activity.generate(
            self.start_s, sc.days, self.off_h, self.costs.gate_recall.value
        )
        self.battery = _Battery(sc.preset, sc.initial_soc)
        self.policy = StatePolicy(sc.states, self.start_s)
        self.modes = ModePolicy(sc.modes or load_policy().policy, self.start_s)
        self.caps = capabilities(self.st)
        self.power = {
            "warm": self.st.warm_w + self.costs.warm_stage_w.value,
            "watch": self.st.idle_w,
            "sleep": self.st.off_w,
        }
        self.time_in = dict.fromkeys(("warm", "watch", "sleep"), 0.0)
        self.energy: Counter[str] = Counter()
        self.missed: Counter[str] = Counter()
        self.alerts: list[float] = []
        self.soc_daily: list[float] = []
        self.pending: list[float] = []  # bursts the controller holds for the next batch
        self.hold_s = 0.0  # how long it may hold them (armed at each sleep)
        self.captured = self.wakes = 0
        self.bytes_sent = 0.0
        self.last_trigger = math.nan
        self.state = "warm"
        self.mode = self.modes.mode
        self.reached_critical = self.mode == "critical"
        self.min_soc = self.battery.soc
        self.died_at: float | None = None
        self.next_day = self.start_s + DAY_S
        self.processed = 0  # events handled before the battery emptied

    # -- environment -------------------------------------------------------------------------
    def harvest_between(self, a: float, b: float) -> float:
        x = np.array([(a - self.start_s) / 3600.0, (b - self.start_s) / 3600.0])
        h0, h1 = np.interp(x, np.arange(len(self.cum_harvest)), self.cum_harvest)
        return float(h1 - h0)

    def is_night(self, t: float) -> bool:
        i = int((t - self.start_s) // 3600.0)
        return bool(self.night[min(max(i, 0), len(self.night) - 1)])

    # -- energy ------------------------------------------------------------------------------
    def interval(self, a: float, b: float, state: str, extras: Mapping[str, float]) -> bool:
        """Spend ``[a, b)`` in ``state`` plus ``extras`` (kind -> J); False once empty."""
        dt_s = max(0.0, b - a)
        parts = Counter({state: self.power[state] * dt_s, **extras})
        if state == "warm" and self.is_night(a):
            parts["ir"] += self.st.ir_w * dt_s
        self.energy.update(parts)
        self.time_in[state] += dt_s
        alive = self.battery.step(
            dt_s,
            sum(parts.values()),
            self.harvest_between(a, b),
            self.sc.climate.at(b, self.off_h),
        )
        self.min_soc = min(self.min_soc, self.battery.soc)
        while self.next_day <= b and len(self.soc_daily) < self.sc.days:
            self.soc_daily.append(self.battery.soc)
            self.next_day += DAY_S
        return alive

    def capture(
        self, first_frame_s: float, te: float, extras: Counter[str], burst: bool = False
    ) -> None:
        """Count a captured event; ``first_frame_s``: its first frame (a held ``burst``: when
        its analysis starts)."""
        c = self.costs
        self.captured += 1
        self.bytes_sent += c.bytes_per_event.value
        extras["events"] += c.event_j.value
        decision = c.burst_decision_s if burst else c.decision_s
        self.alerts.append(first_frame_s - te + decision.value + c.upload_s.value)

    def processing_j(self, bursts: int = 1) -> float:
        """The SoC up for the decisions on ``bursts`` controller bursts and one upload of them
        all: the board's idle power over that time. The analysis CPU and the radio are the
        measured ``event_j`` a capture adds (:meth:`capture`), so no busy core is charged
        here again."""
        c = self.costs
        return (bursts * c.burst_decision_s.value + c.upload_s.value) * self.st.idle_w

    # -- the loop ----------------------------------------------------------------------------
    def decide(self, t: float) -> float | None:
        """Ask both policies at ``t``; set the state; return the RTC wake time when asleep."""
        temp = self.sc.climate.at(t, self.off_h)
        soc = self.battery.soc
        self.mode = self.modes.update(
            t, PolicyInputs(battery=soc, temperature_c=temp, battery_temperature_c=temp)
        ).mode
        self.reached_critical |= self.mode == "critical"
        since = max(self.start_s, t - 7 * DAY_S)
        harvest = self.harvest_between(since, t) / max((t - since) / DAY_S, 1e-9)
        d = self.policy.update(
            t,
            StateInputs(
                battery=soc,
                temperature_c=temp,
                harvest_j_per_day=harvest,
                last_trigger_s=self.last_trigger,
                spent_j=self.battery.load_j,
                capacity_j=self.battery.capacity_j,
                **self.caps,
            ),
        )
        new = d.state
        if new == "sleep" and self.state != "sleep" and self.sc.burst_on_wake:
            self.hold_s = d.batch_s or 0.0  # what the controller is told at the sleep
        if self.mode == "critical" and new == "warm" and not self.held(t):
            # trigger-driven capture only: the camera closes
            new = "watch" if self.caps["can_watch"] and self.sc.states.watch_enabled else "warm"
        self.state = new
        return d.wake_at_s

    def held(self, t: float) -> bool:
        return (
            not math.isnan(self.last_trigger)
            and t - self.last_trigger < self.sc.states.warm_hold_s
        )

    def horizon(self, t: float, wake_at: float | None) -> float:
        if self.state == "sleep":
            h = wake_at if wake_at is not None else self.end_s
            if self.pending:
                h = min(h, self.pending[0] + self.hold_s)
        else:
            h = t + 3600.0
            boundary = self.policy.schedule.next_boundary_s(t)
            if boundary is not None:
                h = min(h, boundary)
            if self.held(t):
                h = min(h, self.last_trigger + self.sc.states.warm_hold_s)
        return max(min(h, self.end_s), t + 1e-3)

    def event(self, j: int, t: float, extras: Counter[str]) -> bool:
        """Handle event ``j`` (at or after ``t``, or during a boot before it); True when it
        triggers (the segment ends there)."""
        ev, c, st, sc = self.ev, self.costs, self.st, self.sc
        te, visit = float(ev["t"][j]), float(ev["visit_s"][j])
        pir, gate = bool(ev["pir"][j]), bool(ev["gate"][j])
        booting = te < t
        controller = sc.burst_on_wake and (booting or self.state == "sleep")
        if self.state == "warm" and not booting:
            if gate:
                self.capture(te + c.warm_latency_s.value, te, extras)
                self.last_trigger = te + c.warm_latency_s.value
                return True
            self.missed["not detected"] += 1
            return False
        if self.state == "watch" and not booting:
            latency = c.watch_latency_s.value
            if not pir:
                self.missed["power mode" if self.mode == "critical" else "pir miss"] += 1
                return False
            if visit <= latency or not gate:
                self.missed["waking" if visit <= latency else "not detected"] += 1
            else:
                self.capture(te + latency, te, extras)
            self.last_trigger = te + latency
            return True
        if not (booting or self.caps["pir_wakes"]):
            self.missed["asleep"] += 1
            return False
        if not pir:
            self.missed["pir miss"] += 1
            return False
        latency = BURST_LATENCY_S.value if controller else st.boot_s if not booting else t - te
        ok = gate and visit > latency
        if not ok:
            self.missed["waking" if visit <= latency else "not detected"] += 1
        if controller:
            extras["burst"] += BURST_S.value * (
                BURST_CAMERA_W.value + (st.ir_w if self.is_night(te) else 0.0)
            )
            if ok and self.hold_s > 0 and not booting:
                self.pending.append(te)  # analysed at the next batch wake
                return False
            extras["processing"] += self.processing_j()
            if ok:
                self.capture(max(te, t) + (0.0 if booting else st.boot_s), te, extras, True)
            return not booting  # the PIR edge powers the SoC up
        if ok:
            self.capture(max(te + latency, t), te, extras)
        if booting:
            return False
        self.last_trigger = te + st.boot_s  # warm for the hold from the first frame
        return True

    def loop(self) -> None:
        ev_t = self.ev["t"]
        n, i, t = len(ev_t), 0, self.start_s
        while t < self.end_s:
            before = self.state
            wake_at = self.decide(t)
            extras: Counter[str] = Counter()
            if self.state == "sleep" and before != "sleep":
                extras["shutdown"] += self.st.shutdown_j
            horizon = self.horizon(t, wake_at)
            seg_end, triggered = horizon, False
            while i < n and ev_t[i] < horizon:
                i += 1
                if self.event(i - 1, t, extras):
                    seg_end, triggered = float(ev_t[i - 1]), True
                    break
                if self.pending and self.state == "sleep":  # a held burst: batch wake
                    horizon = seg_end = max(t, min(horizon, self.pending[0] + self.hold_s))
            alive = self.interval(t, seg_end, self.state, extras)
            t = seg_end
            if self.state == "sleep" and (triggered or t >= horizon) and t < self.end_s:
                alive = self.boot(t) and alive
                t = min(t + self.st.boot_s, self.end_s)
            if not alive:
                self.died_at = t
                break
        self.processed = i

    def boot(self, t: float) -> bool:
        """The PIR edge, the batch timer or the RTC alarm powers the SoC up."""
        self.wakes += 1
        end = min(t + self.st.boot_s, self.end_s)
        extras = Counter({"boot": self.st.boot_j - self.st.idle_w * (end - t)})
        if self.pending:  # the batch: analyse every held burst, then send them at once
            extras["processing"] += self.processing_j(len(self.pending))
            analysed = end + (len(self.pending) - 1) * self.costs.burst_decision_s.value
            for te in self.pending:
                self.capture(analysed, te, extras, True)
        self.pending.clear()
        alive = self.interval(t, end, "watch", extras)
        self.time_in["watch"] -= end - t
        self.energy["watch"] -= self.st.idle_w * (end - t)
        self.energy["boot"] += self.st.idle_w * (end - t)
        self.state = "watch"  # up; the next decision says what now
        return alive

    def result(self, wall_s: float) -> LifetimeResult:
        ev, sc = self.ev, self.sc
        if self.died_at is not None:
            self.missed["battery empty"] += len(ev["t"]) - self.processed + len(self.pending)
            self.soc_daily += [0.0] * (sc.days - len(self.soc_daily))
        else:
            self.captured += len(self.pending)  # held on the controller at the end
        while len(self.soc_daily) < sc.days:
            self.soc_daily.append(self.battery.soc)
        constants = {f.name: getattr(self.costs, f.name) for f in dataclasses.fields(self.costs)}
        if sc.burst_on_wake:
            constants.update(
                burst_latency_s=BURST_LATENCY_S, burst_s=BURST_S, burst_camera_w=BURST_CAMERA_W
            )
        b = self.battery
        return LifetimeResult(
            days_simulated=sc.days,
            days_until_empty=None
            if self.died_at is None
            else (self.died_at - self.start_s) / DAY_S,
            soc_daily=self.soc_daily,
            events=len(ev["t"]),
            detectable=int(np.sum(ev["gate"])),
            detectable_alive=int(np.sum(ev["gate"][: self.processed])),
            captured=self.captured,
            missed={k: self.missed.get(k, 0) for k in MISS_REASONS},
            alert_s=self.alerts,
            energy_by_kind_j=dict(self.energy),
            total_load_j=b.load_j,
            harvest_in_j=b.harvest_j,
            harvest_spilled_j=b.spilled_j,
            self_discharge_j=b.leak_j,
            store_start_j=b.start,
            store_end_j=b.stored,
            time_in_state_h={k: v / 3600.0 for k, v in self.time_in.items()},
            wakes=self.wakes,
            min_soc=self.min_soc,
            reached_critical=self.reached_critical,
            bytes_sent=self.bytes_sent,
            constants=constants,
            sim_wall_s=wall_s,
        )


#: The best device configuration wildcam ships for long deployments: the controller-switched
#: Zero 2 W, resting asleep and woken by its PIR, the controller capturing the burst while the SoC
#: boots (so the boot time loses no visit) and holding bursts so that visits close together
#: share one boot, for as long as the state policy says (:attr:`StateConfig.batch_s`): 240 s
#: while within the lifetime budget, from the alert target, not from the lifetime (with the
#: 30 s boot, the decision and the upload an alert still arrives within 300 s, the issue's goal;
#: Whytock et al. 2021 report a 7.35 min median), 12 h while over it (Sentinel's batch period,
#: the issue's reference: one boot for all the bursts of a night).
SHIPPED: dict[str, str | bool | float] = {
    "profile": "pizero2w_mcu",
    "policy": "pir_wake",
    "burst_on_wake": True,
    "batch_s": 240.0,
    "over_budget_batch_s": 43200.0,
}


def scenario(
    profile: str = str(SHIPPED["profile"]),
    policy: str = str(SHIPPED["policy"]),
    burst_on_wake: bool | None = None,
    batch_s: float = float(SHIPPED["batch_s"]),
    over_budget_batch_s: float = float(SHIPPED["over_budget_batch_s"]),
    schedule: str = "18:00-07:00",
    target_days: float = 365.0,
    warm_hold_s: float = 60.0,
    utc_offset_h: float = 0.0,
    **fields: Any,
) -> LifetimeScenario:
    """A :class:`LifetimeScenario` for a named policy on a profile (other fields as given).

    ``burst_on_wake`` defaults to whether the profile's PIR powers it up (only a power
    controller can capture while the SoC boots); ``batch_s`` and ``over_budget_batch_s``
    apply only with it.
    """
    states = load_profile(profile).states
    burst = states.pir_wakes_from_off if burst_on_wake is None else burst_on_wake
    if burst and not states.pir_wakes_from_off:
        raise ConfigError(
            f"burst_on_wake needs a power controller whose PIR wakes the device; "
            f"{profile} has none"
        )
    return LifetimeScenario(
        profile=profile,
        burst_on_wake=burst,
        states=policy_config(
            policy,
            states.pir_wakes_from_off,
            schedule,
            target_days,
            warm_hold_s,
            utc_offset_h,
            batch_s,
            over_budget_batch_s,
        ),
        **fields,
    )


def constants_table(sc: LifetimeScenario, result: LifetimeResult) -> dict[str, Constant]:
    """Every figure a run used with its source (the measured files, the profile's YAML, the
    battery preset, or ASSUMPTION)."""
    prof = f"config/power_profiles/{sc.profile}.yaml (source beside each value)"
    st = load_profile(sc.profile).states
    out = {
        f"profile.{f.name}": Constant(float(getattr(st, f.name)), prof)
        for f in dataclasses.fields(st)
        if isinstance(getattr(st, f.name), (int, float))
    }
    preset = sc.preset
    out["battery.capacity_wh"] = Constant(preset.capacity_wh, preset.source)
    out["battery.self_discharge_per_month"] = Constant(
        preset.self_discharge_per_month, "as battery.capacity_wh"
    )
    out["battery.depth_of_discharge"] = Constant(
        preset.depth_of_discharge, "as battery.capacity_wh"
    )
    policy = "the state policy's setting (StateConfig), SHIPPED says why these values"
    out.update(
        {
            f"policy.{k}": Constant(float(getattr(sc.states, k)), policy)
            for k in (
                "target_days",
                "warm_hold_s",
                "batch_s",
                "over_budget_batch_s",
                "low_battery_soc",
                "check_period_s",
            )
        }
    )
    a = sc.activity
    out["activity.events_per_day"] = Constant(
        a.events_per_day, "scenario input (issue: Whytock et al. 2021's median, 17)"
    )
    out["activity.visit_median_s"] = Constant(a.visit_median_s, "ASSUMPTION (Activity)")
    out["activity.visit_sigma"] = Constant(a.visit_sigma, "ASSUMPTION (Activity)")
    out["activity.pir_share"] = Constant(a.pir_share, a.pir_share_source)
    solar = sc.solar
    out["solar.panel_w"] = Constant(solar.panel_w, "scenario input")
    out["solar.controller_efficiency"] = Constant(
        solar.controller_efficiency, "ASSUMPTION (SolarConfig)"
    )
    out["solar.mean_clearness"] = Constant(
        sum(solar.clearness) / 12, "ASSUMPTION (monthly, DEFAULT_CLEARNESS_52N unless given)"
    )
    c = sc.climate
    out["climate.mean_c"] = Constant(c.mean_c, "ASSUMPTION (Climate)")
    out["climate.seasonal_amplitude_c"] = Constant(c.seasonal_amplitude_c, "ASSUMPTION (Climate)")
    out.update({f"graph.{k}": v for k, v in result.constants.items()})
    return out


@functools.lru_cache(maxsize=8)
def summary_line(
    profile: str,
    battery: str | BatteryPreset,
    events_per_day: float = 17.0,
    panel_w: float = 10.0,
    days: int = 365,
) -> str:
    """The lifetime model's answer for a profile and battery at a stated workload (17 events a
    day, nocturnal, the PIR-wake policy), without and with a ``panel_w`` panel at 52° N."""
    parts = []
    preset = battery if isinstance(battery, BatteryPreset) else battery_preset(battery)
    for watts in (0.0, panel_w):
        r = simulate(
            scenario(
                profile,
                "pir_wake",
                battery=preset,
                days=days,
                activity=Activity(events_per_day=events_per_day),
                solar=SolarConfig(panel_w=watts, tilt_deg=60.0),
            )
        )
        life = (
            f"energy-neutral over {days} days"
            if r.energy_neutral
            else f"{r.days_until_empty:.1f} days"
        )
        parts.append(f"{life} {f'with a {watts:g} W panel at 52N' if watts else 'no solar'}")
    return (
        f"{'; '.join(parts)} ({profile}, {preset.capacity_wh:.0f} Wh, {events_per_day:g} "
        "events/day nocturnal, PIR wake; wildcam lifetime)"
    )


def run_battery_line(profile: str | None, capacity_j: float | None) -> str:
    """The day run's battery line: :func:`summary_line` for the run's profile and a Li-ion
    battery of the run's capacity, or why there is none. A run on another device than the
    shipped one (:data:`SHIPPED`) also gets the shipped device's answer on the same battery, so
    the line says what the run's device costs against what the project ships."""
    if not profile or not capacity_j:
        return "n/a (no power profile or battery capacity in the run)"
    li = battery_preset("li18650x7")
    preset = dataclasses.replace(
        li,
        name="run",
        capacity_wh=capacity_j / 3600.0,
        source="the run's power/battery capacity; Li-ion behaviour as li18650x7",
    )
    try:
        line = summary_line(profile, preset)
    except ConfigError as err:
        return f"n/a ({err})"
    shipped = str(SHIPPED["profile"])
    if profile == shipped:
        return line
    return f"{line}; the shipped device on the same battery: {summary_line(shipped, preset)}"
