"""The device-state policy: warm, watch or sleep, from the schedule, triggers, battery and a
lifetime target. Pure logic (no rclpy); the power manager node feeds it, the lifetime model
runs it.

States, dearest first: ``warm`` (camera streaming, motion gate running, pre-event ring buffer
filled), ``watch`` (camera closed, CPU idle; a PIR or a timer calls the camera), ``sleep`` (halted
or powered off until the RTC, a PIR or the controller's timer wakes the device).

What the device *can* do comes with the inputs (from the profile's wake sources,
:func:`capabilities`): ``sleep`` needs something that wakes it at a set time (RTC alarm or timer);
``watch`` needs a trigger (PIR or timer) and ``watch_enabled``. A state the device cannot take
falls back to the next dearer one: sleep → watch → warm. A device with no wake source is always
warm.

Each :meth:`StatePolicy.update`, in order of precedence:

1. **trigger**: a trigger or motion less than ``warm_hold_s`` ago → ``warm`` (in or out of the
   active windows: the event is being captured);
2. **outside the active windows** (``schedule``, local time ``utc_offset_h``) →
   ``outside_state`` (default ``sleep``);
3. **inside a window**, battery known and below ``low_battery_soc``, or **over the lifetime
   budget** (:class:`LifetimeBudget`: energy spent per day so far above what the energy left plus
   the expected harvest allows per day until the target) → ``over_budget_state`` (default
   ``watch``); resting inside a window in ``sleep`` also needs a PIR that wakes the device from
   off (``pir_wakes``), else it is ``watch``, so no event is slept through;
4. otherwise → ``idle_state`` (default ``warm``).

Sleep waits while work is pending (``held_frames``: bursts the power controller held while the
SoC was off, not yet analysed; ``busy``: uploads queued and the link up): the device rests in
watch until they are analysed and sent, so a wake's batch goes out before the power goes off.

Over budget is entered when the spending rate exceeds the allowed rate and left only when it is
``budget_hysteresis`` below it. When the state is ``sleep``, ``wake_at_s`` says when the RTC must
wake the device: the next window start, and at most ``check_period_s`` ahead (a periodic check of
battery and schedule), and ``batch_s`` how long a power controller that captures a burst on the
PIR edge may hold bursts before it powers the device up to analyse and send them together:
``batch_s`` within the budget (alerts come soon), ``over_budget_batch_s`` when over the lifetime
budget or the battery is low (bursts close together share one boot; alerts come later). Each
boot costs the profile's ``boot_j`` whatever it analyses, so holding bursts is what a tight
budget buys lifetime with, and the alert delay is what it costs. Unknown inputs (NaN) never
force a state: an unknown battery is not low; with no known battery, spent energy or capacity
the budget is not over; an unknown temperature does not derate the cells; unknown harvest
counts as none.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from wildcam.errors import ConfigError
from wildcam.params import check_ranges, param
from wildcam.power.policy import cold_usable_fraction
from wildcam.power.profile import PowerStates
from wildcam.types import DAY_S
from wildcam.upload.policy import in_windows, parse_windows

__all__ = [
    "DEVICE_STATES",
    "BudgetStatus",
    "LifetimeBudget",
    "Schedule",
    "StateConfig",
    "StateDecision",
    "StateInputs",
    "StatePolicy",
    "capabilities",
    "parse_schedule",
]

DEVICE_STATES = ("sleep", "watch", "warm")
_FALLBACK = {"sleep": "watch", "watch": "warm"}


def parse_schedule(text: str) -> tuple[tuple[int, int], ...]:
    """``"18:00-07:00,12:00-13:00"`` as (start, end) minutes of the local day (the uploader's
    window syntax, :func:`wildcam.upload.policy.parse_windows`); ``""`` gives none."""
    try:
        windows = parse_windows(text)
    except ConfigError as err:
        raise ConfigError(f"schedule: {err}") from None
    empty = [w for w in windows if w[0] % 1440 == w[1] % 1440]
    if empty:
        raise ConfigError(f"schedule window {text!r}: start and end must differ")
    return windows


@dataclass(frozen=True)
class Schedule:
    """Active windows in local time (``utc_offset_h`` from UTC); no windows = always active."""

    windows: tuple[tuple[int, int], ...] = ()
    utc_offset_h: float = 0.0

    def active(self, t_s: float) -> bool:
        """Whether epoch time ``t_s`` lies in an active window."""
        return in_windows(self.windows, t_s + self.utc_offset_h * 3600.0)

    def _next(self, t_s: float, minutes: list[int]) -> float | None:
        if not minutes:
            return None
        now = ((t_s + self.utc_offset_h * 3600.0) % DAY_S) / 60.0
        ahead = min((m - now) % 1440.0 or 1440.0 for m in minutes)
        return t_s + ahead * 60.0

    def next_start_s(self, t_s: float) -> float | None:
        """The next window start strictly after ``t_s`` (None: always active)."""
        return self._next(t_s, [w[0] for w in self.windows])

    def next_boundary_s(self, t_s: float) -> float | None:
        """The next window start or end strictly after ``t_s`` (None: always active)."""
        return self._next(t_s, [m for w in self.windows for m in w])


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"service_date {text!r} is not YYYY-MM-DD") from None


@dataclass(frozen=True)
class StateConfig:
    """The device-state policy's settings (declared as the power manager's parameters)."""

    schedule: str = param(
        "",
        "Active windows in local time, 'HH:MM-HH:MM,...' (may wrap past "
        "midnight, e.g. '18:00-07:00'); '' = always active.",
    )
    utc_offset_h: float = param(
        0.0,
        "Local time offset from UTC of the schedule and service date (hours).",
        min=-14.0,
        max=14.0,
    )
    target_days: float = param(
        0.0,
        "Lifetime target: days from the policy's start the battery "
        "must last (0 = none; service_date wins).",
        min=0.0,
        max=3650.0,
    )
    service_date: str = param(
        "",
        "Lifetime target as a local date YYYY-MM-DD the trap must "
        "reach (its midnight); '' = use target_days.",
    )
    warm_hold_s: float = param(
        60.0, "Stay warm this long after the last trigger or motion (s).", min=0.0, max=86400.0
    )
    watch_enabled: bool = param(
        True,
        "A PIR or timer is fitted: the watch state (camera closed, trigger opens it) may be used.",
    )
    idle_state: str = param(
        "warm",
        "State inside an active window with no recent trigger, within budget.",
        choices=DEVICE_STATES,
    )
    over_budget_state: str = param(
        "watch",
        "State inside an active window when over the lifetime budget or the battery is low.",
        choices=("sleep", "watch"),
    )
    outside_state: str = param(
        "sleep",
        "State outside the active windows (a window start wakes the device).",
        choices=DEVICE_STATES,
    )
    low_battery_soc: float = param(
        0.15,
        "Battery state of charge below which the policy acts as over budget.",
        min=0.0,
        max=1.0,
    )
    budget_hysteresis: float = param(
        0.05,
        "Leave over-budget only when spending is this fraction below the allowed rate.",
        min=0.0,
        max=0.5,
    )
    check_period_s: float = param(
        43200.0,
        "Longest sleep before the RTC wakes the device to "
        "check battery and schedule (s); each check costs a boot.",
        min=60.0,
        max=604800.0,
    )
    batch_s: float = param(
        0.0,
        "Asleep with a power controller that captures a burst on the "
        "PIR edge: it holds bursts up to this long before it powers the "
        "device up to analyse and send them together (s; 0 = at once).",
        min=0.0,
        max=86400.0,
    )
    over_budget_batch_s: float = param(
        43200.0,
        "The same while over the lifetime budget or "
        "the battery is low (s): fewer boots, later alerts "
        "(12 h: Sentinel's batch period).",
        min=0.0,
        max=86400.0,
    )

    def __post_init__(self) -> None:
        check_ranges(self)
        parse_schedule(self.schedule)
        if self.service_date:
            _parse_date(self.service_date)

    def parsed_schedule(self) -> Schedule:
        """The schedule's windows with the offset."""
        return Schedule(parse_schedule(self.schedule), self.utc_offset_h)

    def target_s(self, start_s: float) -> float | None:
        """Epoch seconds of the lifetime target (None: no target)."""
        if self.service_date:
            day = _parse_date(self.service_date)
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
            return midnight - self.utc_offset_h * 3600.0
        return start_s + self.target_days * DAY_S if self.target_days > 0 else None


