"""Score calibration (Platt, ECE, bands), the data splits, and the stage-3 views, without ROS."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from wildcam.cascade.base import FakeModel
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.manifest import Manifest, ModelEntry, default_manifest_path
from wildcam.cascade.runner import Cascade
from wildcam.cascade.scores import (
    bands,
    cross_validated_platt,
    expected_calibration_error,
    fit_platt,
    logit,
    map_band,
    platt,
)
from wildcam.cascade.splits import HELD_BACK_SOURCES, role, training_split
from wildcam.cascade.views import predict_views, tiles_of
from wildcam.errors import ModelError
from wildcam.types import Box

FRAME = np.zeros((480, 640, 3), np.uint8)


def test_platt_recovers_a_known_scaling() -> None:
    rng = np.random.default_rng(0)
    true_a, true_b = 0.5, -1.0
    raw = rng.uniform(0.01, 0.99, 4000)
    truth = rng.uniform(size=raw.size) < platt(raw, true_a, true_b)
    a, b = fit_platt(raw, truth, balanced=False, l2=0.0)
    assert a == pytest.approx(true_a, abs=0.1) and b == pytest.approx(true_b, abs=0.15)
    assert expected_calibration_error(
        platt(raw, a, b), truth, balanced=False
    ) < expected_calibration_error(raw, truth, balanced=False)


def test_platt_stays_finite_on_separable_samples() -> None:
    raw = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    a, b = fit_platt(raw, raw > 0.5)
    assert 0 < a < 100 and abs(b) < 100
    assert platt([0.9], a, b)[0] > 0.5 > platt([0.1], a, b)[0]


def test_platt_needs_both_classes_and_matching_lengths() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_platt([0.2, 0.4], [True, True])
    with pytest.raises(ValueError, match="one length"):
        fit_platt([0.2, 0.4], [True])


def test_identity_scaling_leaves_scores_alone() -> None:
    assert platt([0.0, 0.3, 1.0], 1.0, 0.0).tolist() == [0.0, 0.3, 1.0]
    assert logit([0.5])[0] == 0.0


def test_ece_of_a_perfect_and_of_an_overconfident_score() -> None:
    truth = np.array([True] * 70 + [False] * 30)
    assert expected_calibration_error(np.full(100, 0.7), truth, balanced=False) == pytest.approx(
        0.0
    )
    assert expected_calibration_error(np.where(truth, 1.0, 0.0), truth) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(100, 0.99), truth, balanced=False) == pytest.approx(
        0.29
    )


def test_bands_hold_the_miss_and_precision_rules() -> None:
    scores = np.linspace(0, 1, 101)
    truth = scores >= 0.4
    c_low, c_high = bands(scores, truth, miss=0.0, precision=1.0, support=5)
    assert (c_low, c_high) == (0.4, 0.4)
    assert bands(scores, np.zeros(101, bool), support=5)[1] == 1.0


def test_held_back_sources_are_always_test_and_train_is_the_old_split() -> None:
    for prefix in HELD_BACK_SOURCES:
        assert role(prefix + "anything.jpg") == "test"
    groups = [f"camera_traps/buow/IMG_{k}.JPG" for k in range(400)]
    roles = [role(g) for g in groups]
    assert all((r == "train") == (training_split(g) == "train") for g, r in zip(groups, roles))
    share = {r: roles.count(r) / len(roles) for r in ("train", "calib", "test")}
    assert 0.6 < share["train"] < 0.8 and share["calib"] > 0.08 and share["test"] > 0.08


def test_manifest_reads_and_checks_a_calibration(tmp_path: Path) -> None:
    record = json.loads(default_manifest_path().read_text())
    record["models"][0]["calibration"] = {"a": 0.5, "b": 0.25}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(record))
    entry = Manifest.load(path).entry(record["models"][0]["id"])
    assert entry.calibration == (0.5, 0.25)
    record["models"][0]["calibration"] = {"a": -1.0, "b": 0.0}
    path.write_text(json.dumps(record))
    with pytest.raises(ModelError, match="calibration"):
        Manifest.load(path)


def test_calibrated_scores_reach_the_results() -> None:
    from wildcam.cascade.onnx_models import load_model

    manifest = Manifest.load(default_manifest_path())
    tiny: ModelEntry = manifest.default_for(1)
    raw_entry = dataclasses.replace(tiny, calibration=(1.0, 0.0))
    image = np.random.default_rng(1).integers(0, 255, (120, 160, 3), np.uint8)
    region = [Box(10, 10, 80, 80)]
    raw = load_model(raw_entry, manifest.directory).predict(image, region)[0].score
    scaled = (
        load_model(dataclasses.replace(tiny, calibration=(0.5, 1.0)), manifest.directory)
        .predict(image, region)[0]
        .score
    )
    assert scaled == pytest.approx(float(platt([raw], 0.5, 1.0)[0]), abs=1e-5)


def test_tiles_cover_the_region_with_overlap() -> None:
    region = Box(100, 50, 400, 300)
    tiles = tiles_of(region)
    assert len(tiles) == 4
    assert all(t.w == 240 and t.h == 180 for t in tiles)
    assert min(t.x for t in tiles) == 100 and max(t.x + t.w for t in tiles) == 500
    assert tiles[0].iou(tiles[1]) > 0


def test_flip_averages_the_mirrored_view() -> None:
    # the score depends on where the region lies: left half 0.8, right half 0.2
    model = FakeModel("d", 3, lambda _img, box: 0.8 if box.x < 320 else 0.2)
    left = Box(10, 10, 100, 100)
    [result] = predict_views(model, FRAME, [left], flip=True)
    assert result.score == pytest.approx(0.5) and model.calls == 2
    assert result.boxes[0].box == left


def test_tiles_take_the_best_view_and_count_five_calls() -> None:
    # only a tile (smaller than the whole frame) sees the animal
    model = FakeModel("d", 3, lambda _img, box: 0.9 if box.w < 640 else 0.1)
    whole = Box(0, 0, 640, 480)
    [result] = predict_views(model, FRAME, [whole], tiles=True)
    assert result.score == 0.9 and model.calls == 5
    [both] = predict_views(model, FRAME, [whole], flip=True, tiles=True)
    assert both.score == 0.9 and model.calls == 15


def test_the_cascade_uses_the_views_for_stage_3_only() -> None:
    tiny = FakeModel("t", 1, lambda _img, _box: 0.5)
    large = FakeModel("l", 3, lambda _img, box: 0.9 if box.w < 640 else 0.1, 0.5, 0.5)
    plain = Cascade({1: tiny, 3: large}, CascadeConfig())
    assert not plain.run(FRAME, []).animal
    tiled = Cascade({1: tiny, 3: large}, CascadeConfig(stage3_tiles=True))
    assert tiled.run(FRAME, []).animal
    assert tiny.calls == 2 and large.calls == 1 + 5


def test_one_colour_frames_count_as_night() -> None:
    from wildcam.cascade.realdata import is_night

    rng = np.random.default_rng(2)
    grey = np.repeat(rng.integers(0, 200, (60, 80, 1), np.uint8), 3, 2)
    colour = grey.copy()
    colour[..., 2] = 255 - colour[..., 2]
    assert is_night(grey) and is_night(grey[..., 0]) and not is_night(colour)
    # an infrared camera's purple cast, with a red time stamp over the bottom tenth: night
    tinted = grey.copy()
    tinted[..., 0] += 20
    tinted[..., 2] += 12
    tinted[54:, :, 2] = 255
    assert is_night(tinted)
    # a dull day scene: little colour anywhere, but not the same colour everywhere
    dull = grey.copy()
    dull[..., 1] += rng.integers(0, 16, (60, 80), np.uint8)
    assert not is_night(dull)


def test_real_items_keep_the_held_back_sources_in_test(shared_data: Path, tmp_path: Path) -> None:
    from wildcam.cascade.realdata import real_items

    items = real_items(shared_data, tmp_path)
    roles = {i.group: i.role for i in items}
    assert all(r == "test" for g, r in roles.items() if g.startswith("camera_traps/serengeti/"))
    test = [i for i in items if i.role == "test"]
    assert any(i.item.animal for i in test) and any(not i.item.animal for i in test)
    assert {"train", "calib", "test"} <= set(roles.values())
    assert all(i.item.path.is_file() for i in items if not i.item.animal)


def test_the_model_card_section_replaces_itself(tmp_path: Path) -> None:
    from wildcam.cascade.calibrate import write_card_section

    card = tmp_path / "README.md"
    card.write_text("# card\n\nbody\n")
    write_card_section(card, "<!-- x:start -->\nfirst\n<!-- x:end -->\n")
    write_card_section(card, "<!-- x:start -->\nsecond\n<!-- x:end -->\n")
    text = card.read_text()
    assert text.startswith("# card\n\nbody\n") and "second" in text and "first" not in text
    assert text.count("<!-- x:start -->") == 1


def _groups(wanted: str, count: int) -> list[str]:
    names = (f"camera_traps/site{k}/IMG_{k}.jpg" for k in range(10_000))
    return [g for g in names if role(g) == wanted][:count]


@pytest.mark.parametrize("check_agrees", [True, False])
def test_a_scaling_is_kept_only_if_it_lowers_the_error_on_frames_it_never_saw(
    monkeypatch: pytest.MonkeyPatch, check_agrees: bool
) -> None:
    """Fitted on ``train``, checked on ``calib``: where the check frames behave like the fitted
    ones the scaling is kept, where they contradict it the raw score stays."""
    from wildcam.cascade import calibrate
    from wildcam.cascade.evaluate import LabelledImage
    from wildcam.cascade.realdata import RealItem

    rng = np.random.default_rng(1)
    truth = rng.uniform(size=200) < 0.5
    # raw scores far too timid: animals at 0.55-0.65, empty frames at 0.35-0.45
    timid = np.where(truth, rng.uniform(0.55, 0.65, 200), rng.uniform(0.35, 0.45, 200))
    items = [
        RealItem(LabelledImage(Path(g), bool(t)), g)
        for g, t in zip(_groups("train", 200) + _groups("calib", 200), [*truth, *truth])
    ]
    check = timid if check_agrees else 1.0 - timid  # contradicting frames: inverted scores
    scores = {"train": timid, "calib": check}
    monkeypatch.setattr(
        calibrate, "_raw_scores", lambda _e, _d, chosen: scores[chosen[0].role][: len(chosen)]
    )
    entry = Manifest.load(default_manifest_path()).entry("large_int8")
    fields = calibrate.calibrate_entry(entry, Path("."), items)["calibration"]
    assert fields["kept"] is check_agrees
    if check_agrees:
        assert fields["a"] > 1.0 and fields["ece_fitted"] < fields["ece_raw"]
    else:
        assert (fields["a"], fields["b"]) == (1.0, 0.0)


def test_a_night_band_below_c_low_is_refused(tmp_path: Path) -> None:
    record = json.loads(default_manifest_path().read_text())
    tiny = next(m for m in record["models"] if m["id"] == "tiny_int8")
    tiny["c_high_night"] = tiny["c_low"] / 2
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ModelError, match="c_high"):
        Manifest.load(path)
    tiny["c_high_night"] = 0.5
    path.write_text(json.dumps(record))
    assert Manifest.load(path).entry("tiny_int8").c_high_night == 0.5


def test_the_night_band_is_chosen_on_infrared_train_and_calib_frames_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import cv2

    from wildcam.cascade import calibrate
    from wildcam.cascade.evaluate import LabelledImage
    from wildcam.cascade.realdata import RealItem

    grey, colour = tmp_path / "grey.png", tmp_path / "colour.png"
    cv2.imwrite(str(grey), np.full((40, 60, 3), 90, np.uint8))
    day = np.dstack([np.full((40, 60), v, np.uint8) for v in (0, 90, 200)])
    day[:, 30:] = day[:, 30:, ::-1]  # an orange half and a blue one: a day frame's colours vary
    cv2.imwrite(str(colour), day)
    items, scores = [], {}
    for k, group in enumerate(_groups("train", 12) + _groups("calib", 12)):
        animal = k % 2 == 0
        items.append(RealItem(LabelledImage(grey, animal), group))
        scores[group] = 0.6 + k / 100 if animal else 0.1 + k / 100  # empties below 0.35
    # frames that must not count: colour (day) frames and held-back ones, all empty and high
    for group in _groups("train", 14)[12:] + _groups("test", 2):
        path = colour if role(group) == "train" else grey
        items.append(RealItem(LabelledImage(path, False), group))
        scores[group] = 0.99
    seen: list[str] = []

    def fake(_entry: object, _dir: object, chosen: list[RealItem]) -> np.ndarray:
        seen.extend(i.group for i in chosen)
        return np.asarray([scores[i.group] for i in chosen])

    monkeypatch.setattr(calibrate, "_raw_scores", fake)
    entry = Manifest.load(default_manifest_path()).entry("tiny_int8")
    fields = calibrate.night_band(entry, Path("."), items)
    assert len(seen) == 24 and all(role(g) != "test" for g in seen)
    # every animal scores >= 0.6 (raw), every empty below 0.35: the band starts at the lowest
    # animal, mapped through the student's calibration (calibrated scores, same decisions)
    lowest = min(v for v in scores.values() if v >= 0.6)
    assert fields["c_high_night"] == pytest.approx(platt([lowest], *entry.calibration)[0])


def _overconfident(seed: int, n: int = 1200) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Raw scores far more extreme than the truth behind them (as a sigmoid often is), in
    groups of 6 samples (a frame's crops)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, n)
    truth = rng.uniform(size=n) < p
    raw = platt(p, 3.0, 0.5)  # too sure, and shifted
    return raw, truth, [f"frame{k // 6}" for k in range(n)]


def test_cross_validated_platt_lowers_the_ece_and_is_kept() -> None:
    raw, truth, groups = _overconfident(0)
    check = cross_validated_platt(raw, truth, groups)
    assert check.kept and check.ece_fitted < check.ece_raw
    assert check.scaling == (check.a, check.b) and 0 < check.a < 1  # it softens the scores
    fresh, fresh_truth, _ = _overconfident(1)  # samples it never saw
    assert expected_calibration_error(
        platt(fresh, *check.scaling), fresh_truth
    ) < expected_calibration_error(fresh, fresh_truth)


def test_cross_validated_platt_is_dropped_when_it_does_not_help() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(0.0, 1.0, 600)
    truth = rng.uniform(size=600) < p  # already calibrated (balanced classes)
    check = cross_validated_platt(p, truth, [f"g{k // 6}" for k in range(600)])
    assert check.kept is (check.ece_fitted < check.ece_raw)
    noise = rng.uniform(size=600)  # no information: a fit cannot generalise
    check = cross_validated_platt(
        noise, rng.uniform(size=600) < 0.5, [f"g{k}" for k in range(600)]
    )
    if not check.kept:
        assert check.scaling == (1.0, 0.0)
    with pytest.raises(ValueError, match="one length"):
        cross_validated_platt([0.2, 0.8], [False, True], ["a"])


def test_mapped_bands_keep_every_decision() -> None:
    raw, truth, groups = _overconfident(3)
    a, b = cross_validated_platt(raw, truth, groups).scaling
    c_low, c_high = bands(raw, truth, miss=0.1, precision=0.8)
    m_low, m_high = map_band((c_low, c_high), a, b)
    assert 0 < m_low <= m_high < 1 and (m_low, m_high) != (c_low, c_high)
    calibrated = platt(raw, a, b)
    assert ((raw < c_low) == (calibrated < m_low)).all()
    assert ((raw >= c_high) == (calibrated >= m_high)).all()
    edges = np.linspace(0.01, 0.99, 50)
    assert (np.diff(map_band(edges, a, b)) > 0).all()  # monotone
    assert map_band((0.0, 1.0), a, b) == [0.0, 1.0]  # never / always unsure stay so


def test_the_detectors_are_calibrated_on_real_frames_and_only_the_students_get_a_night_band() -> (
    None
):
    from wildcam.cascade.calibrate import calibrated, has_night_band

    record = json.loads(default_manifest_path().read_text())
    kinds = {m["id"]: (calibrated(m), has_night_band(m)) for m in record["models"]}
    assert kinds["large_int8"] == (True, False)
    assert kinds["coarse_int8"] == (True, False)  # a stage-2 detector, not a student
    assert kinds["tiny_int8"] == kinds["medium_int8"] == (False, True)
    if "objects_int8" in kinds:  # the people-and-vehicles detector is neither
        assert kinds["objects_int8"] == (False, False)
