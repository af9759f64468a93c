"""cascade_detector: the model cascade on the full frames around motion.

Subscribes ``motion/events`` and ``camera/image_raw``; pairs each frame with its event (see
:mod:`wildcam.cascade.pairing`), runs :class:`~wildcam.cascade.runner.Cascade` on the event's
regions and publishes a ``detections/events`` array (wildcam/DetectionArray) for each frame
decided "animal" (after smoothing over the event), the same in vision_msgs' shape on
``detections`` (wildcam/Detection2DArray) with the crop on
``detections/thumbnail`` (same stamp), the models on the latched ``detections/info``
(:mod:`wildcam.ros.vision`), ``energy`` per stage and ``/diagnostics``; each frame it is done
with (analysed, skipped, or refused for want of a model) on ``detections/processed``
(wildcam/FrameDone), which paces the camera's held bursts. Frames of a settled
event are skipped undecoded (``frames_skipped``) except its re-checks, so a settled animal's
uploads are the frames that decided it and the re-checks. Changing a model parameter loads and
checks the new file inside the parameter call: a bad file is refused with the reason and the
previous model keeps serving. With ``stage3_lazy`` the large model's session is created
when a region first needs it and dropped while ``max_stage`` < 3 or after
``stage3_idle_unload_s`` unused (``stage3_loaded`` in the diagnostics).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from wildcam.cascade.base import StageModel
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.lazy import lazy_of
from wildcam.cascade.loader import LAZY_STAGE, load_stages, stages_to_reload
from wildcam.cascade.objects import blur_people, detector_ids
from wildcam.cascade.pairing import FramePairing, MotionInfo, Paired
from wildcam.cascade.runner import Cascade, EventState, FrameOutcome, StageLatency
from wildcam.cascade.views import thumbnail
from wildcam.errors import ConfigError, InputError, ModelError
from wildcam.graph import DETECTION_EVENTS, DETECTIONS
from wildcam.msg import (
    Detection2DArray,
    DetectionArray,
    FrameDone,
    MotionEvent,
    VisionInfo,
)
from wildcam.ros.convert import compressed_image, msg_to_image, roi_to_xywh
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import EnergyMeter
from wildcam.ros.params import ParameterBinding
from wildcam.ros.qos import EVENTS, IMAGE_SUB, LATCHED, OVERRIDABLE, own
from wildcam.ros.runner import main_for
from wildcam.ros.vision import detection2d_array, detections, vision_info
from wildcam.types import Box

THUMBNAIL_SIDE = 256
UNLOAD_CHECK_S = 1.0  # wall: how often an unneeded lazy stage-3 session is looked for
Pixels = npt.NDArray[np.uint8]


class CascadeDetector(Node):
    """Pairs frames with motion events and runs the cascade on them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("cascade_detector", **kwargs)
        self.health = Health(self)
        self.params = ParameterBinding(
            self, CascadeConfig, self.on_parameters, prepare=self.check_models
        )
        cfg = self.params.config
        self.meter = EnergyMeter(self, cfg.power_profile)
        self.latency = StageLatency()
        self.cascade = Cascade({}, cfg, self.measure)
        self.pub_info = self.create_publisher(VisionInfo, "detections/info", LATCHED)
        self.models_version = 0
        self.detector_id = ""  # the people-and-vehicles detector's, once the models are in
        try:
            self._install(load_stages(cfg, check_lazy_io=False))  # a cold start skips it
        except (ModelError, ConfigError) as err:
            self.health.degraded(f"no models: {err}")
            self.get_logger().error(f"cannot load models: {err}")
        self.pairing: FramePairing[Image] = FramePairing(cfg.frame_buffer, cfg.pre_event_s)
        self.pub = self.create_publisher(
            DetectionArray, DETECTION_EVENTS, own(EVENTS), qos_overriding_options=OVERRIDABLE
        )
        self.pub_vision = self.create_publisher(
            Detection2DArray, DETECTIONS, own(EVENTS), qos_overriding_options=OVERRIDABLE
        )
        self.pub_thumbnail = self.create_publisher(
            CompressedImage,
            "detections/thumbnail",
            own(EVENTS),
            qos_overriding_options=OVERRIDABLE,
        )
        self.pub_done = self.create_publisher(FrameDone, "detections/processed", own(EVENTS))
        self.create_subscription(
            MotionEvent,
            "motion/events",
            self.health.guard("motion")(self.motion_callback),
            own(EVENTS),
            qos_overriding_options=OVERRIDABLE,
        )
        self.create_subscription(
            Image,
            "camera/image_raw",
            self.health.guard("image")(self.image_callback),
            own(IMAGE_SUB),
            qos_overriding_options=OVERRIDABLE,
        )
        self.create_timer(UNLOAD_CHECK_S, self.unload_unneeded)

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Meter one stage call: CPU energy through the meter, wall latency for diagnostics."""
        start = time.perf_counter()
        with self.meter.measure(stage):
            yield
        mean_ms = self.latency.add(stage, time.perf_counter() - start)
        self.health.values[f"{stage}_mean_ms"] = f"{mean_ms:.2f}"

    def _install(self, models: dict[int, StageModel | None]) -> None:
        for stage, model in sorted(models.items()):
            self.cascade.set_model(stage, model)
            self.health.values[f"stage{stage}_model"] = model.model_id if model else "(disabled)"
        self.detector_id = next(iter(detector_ids(self.cascade.models)), "")
        self.health.degraded("" if self.cascade.models else "every stage is disabled")
        self._publish_info()

    def _publish_info(self) -> None:
        """The models now, latched on detections/info (VisionInfo's shape)."""
        self.models_version += 1
        info = vision_info(
            {s: m.model_id for s, m in self.cascade.models.items()},
            self.params.config.manifest or "models/manifest.json",
            self.models_version,
        )
        info.header.stamp = self.get_clock().now().to_msg()
        self.pub_info.publish(info)

    def check_models(self, old: CascadeConfig, new: CascadeConfig) -> Callable[[], None] | None:
        """Load and verify changed models before the change is accepted (refused if bad); the
        binding installs them when the change is applied."""
        stages = stages_to_reload(old, new)
        if not stages:
            return None
        try:
            models = load_stages(new, stages)
        except (ModelError, ConfigError) as err:
            self.health.error("model_refused", str(err))
            raise ModelError(f"model refused: {err}") from err

        def install() -> None:
            self._install(models)
            self.get_logger().info(
                "models: "
                + ", ".join(f"{s}={m.model_id}" for s, m in sorted(self.cascade.models.items()))
            )

        return install

    def on_parameters(self, old: CascadeConfig, new: CascadeConfig) -> None:
        """Apply cap, thresholds and smoothing at once (checked models are installed first)."""
        self.cascade.configure(new)
        if new.power_profile != old.power_profile:
            self.meter.set_profile(new.power_profile)
        self.unload_unneeded()

    def unload_unneeded(self) -> None:
        """Drop a lazy stage-3 session the cascade may not call now or has not used lately."""
        model = lazy_of(self.cascade.models.get(LAZY_STAGE))
        if model is None:
            return
        cfg = self.params.config
        if model.unload_unneeded(cfg.max_stage, cfg.stage3_idle_unload_s):
            self.get_logger().info(f"stage 3 session dropped ({model.model_id})")
        self.health.values["stage3_loaded"] = str(model.loaded).lower()
        self.health.values["stage3_loads"] = str(model.loads)

    def motion_callback(self, msg: MotionEvent) -> None:
        """A motion event: remember its regions; analyse the frames it pairs with."""
        info = MotionInfo(
            Time.from_msg(msg.header.stamp).nanoseconds,
            msg.event_id,
            tuple(Box(*roi_to_xywh(r)) for r in msg.rois),
            msg.event_started,
            msg.event_ended,
        )
        paired, ended = self.pairing.event(info)
        for event_id in ended:
            self._event_ended(self.cascade.end_event(event_id))
        self._analyse(paired)

    def image_callback(self, msg: Image) -> None:
        """A full frame: analyse it if its event is known, else it waits."""
        self.health.count("frames_received")
        self._analyse(self.pairing.frame(Time.from_msg(msg.header.stamp).nanoseconds, msg))
        self.health.values["frames_unpaired"] = str(self.pairing.dropped)

    def _analyse(self, paired: list[Paired[Image]]) -> None:
        for item in paired:
            if not self.cascade.models:
                self.health.count("frames_without_model")
                self.pub_done.publish(FrameDone(header=item.frame.header, done=False))
                continue
            event, stamp_s = item.event, item.stamp_ns * 1e-9
            # a settled event's frame is skipped before it is even decoded
            outcome = self.cascade.skip(event.rois, event.event_id, item.closes, stamp_s)
            if outcome is None:
                image = msg_to_image(item.frame)
                if image.ndim != 3:
                    raise InputError(f"camera/image_raw must be colour, got {item.frame.encoding}")
                outcome = self.cascade.process(
                    image, event.rois, event.event_id, item.closes, stamp_s
                )
                if outcome.publish:
                    self._publish(self._detections(item, image, outcome))
            for name in outcome.counters():
                self.health.count(name)
            self._event_ended(outcome.ended)
            self.pub_done.publish(
                FrameDone(header=item.frame.header, event_id=event.event_id, done=True)
            )

    def _publish(self, msg: DetectionArray) -> None:
        """One frame's detections on each detections topic."""
        self.pub.publish(msg)
        self.pub_vision.publish(detection2d_array(msg))
        if msg.thumbnail.data:
            self.pub_thumbnail.publish(msg.thumbnail)

    def _event_ended(self, state: EventState | None) -> None:
        if state is not None:
            self.health.count("events_animal" if state.animal else "events_empty")

    def _detections(
        self, item: Paired[Image], image: Pixels, outcome: FrameOutcome
    ) -> DetectionArray:
        cfg = self.params.config
        found = outcome.decision.detections()
        msg = DetectionArray(
            header=item.frame.header,
            event_id=item.event.event_id,
            detections=detections(found, outcome.decision.others, self.detector_id),
        )
        header = item.frame.header
        with self.meter.measure("encode"):
            if cfg.blur_people:
                image = blur_people(image, outcome.decision.others)
            if found:
                crop = thumbnail(image, found[0][0].box, THUMBNAIL_SIDE)
                msg.thumbnail = self._jpeg(crop, header)
            if cfg.attach_full_frame:
                msg.full_frame = self._jpeg(image, header)
        return msg

    def _jpeg(self, image: Pixels, header: Header) -> CompressedImage:
        quality = self.params.config.jpeg_quality
        return compressed_image(image, header.stamp, header.frame_id, quality, fmt="jpeg")


def main() -> int:
    """``ros2 run wildcam cascade_detector``."""
    return main_for(CascadeDetector)


if __name__ == "__main__":
    raise SystemExit(main())