@dataclass(frozen=True)
class StateInputs:
    """What the policy sees at one instant. NaN: unknown. Capabilities default to none."""

    battery: float = math.nan  # state of charge 0..1
    temperature_c: float = math.nan  # battery cells (cold derates the energy left)
    harvest_j_per_day: float = math.nan  # expected harvest (solar, charger) per day
    last_trigger_s: float = math.nan  # node-clock time of the last camera trigger
    last_motion_s: float = math.nan  # ... of the last motion event
    spent_j: float = math.nan  # energy spent since the policy started
    capacity_j: float = math.nan  # battery capacity
    can_sleep: bool = False  # a timed wake (RTC, timer) is fitted
    can_watch: bool = False  # a trigger (PIR, timer) can call the closed camera
    pir_wakes: bool = False  # a PIR edge powers the device up from sleep
    busy: bool = False  # work pending (uploads queued, link up): stay up
    held_frames: int = 0  # held burst frames not yet analysed: stay up


def capabilities(states: PowerStates) -> dict[str, bool]:
    """The capability fields of :class:`StateInputs` for a profile's power states."""
    return {
        "can_sleep": states.can_sleep,
        "can_watch": states.can_watch,
        "pir_wakes": states.pir_wakes_from_off,
    }


@dataclass(frozen=True)
class BudgetStatus:
    """Energy allowed per day to reach the target, against what was spent per day so far."""

    allowed_j_per_day: float
    spent_j_per_day: float
    energy_left_j: float
    days_left: float

    @property
    def ratio(self) -> float:
        """Spent over allowed (NaN when unknown)."""
        if math.isnan(self.allowed_j_per_day) or math.isnan(self.spent_j_per_day):
            return math.nan
        return self.spent_j_per_day / max(self.allowed_j_per_day, 1e-9)


