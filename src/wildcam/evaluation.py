"""Scoring detected motion events against ground-truth visits (no ROS).

A ground-truth visit is recalled when a detected event overlaps it in time (with ``slack_s`` of
tolerance at both ends, for the gate's start delay and end gap). A detected event that overlaps
no visit is a false event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EventScore", "Span", "score_events"]

Span = tuple[float, float]


@dataclass(frozen=True)
class EventScore:
    """How detected events compare with the ground truth."""

    visits: int
    recalled: int
    detected: int
    false_spans: tuple[Span, ...]

    @property
    def false_events(self) -> int:
        """Detected events that overlap no visit."""
        return len(self.false_spans)

    @property
    def recall(self) -> float:
        """Share of visits recalled (1.0 when there was none to find)."""
        return self.recalled / self.visits if self.visits else 1.0


def _overlaps(a: Span, b: Span, slack_s: float) -> bool:
    return a[0] <= b[1] + slack_s and b[0] <= a[1] + slack_s


def score_events(
    detected: Sequence[Span], visits: Sequence[Span], slack_s: float = 1.0
) -> EventScore:
    """Score ``detected`` ``(start, end)`` spans against ground-truth ``visits`` (seconds)."""
    recalled = sum(any(_overlaps(v, d, slack_s) for d in detected) for v in visits)
    false_spans = tuple(d for d in detected if not any(_overlaps(d, v, slack_s) for v in visits))
    return EventScore(len(visits), recalled, len(detected), false_spans)
