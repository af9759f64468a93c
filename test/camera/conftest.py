"""Fixtures for the camera tests: a small synthetic scene that exercises every feature."""

from __future__ import annotations

import pytest

from wildcam.camera import Interval, SceneConfig, SyntheticScene, Visit


def small_config(seed: int = 3) -> SceneConfig:
    """30 s at 320x240: three visits (one into the night), wind, rain, snow, IR on and off."""
    return SceneConfig(
        seed=seed,
        width=320,
        height=240,
        fps=10.0,
        duration_s=30.0,
        visits=(
            Visit(2.0, 10.0, "deer", 0.3, "left_to_right", 0.15),
            Visit(13.0, 8.0, "fox", 0.16, "right_to_left", 0.2, ground_y=0.78),
            Visit(20.0, 6.0, "bird", 0.08, "left_to_right", 0.3, ground_y=0.75),
        ),
        wind=(Interval(5.0, 12.0, 0.8),),
        rain=(Interval(13.0, 18.0, 0.6, "rain"), Interval(18.5, 20.0, 0.5, "snow")),
        ir_night=(Interval(22.0, 27.0),),
    )


@pytest.fixture(scope="session")
def config() -> SceneConfig:
    """The small scene's config."""
    return small_config()


@pytest.fixture(scope="session")
def scene(config: SceneConfig) -> SyntheticScene:
    """The small scene, built once per session (building draws every layer)."""
    return SyntheticScene(config)
