"""Lifecycle (managed node) transitions without ROS: the path from a node's state to a goal.

A lifecycle manager (``wildcam bringup``'s helper, the power manager) asks a managed node for its
state (``get_state``) and sends the transitions of :func:`transitions_to` (``change_state``), as
nav2's lifecycle manager does. Only the primary states are goals: ``active`` (configure, then
activate) and ``inactive`` (deactivate an active node; an unconfigured one stays so: it holds
no device). A finalized node takes no transition.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["GOALS", "Goal", "transitions_to"]

Goal = Literal["active", "inactive"]
GOALS: tuple[Goal, ...] = ("active", "inactive")

_PATHS: dict[tuple[str, Goal], tuple[str, ...]] = {
    ("unconfigured", "active"): ("configure", "activate"),
    ("inactive", "active"): ("activate",),
    ("active", "inactive"): ("deactivate",),
}


def transitions_to(state: str, goal: Goal) -> tuple[str, ...]:
    """The transitions (lifecycle_msgs/Transition names, lower case) that take a node in the
    primary state ``state`` (its label) to ``goal``; empty when it is there or cannot go."""
    return _PATHS.get((state, goal), ())