@dataclass(frozen=True)
class LifetimeBudget:
    """Spend the energy left (plus the expected harvest) evenly until ``target_s``."""

    start_s: float
    target_s: float

    def status(self, now_s: float, inputs: StateInputs) -> BudgetStatus:
        """The budget at ``now_s`` from the battery (or spent vs capacity) and the harvest."""
        days_left = max((self.target_s - now_s) / DAY_S, 1.0 / 24.0)
        elapsed_days = max((now_s - self.start_s) / DAY_S, 1.0 / 24.0)
        usable = cold_usable_fraction(inputs.temperature_c)
        if not math.isnan(inputs.battery) and not math.isnan(inputs.capacity_j):
            left = inputs.battery * inputs.capacity_j * usable
        elif not math.isnan(inputs.spent_j) and not math.isnan(inputs.capacity_j):
            left = max(0.0, inputs.capacity_j - inputs.spent_j) * usable
        else:
            left = math.nan
        harvest = 0.0 if math.isnan(inputs.harvest_j_per_day) else inputs.harvest_j_per_day
        allowed = left / days_left + harvest
        spent = inputs.spent_j / elapsed_days
        return BudgetStatus(allowed, spent, left, days_left)


@dataclass(frozen=True)
class StateDecision:
    """The state after an update, why, whether it just changed, since when, and (asleep) when
    the RTC must wake the device and how long a power controller may hold PIR bursts."""

    state: str
    reason: str
    changed: bool
    since_s: float
    wake_at_s: float | None
    batch_s: float | None = None


