"""Helpers shared by the bag tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

import dataclasses

from wildcam.camera.synthetic import SceneConfig, Visit, empty_scene

FPS = 10.0


def small_scene(duration_s: float = 5.0, width: int = 320, height: int = 240) -> SceneConfig:
    """A short scene with a fox walking through, small enough to render in well under a second."""
    base = empty_scene(duration_s, seed=3)
    visit = Visit(min(0.5, duration_s / 4), duration_s / 2, "fox", size=0.3, speed=0.6)
    return dataclasses.replace(base, width=width, height=height, fps=FPS, visits=(visit,))
