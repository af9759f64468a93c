"""A frame's detections as messages: its animals, then the people and vehicles beside them."""

from __future__ import annotations

from wildcam.cascade.base import LabelledBox, ScoredBox
from wildcam.cascade.runner import FrameDecision, RegionDecision
from wildcam.ros.vision import detection2d_array, detections
from wildcam.types import Box


def _region(
    box: Box, animal: bool, boxes: tuple[ScoredBox, ...], others: tuple[LabelledBox, ...] = ()
) -> RegionDecision:
    score = max((b.score for b in boxes), default=0.1)
    return RegionDecision(box, animal, score, 3, "large_int8", boxes, {3: score}, others=others)


def test_animals_first_then_people_and_vehicles_from_the_detector() -> None:
    walker = LabelledBox(Box(200, 10, 20, 60), 0.9, "person")
    van = LabelledBox(Box(300, 50, 80, 40), 0.6, "vehicle")
    decision = FrameDecision(
        (
            _region(
                Box(0, 0, 160, 120),
                True,
                (ScoredBox(Box(10, 20, 40, 30), 0.4), ScoredBox(Box(60, 20, 20, 20), 0.7)),
                (walker,),
            ),
            _region(Box(160, 0, 160, 120), False, (), (walker, van)),  # the walker, seen twice
        ),
        frozenset({1, 3}),
    )
    got = detections(decision.detections(), decision.others, "objects_int8")
    assert [(d.id, d.class_id, d.score, d.stage, d.model_id) for d in got] == [
        ("0", "animal", 0.7, 3, "large_int8"),
        ("1", "animal", 0.4, 3, "large_int8"),
        ("2", "person", 0.9, 0, "objects_int8"),
        ("3", "vehicle", 0.6, 0, "objects_int8"),
    ]
    assert (got[2].center_x, got[2].center_y, got[2].size_x, got[2].size_y) == (210, 40, 20, 60)
    # vision_msgs' shape keeps each class
    from wildcam.msg import DetectionArray

    shaped = detection2d_array(DetectionArray(detections=got))
    assert [d.results[0].hypothesis.class_id for d in shaped.detections] == [
        "animal",
        "animal",
        "person",
        "vehicle",
    ]


def test_a_frame_without_people_lists_its_animals_only() -> None:
    decision = FrameDecision(
        (_region(Box(0, 0, 64, 48), True, (ScoredBox(Box(1, 2, 3, 4), 0.8),)),), frozenset({3})
    )
    assert [d.class_id for d in detections(decision.detections(), decision.others, "")] == [
        "animal"
    ]