class StatePolicy:
    """The state machine: call :meth:`update` with the node-clock time and the inputs.

    ``budget_start_s``: when the deployment (and its ``spent_j``) began, kept across sleeps by
    the caller so a woken device goes on with the same budget (default: ``now_s``).
    """

    def __init__(
        self,
        config: StateConfig,
        now_s: float = 0.0,
        initial: str = "warm",
        budget_start_s: float | None = None,
    ) -> None:
        if initial not in DEVICE_STATES:
            raise ConfigError(
                f"unknown device state {initial!r}; one of {', '.join(DEVICE_STATES)}"
            )
        self.config = config
        self.schedule = config.parsed_schedule()
        start = now_s if budget_start_s is None else budget_start_s
        target = config.target_s(start)
        self.budget = LifetimeBudget(start, target) if target is not None else None
        self.state = initial
        self.reason = "start"
        self.since_s = now_s
        self.over_budget = False
        self.low_battery = False
        self.last_budget: BudgetStatus | None = None

    def _over_budget(self, now_s: float, inputs: StateInputs) -> bool:
        if self.budget is None:
            return False
        status = self.last_budget = self.budget.status(now_s, inputs)
        ratio = status.ratio
        if math.isnan(ratio):
            return self.over_budget
        limit = 1.0 - self.config.budget_hysteresis if self.over_budget else 1.0
        self.over_budget = ratio > limit
        return self.over_budget

    def _possible(self, state: str, inputs: StateInputs, resting_in_window: bool) -> str:
        while True:
            ok = (
                state == "warm"
                or (state == "watch" and inputs.can_watch and self.config.watch_enabled)
                or (
                    state == "sleep"
                    and inputs.can_sleep
                    and (inputs.pir_wakes or not resting_in_window)
                )
            )
            if ok:
                return state
            state = _FALLBACK[state]

    def _propose(self, now_s: float, inputs: StateInputs) -> tuple[str, str]:
        c = self.config
        over = self._over_budget(now_s, inputs)
        last = max(
            (t for t in (inputs.last_trigger_s, inputs.last_motion_s) if not math.isnan(t)),
            default=math.nan,
        )
        low = self.low_battery = (
            not math.isnan(inputs.battery) and inputs.battery < c.low_battery_soc
        )
        if not math.isnan(last) and 0.0 <= now_s - last < c.warm_hold_s:
            return "warm", f"trigger {now_s - last:.0f} s ago (hold {c.warm_hold_s:.0f} s)"
        if not self.schedule.active(now_s):
            return c.outside_state, "outside the active windows"
        if low:
            return (
                c.over_budget_state,
                f"battery {inputs.battery:.0%} below {c.low_battery_soc:.0%}",
            )
        if over and self.last_budget is not None:
            b = self.last_budget
            return c.over_budget_state, (
                f"over the lifetime budget: {b.spent_j_per_day:.0f} "
                f"J/day spent, {b.allowed_j_per_day:.0f} allowed"
            )
        return c.idle_state, "active window, no recent trigger"

    def _wake_at(self, now_s: float) -> float:
        wake = now_s + self.config.check_period_s
        start = self.schedule.next_start_s(now_s)
        return min(wake, start) if start is not None and not self.schedule.active(now_s) else wake

    def update(self, now_s: float, inputs: StateInputs) -> StateDecision:
        """Advance to ``now_s`` with ``inputs``; return the (possibly new) state and its reason."""
        wanted, reason = self._propose(now_s, inputs)
        if wanted == "sleep" and inputs.held_frames > 0:
            wanted, reason = "watch", f"{reason}; {inputs.held_frames} held frames to analyse"
        elif wanted == "sleep" and inputs.busy:
            wanted, reason = "watch", f"{reason}; uploads pending, staying up to send them"
        resting = self.schedule.active(now_s) and wanted != "warm"
        state = self._possible(wanted, inputs, resting)
        if state != wanted:
            reason += f" ({wanted} not possible on this device)"
        changed = state != self.state
        if changed:
            self.state, self.since_s = state, now_s
        self.reason = reason
        if state != "sleep":
            return StateDecision(state, reason, changed, self.since_s, None)
        return StateDecision(
            state, reason, changed, self.since_s, self._wake_at(now_s), self.batch_hold_s()
        )

    def batch_hold_s(self) -> float:
        """How long a power controller may hold PIR bursts before it wakes the device: longer
        while over the lifetime budget or the battery is low (as of the last update)."""
        c = self.config
        return c.over_budget_batch_s if self.over_budget or self.low_battery else c.batch_s
