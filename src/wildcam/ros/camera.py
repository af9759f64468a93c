"""One camera stream's publishers, as image_transport's ``CameraPublisher`` groups them:
``<ns>/image_raw`` with ``<ns>/camera_info`` of the same stamp and, when asked for,
``<ns>/image_raw/compressed`` (JPEG)."""

from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from wildcam.ros.convert import compressed_image, image_to_msg
from wildcam.ros.qos import OVERRIDABLE, SENSOR_PUB, own

__all__ = ["CameraPublisher"]


class CameraPublisher:
    """The image, its camera info and optionally its JPEG under ``namespace``, from ``node``."""

    def __init__(self, node: Node, namespace: str, compressed: bool = False) -> None:
        def publisher(msg_type: type[Any], topic: str) -> Any:
            return node.create_publisher(
                msg_type,
                f"{namespace}/{topic}",
                own(SENSOR_PUB),
                qos_overriding_options=OVERRIDABLE,
            )

        self.image = publisher(Image, "image_raw")
        self.info = publisher(CameraInfo, "camera_info")
        self.compressed = (
            publisher(CompressedImage, "image_raw/compressed") if compressed else None
        )

    def publish(
        self,
        image: np.ndarray,
        stamp: Time,
        frame_id: str,
        info: CameraInfo,
        jpeg_quality: int = 0,
    ) -> None:
        """Publish ``image`` with ``info``; its JPEG too when ``jpeg_quality`` is set."""
        self.image.publish(image_to_msg(image, stamp, frame_id))
        self.info.publish(info)
        if jpeg_quality and self.compressed is not None:
            self.compressed.publish(compressed_image(image, stamp, frame_id, jpeg_quality))

    def subscribers(self) -> int:
        """Subscriptions on the image topic."""
        return int(self.image.get_subscription_count())
