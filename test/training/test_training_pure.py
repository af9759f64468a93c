"""The training code's pure parts: labels, splits and augmentations (numpy/OpenCV, no torch).
``make models-test`` runs this folder in the training venv, where the torch parts are tested
too; here (the runtime venv, no torch) those skip."""

from __future__ import annotations

import numpy as np
import pytest

from wildcam.cascade.base import ScoredBox
from wildcam.cascade.splits import role
from wildcam.training.crops import (
    _label,
    build_crops,
    illumination_jump,
    ir_look,
    rain,
    teacher_to_target,
)
from wildcam.training.data import EVAL_PERCENT, Frame
from wildcam.types import Box

CROP = np.full((64, 64, 3), 120, np.uint8)


def test_teacher_scores_map_to_soft_targets_around_the_presence_threshold() -> None:
    assert teacher_to_target(0.0, 0.2) == 0.0
    assert teacher_to_target(0.2, 0.2) == 0.5  # the teacher's threshold is the students' 0.5
    assert teacher_to_target(0.1, 0.2) == pytest.approx(0.25)
    assert teacher_to_target(0.6, 0.2) == 1.0 and teacher_to_target(0.95, 0.2) == 1.0
    scores = np.linspace(0.0, 1.0, 21)
    targets = [teacher_to_target(float(s), 0.3) for s in scores]
    assert targets == sorted(targets)  # monotonic


def test_a_crop_is_labelled_by_the_animal_inside_it() -> None:
    square = Box(0, 0, 100, 100)
    inside = ScoredBox(Box(30, 30, 40, 40), 0.9)
    score, box = _label(square, [inside])
    assert score == pytest.approx(0.9)  # wholly inside, not a speck
    assert box.tolist() == pytest.approx([0.5, 0.5, 0.4, 0.4])  # centre and size in the crop
    outside = ScoredBox(Box(200, 200, 40, 40), 0.9)
    assert _label(square, [outside])[0] == 0.0
    speck = ScoredBox(Box(50, 50, 2, 2), 0.9)  # 4 px of a 10,000 px crop
    assert _label(square, [speck])[0] < 0.05
    half = ScoredBox(Box(80, 30, 40, 40), 0.9)  # half of it inside: 0.5 of the score
    assert _label(square, [half])[0] == pytest.approx(0.45)


def test_the_split_is_stable_per_group_and_about_the_evaluation_share() -> None:
    image = np.zeros((4, 4, 3), np.uint8)

    def frame(group: str, key: str = "k") -> Frame:
        return Frame(key=key, group=group, source="s", image=image, animal=None)

    assert frame("clip-7", "a").split == frame("clip-7", "b").split  # a group stays together
    splits = [frame(f"group-{i}").split for i in range(2000)]
    share = splits.count("eval") / len(splits)
    assert abs(share - EVAL_PERCENT / 100) < 0.05


def test_crops_carry_their_groups_role_so_bands_are_chosen_on_calib_only() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), np.uint8)
    group: dict[str, str] = {}  # a group of each role
    for i in range(200):
        group.setdefault(role(f"group-{i}"), f"group-{i}")
    roles = ["train", "calib", "test"]
    frames = [Frame(key=r, group=group[r], source="misc", image=image, animal=True) for r in roles]
    animals = [[ScoredBox(Box(40, 30, 50, 40), 0.9)] for _ in frames]
    crops = build_crops(frames, animals, 0.25, seed=0, per_frame=2, pastes=0)
    per_frame = len(crops.labels) // 3
    assert per_frame > 0 and len(crops.labels) == 3 * per_frame
    # frames in order, each frame's crops together: each crop is its frame group's role
    assert crops.split.tolist() == [r for r in roles for _ in range(per_frame)]
    assert set(crops.subset("calib").split) == {"calib"}
    # and its frame's group (the calibration's cross-validation keeps a frame's crops together)
    assert crops.groups.tolist() == [group[r] for r in roles for _ in range(per_frame)]


@pytest.mark.parametrize("augment", [ir_look, illumination_jump, rain])
def test_augmentations_keep_the_crop_a_bgr_image_and_change_it(augment) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    out = augment(rng, CROP.copy())
    assert out.shape == CROP.shape and out.dtype == np.uint8
    assert not np.array_equal(out, CROP)


def test_ir_look_is_grey() -> None:
    out = ir_look(
        np.random.default_rng(1),
        np.dstack([np.full((32, 32), v, np.uint8) for v in (40, 120, 200)]),
    )
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_the_teacher_network_answers_one_row_per_cell_of_its_three_strides() -> None:
    torch = pytest.importorskip(
        "torch", reason="torch lives in the training venv only (make models-test)"
    )
    from wildcam.training.yolox import YoloxTiny

    model = YoloxTiny(num_classes=1).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    # strides 8, 16, 32 on 64 px: 64 + 16 + 4 cells; box (4) + objectness + one class
    assert tuple(out.shape) == (1, 84, 6)
