"""Fixtures for the motion-gate tests (frame helpers live in ``motion_frames``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from motion_frames import FULL, SmallScene  # test-local helpers

from wildcam.motion import MotionConfig, MotionGate


@pytest.fixture
def scene() -> SmallScene:
    """A fresh static background (seeded)."""
    return SmallScene(seed=1)


@pytest.fixture
def make_gate() -> Callable[..., MotionGate]:
    """Factory: ``make_gate(**config_changes)`` gives a gate for a 640x480 camera."""

    def make(**changes: object) -> MotionGate:
        return MotionGate(MotionConfig(**changes), FULL)  # type: ignore[arg-type]

    return make


@pytest.fixture
def gate() -> MotionGate:
    """A gate with default settings for a 640x480 camera."""
    return MotionGate(MotionConfig(), FULL)
