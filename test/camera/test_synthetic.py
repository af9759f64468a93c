"""The synthetic scene: determinism, ground truth that matches the pixels, nuisances."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam.camera import (
    Interval,
    SceneConfig,
    SyntheticScene,
    SyntheticSource,
    load_ground_truth,
    load_scene,
    synthetic,
)
from wildcam.camera._draw import Layer, Plant
from wildcam.camera.synthetic import MIN_VISIBLE


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def frame_at(scene: SyntheticScene, t: float) -> int:
    return round(t * scene.config.fps)


def test_same_config_renders_identical_bytes_in_any_order(
    config: SceneConfig, scene: SyntheticScene
) -> None:
    indices = [0, 57, 140, 230, 299]
    forward = [scene.render(i).tobytes() for i in indices]
    again = SyntheticScene(config)
    backward = [again.render(i).tobytes() for i in reversed(indices)]
    assert forward == backward[::-1]


def test_windy_frames_are_the_same_bytes_in_any_order_and_after_evictions(
    config: SceneConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Frames 40..130 span calm, wind, rain and back: vegetation patches are drawn, reused
    # and (with a two-patch cache) evicted and drawn again in a different order.
    indices = list(range(40, 131, 3))
    forward = SyntheticScene(config)
    expected = [forward.render(i).tobytes() for i in indices]
    monkeypatch.setattr(synthetic, "SWAY_CACHE", 2)
    shuffled = SyntheticScene(config)
    order = np.random.default_rng(1).permutation(len(indices))
    got = {int(k): shuffled.render(indices[k]).tobytes() for k in order}
    assert [got[k] for k in range(len(indices))] == expected
    assert [shuffled.render(i).tobytes() for i in indices] == expected


def test_clumps_of_overlapping_plants_render_as_if_blended_in_order() -> None:
    def plant(x: int, y: int, w: int, h: int, shade: float, anchor: str) -> Plant:
        alpha = np.zeros((h, w), np.float32)
        alpha[2:-2, 3:-3] = 0.8
        colour = cv2.merge([alpha * shade * k for k in (0.5, 1.0, 0.7)])
        return Plant(x, y, Layer(colour, alpha), anchor, 3.0, 0.5, 0.0)

    # a and b overlap; c, met before b, overlaps neither but lies inside their joint
    # rectangle; d stands apart
    plants = [
        plant(2, 4, 20, 14, 200.0, "bottom"),
        plant(25, 2, 8, 8, 150.0, "bottom"),
        plant(14, 12, 20, 16, 90.0, "top"),
        plant(40, 20, 16, 20, 120.0, "bottom"),
    ]
    clumps = synthetic._clumps(plants, 64, 48)
    assert sorted(c.members for c in clumps) == [(0, 1, 2), (3,)]
    bare = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    look = synthetic._Look(bare, plants, [p.layer for p in plants], clumps)
    for steps in ([0, 0, 0, 0], [4, -6, 2, 9], [0, -6, 0, 1], [4, -6, 2, 9]):
        expected = bare.copy()
        for p, step in zip(plants, steps):
            layer = synthetic._sway(p.layer, p, step * synthetic.SWAY_STEP_PX) if step else p.layer
            layer.blend_onto(expected, p.x, p.y)
        assert np.array_equal(look.vegetation(steps), expected), steps


def test_rounded_layers_blend_within_one_grey_level_of_float_layers() -> None:
    rng = np.random.default_rng(2)
    alpha = cv2.GaussianBlur((rng.random((30, 40)) > 0.5).astype(np.float32), (5, 5), 0)
    colour = cv2.merge([alpha * float(v) for v in rng.uniform(0, 255, 3)])
    for layer in (Layer(colour, alpha), Layer(np.ascontiguousarray(colour[..., 1]), alpha)):
        dst = rng.integers(0, 256, (50, 60, *layer.colour.shape[2:]), dtype=np.uint8)
        for x, y in ((10, 5), (-7, 30), (45, -12)):  # inside, and cut by two edges
            exact, fast = dst.copy(), dst.copy()
            layer.blend_onto(exact, x, y)
            layer.rounded().blend_onto(fast, x, y)
            assert np.abs(exact.astype(int) - fast.astype(int)).max() <= 1
            uncovered = np.ones(dst.shape[:2], bool)
            uncovered[max(y, 0) : y + 30, max(x, 0) : x + 40] = False
            assert np.array_equal(fast[uncovered], dst[uncovered])


def test_different_seed_renders_different_frames(
    config: SceneConfig, scene: SyntheticScene
) -> None:
    other = SyntheticScene(replace(config, seed=config.seed + 1))
    for i in (0, 100):
        diff = np.abs(scene.render(i).astype(int) - other.render(i).astype(int))
        assert (diff > 10).mean() > 0.2


def test_frames_are_contiguous_bgr_of_the_configured_size(scene: SyntheticScene) -> None:
    img = scene.render(0)
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8 and img.flags.c_contiguous
    with pytest.raises(IndexError):
        scene.render(scene.n_frames)


def test_truth_boxes_lie_inside_the_frame(scene: SyntheticScene) -> None:
    seen = 0
    for i in range(scene.n_frames):
        truth = scene.truth(i)
        assert len(truth.boxes) == len(truth.species)
        for box in truth.boxes:
            assert box.w > 0 and box.h > 0
            assert box.clipped(scene.width, scene.height) == box
            seen += 1
    assert seen > 150


def _fully_tracked(scene: SyntheticScene, i: int) -> bool:
    """Every visit in progress at frame ``i`` is in the truth (none is a sliver at an edge)."""
    t = scene.stamp(i)
    active = sum(v.start_s <= t < v.end_s for v in scene.config.visits)
    return active > 0 and len(scene.truth(i).boxes) == active


def test_animal_pixels_differ_from_the_empty_scene_only_inside_their_boxes(
    config: SceneConfig, scene: SyntheticScene
) -> None:
    empty = SyntheticScene(replace(config, visits=()))
    frames = [i for i in range(0, scene.n_frames, 7) if _fully_tracked(scene, i)]
    assert len(frames) > 20
    for i in frames:
        changed = np.any(scene.render(i) != empty.render(i), axis=2)
        inside = np.zeros_like(changed)
        for box in scene.truth(i).boxes:
            box_changed = changed[box.y : box.y + box.h, box.x : box.x + box.w]
            at_edge = box.x == 0 or box.x + box.w == scene.width
            assert box_changed.mean() > (0.1 if at_edge else 0.3), (i, box)
            x0, y0 = max(box.x - 2, 0), max(box.y - 2, 0)
            inside[y0 : box.y + box.h + 2, x0 : box.x + box.w + 2] = True
        assert not changed[~inside].any(), i


@pytest.mark.parametrize(("ir", "minimum"), [(False, 25.0), (True, 15.0)])
def test_animals_stand_out_from_the_local_background(
    config: SceneConfig, scene: SyntheticScene, ir: bool, minimum: float
) -> None:
    empty = SyntheticScene(replace(config, visits=()))
    contrasts = []
    for i in range(0, scene.n_frames, 3):
        truth = scene.truth(i)
        if truth.ir != ir or not _fully_tracked(scene, i) or "ir_switch" in truth.nuisances:
            continue
        frame, background = scene.render(i), empty.render(i)
        changed = np.any(frame != background, axis=2).astype(np.uint8)
        animal = cv2.erode(changed, np.ones((3, 3), np.uint8)).astype(bool)  # no soft edges
        delta = np.abs(luma(frame) - luma(background))
        contrasts.append(float(delta[animal].mean()))
    assert len(contrasts) > 5
    assert min(contrasts) >= minimum


def test_events_match_the_configured_visits(scene: SyntheticScene) -> None:
    visits = scene.config.visits
    assert len(scene.events) == len(visits)
    for event, visit in zip(scene.events, sorted(visits, key=lambda v: v.start_s)):
        assert event.kind == visit.species
        assert 0 <= event.start_s - visit.start_s < 1.5
        assert 0 <= visit.end_s - event.end_s < 1.5
    for i in range(scene.n_frames):  # the truth and the events agree frame by frame
        t = scene.stamp(i)
        expected = sorted(e.kind for e in scene.events if e.contains(t))
        assert sorted(scene.truth(i).species) == expected, i


def test_entering_animal_is_clipped_at_the_edge(scene: SyntheticScene) -> None:
    first = frame_at(scene, scene.events[0].start_s)
    box = scene.truth(first).boxes[0]
    assert box.x == 0  # the deer walks in from the left
    later = scene.truth(first + 10).boxes[0]
    assert later.area > box.area
    assert box.area >= MIN_VISIBLE * later.h * later.w * 0.5


def test_ir_frames_are_grey_and_day_frames_are_not(scene: SyntheticScene) -> None:
    for i in range(0, scene.n_frames, 5):
        img = scene.render(i)
        grey = bool((img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all())
        assert grey == scene.truth(i).ir == (22.0 <= scene.stamp(i) < 27.0), i


def test_ir_switch_is_a_sudden_global_change(scene: SyntheticScene) -> None:
    means = [float(luma(scene.render(i)).mean()) for i in range(200, 290)]
    steps = np.abs(np.diff(means))
    on, off = 220 - 200 - 1, 270 - 200 - 1  # steps into frames 220 (22 s) and 270 (27 s)
    assert steps[on] > 10 and steps[off] > 10
    settling = [i + k for i in (on, off) for k in range(5)]  # exposure settles within 0.5 s
    assert np.delete(steps, settling).max() < 2


def test_nuisance_intervals_are_as_configured(scene: SyntheticScene) -> None:
    spans = scene.nuisance_intervals
    assert spans["wind"] == (Interval(5.0, 12.0, 0.8),)
    assert spans["rain"] == (Interval(13.0, 18.0, 0.6, "rain"),)
    assert spans["snow"] == (Interval(18.5, 20.0, 0.5, "snow"),)
    assert spans["ir"] == (Interval(22.0, 27.0),)
    assert [(s.start_s, s.end_s) for s in spans["ir_switch"]] == [(21.5, 22.5), (26.5, 27.5)]
    for t, expected in (
        (1.0, set()),
        (6.0, {"wind"}),
        (15.0, {"rain"}),
        (19.0, {"snow"}),
        (21.6, {"ir_switch"}),
        (22.3, {"ir", "ir_switch"}),
        (24.0, {"ir"}),
    ):
        assert scene.truth(frame_at(scene, t)).nuisances == expected, t


def test_wind_sways_only_the_vegetation(config: SceneConfig, scene: SyntheticScene) -> None:
    calm = SyntheticScene(replace(config, wind=(), visits=()))
    windy = SyntheticScene(replace(config, visits=()))
    for t in (7.0, 9.3):
        i = frame_at(scene, t)
        moved = np.abs(luma(windy.render(i)) - luma(calm.render(i))) > 20
        assert moved.sum() > 300  # clearly visible
        assert cv2.dilate(moved.astype(np.uint8), np.ones((9, 9), np.uint8)).mean() < 0.35


def test_rain_streaks_cover_the_frame_and_move_every_frame(
    config: SceneConfig, scene: SyntheticScene
) -> None:
    dry = SyntheticScene(replace(config, rain=(), visits=()))
    wet = SyntheticScene(replace(config, visits=()))
    i = frame_at(scene, 15.0)
    streaks = [luma(wet.render(j)) - luma(dry.render(j)) > 15 for j in (i, i + 1)]
    h, w = streaks[0].shape
    for quadrant in ((slice(0, h // 2), slice(0, w // 2)), (slice(h // 2, h), slice(w // 2, w))):
        assert streaks[0][quadrant].sum() > 30
    overlap = (streaks[0] & streaks[1]).sum() / streaks[0].sum()
    assert overlap < 0.3


def test_illumination_drifts_slowly(config: SceneConfig) -> None:
    drifting = SyntheticScene(
        replace(
            config,
            visits=(),
            wind=(),
            rain=(),
            ir_night=(),
            illumination_drift=0.1,
            drift_period_s=120.0,
        )
    )
    means = np.array([luma(drifting.render(i)).mean() for i in range(0, 300, 10)])
    assert np.ptp(means) / means.mean() > 0.04  # it does drift over 30 s ...
    assert np.abs(np.diff(means)).max() / means.mean() < 0.02  # ... but slowly


def test_ground_truth_json_round_trip(scene: SyntheticScene, tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    scene.write_ground_truth(path)
    loaded = load_ground_truth(path)
    assert loaded == scene.ground_truth()
    assert len(loaded.frames) == scene.n_frames
    assert load_scene(path) == scene.config  # a truth file is also a scene file


def test_source_plays_the_scene_and_follows_set_resolution(config: SceneConfig) -> None:
    short = replace(config, duration_s=3.0, visits=(), wind=(), rain=(), ir_night=())
    with SyntheticSource(SyntheticScene(short)) as source:
        first = source.read()
        assert first is not None and first.stamp == 0.0 and first.image.shape == (240, 320, 3)
        assert np.array_equal(first.image, source.scene.render(0))
        source.set_resolution(160, 120)
        second = source.read()
        assert second is not None and second.image.shape == (120, 160, 3)
        assert second.index == 1 and second.stamp == pytest.approx(0.1)
        truth = source.truth(second)
        assert all(b.x + b.w <= 160 and b.y + b.h <= 120 for b in truth.boxes)
        frames = 2
        while source.read() is not None:
            frames += 1
        assert frames == short.n_frames


def test_looping_source_keeps_stamps_rising(config: SceneConfig) -> None:
    short = replace(config, duration_s=0.5, visits=(), wind=(), rain=(), ir_night=())
    source = SyntheticSource(SyntheticScene(short), loop=True)
    frames = [source.read() for _ in range(12)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames if f] == list(range(12))
    assert frames[5] and frames[0] and np.array_equal(frames[5].image, frames[0].image)
