"""How much of what the camera sees does the PIR see? Measured from a recorded run.

The lifetime model's ``pir_share`` (:class:`wildcam.power.lifetime.Activity`) is the share of the
visits the camera's motion gate catches that the PIR also notices. It caps the capture of every
PIR-woken trap, and until a trap measures it, it is an ASSUMPTION. This module measures it from
a bag recorded at the site with the camera streaming (device state ``warm``) and the PIR reader
running (``pir_trigger``), e.g. ``wildcam bag record`` of the motion, detection, state and
trigger topics over a week:

- a *visit* is a motion event that began while the device state was ``warm`` (the camera saw
  it independently of the PIR) and that the cascade decided "animal" in at least one frame
  (``animal_only=False`` counts every motion event);
- the PIR *saw* it when a PIR trigger (``camera/trigger``, source PIR, active edge) lies within
  the event, widened by ``slack_s`` on each side (a PIR's hold-off and a slow motion gate put
  the two a few seconds apart);
- the share comes with its Wilson score interval (95 %), so a week of 40 visits is not read as
  more than it says.

All times are the messages' header stamps (capture time for the camera and motion gate, the
GPIO edge's time for a trigger), so the recorder's own delays do not matter.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.errors import InputError
from wildcam.report.bag import published, read_topics, stamp_ns

__all__ = [
    "SOURCE_PIR",
    "PirShare",
    "measure_pir_share",
    "pir_share",
    "pir_share_from_bag",
    "wilson",
]

SOURCE_PIR = 1  # wildcam/Trigger SOURCE_PIR
Z_95 = 1.959964  # standard normal quantile of 0.975: a two-sided 95 % interval


def wilson(seen: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial share ``seen / n`` (Wilson 1927); (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = seen / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PirShare:
    """The measured share of visits the PIR noticed, with its 95 % interval."""

    visits: int
    seen: int
    low: float
    high: float
    slack_s: float
    not_warm: int = 0  # motion events left out: they began while the camera was not warm
    notes: tuple[str, ...] = field(default=())

    @property
    def share(self) -> float:
        """``seen / visits``."""
        return self.seen / self.visits

    def summary(self) -> str:
        """One line: the share, its interval and what it rests on."""
        left = f"; {self.not_warm} motion events outside warm left out" if self.not_warm else ""
        return (
            f"PIR share {self.share:.3f} (95 % interval {self.low:.3f}-{self.high:.3f}): "
            f"the PIR noticed {self.seen} of {self.visits} visits the camera saw "
            f"(slack {self.slack_s:g} s){left}"
        )


def pir_share(
    visits: Sequence[tuple[float, float]], triggers: Sequence[float], slack_s: float = 5.0
) -> tuple[int, int]:
    """(visits, seen): how many of ``visits`` ((start, end) seconds) hold a trigger time within
    them, widened by ``slack_s`` each side."""
    if slack_s < 0:
        raise InputError(f"slack must be >= 0 s, got {slack_s:g}")
    times = sorted(triggers)
    seen = 0
    for start, end in visits:
        i = bisect.bisect_left(times, start - slack_s)
        seen += i < len(times) and times[i] <= end + slack_s
    return len(visits), seen


def _state_at(states: Sequence[tuple[int, str]], t: int) -> str | None:
    """The device state in force at ``t`` (ns) from time-ordered (stamp, state); None before
    the first."""
    i = bisect.bisect_right([s for s, _ in states], t)
    return states[i - 1][1] if i else None


def _motion_events(records: Sequence[tuple[int, Any]]) -> list[tuple[int, int, int]]:
    """(event_id, start ns, end ns) of every motion event, by header stamps (an event still
    open when the recording stops ends at its last message)."""
    opened: dict[int, tuple[int, int]] = {}
    events: list[tuple[int, int, int]] = []
    for _, msg in records:
        if not msg.event_id:
            continue
        t = stamp_ns(msg.header.stamp)
        start, _ = opened.get(msg.event_id, (t, t))
        opened[msg.event_id] = (start, t)
        if msg.event_ended:
            events.append((msg.event_id, *opened.pop(msg.event_id)))
    events += [(eid, start, last) for eid, (start, last) in opened.items()]
    return sorted(events, key=lambda e: e[1])


def pir_share_from_bag(
    bag: str | Path, slack_s: float = 5.0, animal_only: bool = True
) -> PirShare:
    """Measure the PIR share from a recorded bag (see the module's docstring).

    Raises BagError for a bad bag and InputError when the bag holds no motion events, no PIR
    trigger topic, or no visit to count.
    """
    topic = {
        "motion": published("wildcam/MotionEvent"),
        "detections": published("wildcam/DetectionArray"),
        "state": published("wildcam/PowerState"),
        "trigger": published("wildcam/Trigger"),
    }
    msgs = read_topics(Path(bag), topic.values())
    if not msgs[topic["motion"]]:
        raise InputError(f"{bag}: no {topic['motion']} messages: record the motion gate's topic")
    if not msgs[topic["trigger"]]:
        raise InputError(
            f"{bag}: no {topic['trigger']} messages: run pir_trigger and record its topic"
        )
    notes: list[str] = []
    states = [(stamp_ns(m.header.stamp), str(m.device_state)) for _, m in msgs[topic["state"]]]
    states.sort()
    if not states:
        notes.append(f"no {topic['state']} in the bag: every motion event counted as warm")
    animal: dict[int, list[int]] = {}
    for _, m in msgs[topic["detections"]]:
        if len(m.detections):
            animal.setdefault(int(m.event_id), []).append(stamp_ns(m.header.stamp))
    triggers = [
        stamp_ns(m.header.stamp) / 1e9
        for _, m in msgs[topic["trigger"]]
        if int(m.source) == SOURCE_PIR and bool(m.active)
    ]
    visits: list[tuple[float, float]] = []
    not_warm = 0
    for eid, start, end in _motion_events(msgs[topic["motion"]]):
        if states and _state_at(states, start) != "warm":
            not_warm += 1
            continue
        if animal_only and not any(start <= t <= end for t in animal.get(eid, ())):
            continue
        visits.append((start / 1e9, end / 1e9))
    if not visits:
        raise InputError(
            f"{bag}: no motion event "
            + ("decided animal " if animal_only else "")
            + "began while the camera was warm: nothing to measure the PIR against"
        )
    n, seen = pir_share(visits, triggers, slack_s)
    low, high = wilson(seen, n)
    return PirShare(n, seen, low, high, slack_s, not_warm, tuple(notes))


def measure_pir_share(bag: str | Path, slack_s: float = 5.0) -> tuple[float, str]:
    """The share measured from ``bag`` and its source line for the lifetime model's constants."""
    measured = pir_share_from_bag(bag, slack_s)
    return measured.share, f"measured: {bag}: {measured.summary()}"
