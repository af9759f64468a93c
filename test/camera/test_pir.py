"""The synthetic scene's PIR: range, heat contrast, probability, seeded and aligned to visits."""

from __future__ import annotations

from dataclasses import replace

from wildcam.camera.pir import PirModel, pir_outcomes
from wildcam.camera.presets import day_scene
from wildcam.camera.scene import Interval, SceneConfig, Visit
from wildcam.camera.synthetic import SyntheticScene


def _scene(*visits: Visit, day: bool = False) -> SceneConfig:
    return SceneConfig(
        duration_s=100.0, visits=visits, day_length_s=100.0 if day else None, day_start=0.0
    )


def test_range_contrast_and_timing() -> None:
    scene = _scene(
        Visit(10.0, 8.0, "deer", 0.3),
        Visit(30.0, 8.0, "deer", 0.05),
        Visit(50.0, 8.0, "bird", 0.3),
    )
    spans = [Interval(10.5, 17.5), Interval(30.5, 37.5), Interval(50.5, 57.5)]
    deer, far, bird = pir_outcomes(scene, spans, PirModel(probability=1.0, latency_s=0.3))
    assert deer.noticed and (deer.on_s, deer.off_s) == (10.8, 17.5)
    assert not far.noticed and "out of range" in far.reason
    assert not bird.noticed and "heat contrast" in bird.reason


def test_warm_ground_at_noon_hides_the_fox_it_shows_at_night() -> None:
    night = Visit(5.0, 5.0, "fox", 0.2)  # day fraction 0.05: night
    noon = Visit(50.0, 5.0, "fox", 0.2)  # 0.5: noon
    scene = _scene(night, noon, day=True)
    model = PirModel(probability=1.0, min_contrast=0.5)
    at_night, at_noon = pir_outcomes(scene, [Interval(5, 10), Interval(50, 55)], model)
    assert at_night.noticed and not at_noon.noticed
    assert at_noon.contrast < at_night.contrast


def test_seeded_probability_and_the_day_preset() -> None:
    scene = day_scene(120.0, seed=0)
    spans = SyntheticScene(scene).visit_spans
    first = pir_outcomes(scene, spans)
    assert first == pir_outcomes(scene, spans)  # same seed, same misses
    assert len(first) == len(scene.visits) and all(o.on_s < o.off_s for o in first if o.noticed)
    bird = next(o for o in first if o.species == "bird")
    assert not bird.noticed  # small and cold: the trap's blind spot
    coin = PirModel(probability=0.5)
    draws = {
        tuple(o.noticed for o in pir_outcomes(replace(scene, seed=s), spans, coin))
        for s in range(8)
    }
    assert len(draws) > 1  # the seed decides the chance misses
