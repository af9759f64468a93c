"""wildcam's detections in vision_msgs' shape.

``vision_msgs`` has no wheel on PyPI, so ``msg/`` defines the same messages with the same field
names (``Detection2DArray``, ``Detection2D``, ``BoundingBox2D``, ``ObjectHypothesisWithPose``,
``VisionInfo``); a consumer written for vision_msgs reads them field for field. The cascade
publishes ``detections/events`` (:func:`detections`: a frame's animals, then the people and
vehicles it found there), ``detections`` (a :func:`detection2d_array` of each), the crop of the
best animal box on ``detections/thumbnail`` under the same stamp, and the models on the latched
``detections/info`` (:func:`vision_info`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wildcam.cascade.base import LabelledBox, ScoredBox
from wildcam.cascade.manifest import OBJECTS_STAGE
from wildcam.cascade.runner import RegionDecision
from wildcam.msg import (
    BoundingBox2D,
    Detection,
    Detection2D,
    Detection2DArray,
    DetectionArray,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    VisionInfo,
)
from wildcam.types import ANIMAL

__all__ = ["detection2d_array", "detections", "vision_info"]


def detections(
    animals: Sequence[tuple[ScoredBox, RegionDecision]],
    others: Sequence[LabelledBox],
    detector_id: str,
) -> list[Detection]:
    """A frame's detections: its ``animals`` (``FrameDecision.detections``: best first, each
    with the region decision that gave it, whose stage and model decided it), then ``others``,
    the people and vehicles the people-and-vehicles check found in its regions
    (``FrameDecision.others``; stage 0, the manifest's people-and-vehicles detector:
    ``detector_id``)."""
    found = [
        (scored.box, ANIMAL, scored.score, region.stage, region.model_id)
        for scored, region in animals
    ] + [(o.box, o.label, o.score, OBJECTS_STAGE, detector_id) for o in others]
    return [
        Detection(
            id=str(n),
            center_x=box.x + box.w / 2,
            center_y=box.y + box.h / 2,
            size_x=float(box.w),
            size_y=float(box.h),
            class_id=label,
            score=float(score),
            stage=stage,
            model_id=model_id,
        )
        for n, (box, label, score, stage, model_id) in enumerate(found)
    ]


def detection2d_array(msg: DetectionArray) -> Detection2DArray:
    """The vision_msgs-shaped array of one frame's detections (same header)."""
    out = Detection2DArray(header=msg.header)
    for det in msg.detections:
        box = BoundingBox2D(size_x=det.size_x, size_y=det.size_y)
        box.center.position.x, box.center.position.y = det.center_x, det.center_y
        hypothesis = ObjectHypothesis(class_id=det.class_id, score=det.score)
        out.detections.append(
            Detection2D(
                header=msg.header,
                id=det.id,
                bbox=box,
                results=[ObjectHypothesisWithPose(hypothesis=hypothesis)],
            )
        )
    return out


def vision_info(models: Mapping[int, str], manifest: str, version: int) -> VisionInfo:
    """What the detections come from: the model of each stage, the manifest and how many times
    the models changed."""
    method = "wildcam cascade: " + ", ".join(
        f"stage {stage} {model}" for stage, model in sorted(models.items())
    )
    return VisionInfo(method=method, database_location=manifest, database_version=version)
