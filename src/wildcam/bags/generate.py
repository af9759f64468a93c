"""Write a bag of the deterministic synthetic scene, with the scene's ground truth beside it.

Per frame the bag holds ``/camera/small/image_raw`` (``mono8``, the frame reduced by
:func:`wildcam.motion.reduce.reduce_frame`, exactly what the camera node publishes for the
motion gate), ``/camera/small/camera_info`` (full-frame size, ``binning`` = the reduction factor,
as REP-104 describes a reduced stream) and, with ``full_frames``, ``/camera/image_raw``
(``bgr8``) with its ``/camera/camera_info``.
Header stamps are a fixed epoch plus ``index / fps``; bag timestamps are the same instants in
nanoseconds, so the same scene always gives the same messages. They are serialized by rclpy
itself (no ``rclpy.init`` needed), so the bytes are those a node would publish — including
rclpy's uninitialised CDR padding bytes, which is why two bags of one scene agree message for
message when decoded but not necessarily byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from builtin_interfaces.msg import Time
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import WriterError

from wildcam.bags.crc import seal_bag
from wildcam.bags.session import qos_to_bag
from wildcam.bags.storage import DEFAULT_STORAGE, STORAGES, bag_writer
from wildcam.bags.typestore import typestore
from wildcam.camera.scene import scene_to_dict
from wildcam.camera.synthetic import SceneConfig, SyntheticScene
from wildcam.errors import BagError, ConfigError
from wildcam.motion.reduce import reduce_frame
from wildcam.ros.convert import camera_info, image_to_msg
from wildcam.ros.qos import SENSOR_PUB

__all__ = ["EPOCH_NS", "TOPICS", "GenerateResult", "generate"]

EPOCH_NS = 1_700_000_000 * 1_000_000_000  # bag time of frame 0 (2023-11-14 22:13:20 UTC)
TOPICS = {
    "small": "/camera/small/image_raw",
    "info": "/camera/small/camera_info",
    "raw": "/camera/image_raw",
    "raw_info": "/camera/camera_info",
}
_IMAGE = "sensor_msgs/msg/Image"
_INFO = "sensor_msgs/msg/CameraInfo"


@dataclass(frozen=True)
class GenerateResult:
    """What :func:`generate` wrote."""

    path: Path
    ground_truth: Path
    frames: int
    message_count: int
    topics: tuple[str, ...]


def generate(
    output: Path,
    scene: SceneConfig,
    storage: str = DEFAULT_STORAGE,
    full_frames: bool = False,
    reduce_factor: int = 4,
    frame_id: str = "camera_optical_frame",
    ground_truth: Path | None = None,
) -> GenerateResult:
    """Render ``scene`` into a new bag directory ``output`` and write its ground truth.

    The ground truth goes to ``ground_truth`` (default ``<output>/ground_truth.json``).
    Raises :class:`BagError` if ``output`` exists or cannot be written.
    """
    output = Path(output)
    if storage not in STORAGES:
        raise ConfigError(f"unknown storage {storage!r}; expected one of {sorted(STORAGES)}")
    if reduce_factor < 1:
        raise ConfigError(f"reduce factor must be >= 1, got {reduce_factor}")
    if output.exists():
        raise BagError(f"cannot generate into {output}: it exists already")
    synthetic = SyntheticScene(scene)
    store = typestore()
    qos = [qos_to_bag(SENSOR_PUB)]
    writer = bag_writer(output, storage)
    messages = 0
    try:
        writer.open()
        writer.set_custom_data("wildcam.scene", json.dumps(scene_to_dict(scene), sort_keys=True))
        writer.set_custom_data("wildcam.reduce_factor", str(reduce_factor))
        conns = {
            "small": writer.add_connection(
                TOPICS["small"], _IMAGE, typestore=store, offered_qos_profiles=qos
            ),
            "info": writer.add_connection(
                TOPICS["info"], _INFO, typestore=store, offered_qos_profiles=qos
            ),
        }
        if full_frames:
            conns["raw"] = writer.add_connection(
                TOPICS["raw"], _IMAGE, typestore=store, offered_qos_profiles=qos
            )
            conns["raw_info"] = writer.add_connection(
                TOPICS["raw_info"], _INFO, typestore=store, offered_qos_profiles=qos
            )
        for index in range(synthetic.n_frames):
            stamp_ns = EPOCH_NS + round(index * 1e9 / scene.fps)
            stamp = _time(stamp_ns)
            frame = synthetic.render(index)
            height, width = frame.shape[:2]
            small = reduce_frame(frame, reduce_factor)
            out = {
                "small": image_to_msg(small, stamp, frame_id),
                "info": camera_info(width, height, stamp, frame_id, binning=reduce_factor),
            }
            if full_frames:
                out["raw"] = image_to_msg(frame, stamp, frame_id)
                out["raw_info"] = camera_info(width, height, stamp, frame_id)
            for key, msg in out.items():
                writer.write(conns[key], stamp_ns, serialize_message(msg))
                messages += 1
        writer.close()
        seal_bag(output)
    except (WriterError, OSError) as err:
        writer.abort()
        raise BagError(f"cannot write bag {output}: {err}") from err
    except BaseException:
        writer.abort()
        raise
    truth = output / "ground_truth.json" if ground_truth is None else Path(ground_truth)
    try:
        truth.parent.mkdir(parents=True, exist_ok=True)
        synthetic.write_ground_truth(truth)
    except OSError as err:
        raise BagError(f"cannot write ground truth {truth}: {err}") from err
    return GenerateResult(
        path=output,
        ground_truth=truth,
        frames=synthetic.n_frames,
        message_count=messages,
        topics=tuple(TOPICS[k] for k in conns),
    )


def _time(stamp_ns: int) -> Time:
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)
