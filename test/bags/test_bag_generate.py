"""Generated synthetic-scene bags: contents, ground truth, decoding, determinism (no ROS graph)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from bag_helpers import (  # type: ignore[import-not-found]
    FPS,
    decode_mcap,
    installed_type_hash,
    small_scene,
)
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import Reader, Writer

from wildcam.bags import info, typestore
from wildcam.bags.generate import EPOCH_NS, GenerateResult, generate
from wildcam.bags.typestore import msg_dir, wildcam_types
from wildcam.camera.presets import scene_preset, truncate_scene
from wildcam.camera.synthetic import SceneConfig, SyntheticScene, load_ground_truth
from wildcam.motion.reduce import reduce_frame

N_FRAMES = 50  # 5 s at 10 fps


def test_mcap_decodes_with_an_independent_reader_and_carries_rosbag2_metadata(
    tmp_path: Path,
) -> None:
    bag = generate(tmp_path / "bag", small_scene(2.0, 64, 48), full_frames=True).path
    assert bag.joinpath("bag.mcap").is_file()  # MCAP is the default, as for ros2 bag
    metadata, decoded = decode_mcap(bag)
    assert {t: len(m) for t, m in decoded.items()} == {
        "/camera/small/image_raw": 20,
        "/camera/small/camera_info": 20,
        "/camera/image_raw": 20,
        "/camera/camera_info": 20,
    }
    raw = decoded["/camera/image_raw"][0]
    assert (raw.width, raw.height, raw.encoding, len(raw.data)) == (64, 48, "bgr8", 64 * 48 * 3)
    types = {
        "/camera/small/image_raw": "sensor_msgs/msg/Image",
        "/camera/image_raw": "sensor_msgs/msg/Image",
        "/camera/small/camera_info": "sensor_msgs/msg/CameraInfo",
        "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
    }
    for topic, msgtype in types.items():
        assert metadata[topic]["topic_type_hash"] == installed_type_hash(msgtype)
        assert "reliability" in metadata[topic]["offered_qos_profiles"]


def test_info_counts_types_and_times(generated: GenerateResult) -> None:
    summary = info(generated.path)
    full = generated.path.joinpath("bag.mcap").exists()
    expected = {"/camera/small/image_raw": N_FRAMES, "/camera/small/camera_info": N_FRAMES}
    if full:
        expected["/camera/image_raw"] = expected["/camera/camera_info"] = N_FRAMES
    assert summary.counts() == expected
    assert summary.message_count == len(expected) * N_FRAMES == generated.message_count
    assert summary.storage_id == ("mcap" if full else "sqlite3")
    assert summary.topic("camera/small/image_raw").msgtype == "sensor_msgs/msg/Image"
    assert summary.topic("/camera/small/camera_info").msgtype == "sensor_msgs/msg/CameraInfo"
    assert all(t.serialization_format == "cdr" and t.has_definition for t in summary.topics)
    assert all(t.type_hash.startswith("RIHS01_") for t in summary.topics)
    assert summary.start_ns == EPOCH_NS
    assert summary.end_ns == EPOCH_NS + round((N_FRAMES - 1) * 1e9 / FPS)
    assert summary.duration_s == pytest.approx(4.9)
    text = str(summary)
    assert "/camera/small/image_raw" in text and "sensor_msgs/msg/Image" in text and "50" in text


def test_ground_truth_is_written_inside_the_bag(
    generated: GenerateResult, scene: SceneConfig
) -> None:
    assert generated.ground_truth == generated.path / "ground_truth.json"
    truth = load_ground_truth(generated.ground_truth)
    assert truth.config == scene
    assert len(truth.frames) == N_FRAMES
    assert any(frame.boxes for frame in truth.frames), "the fox should be in the truth"


def test_ground_truth_to_a_given_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "truth.json"
    result = generate(tmp_path / "bag", small_scene(1.0, 64, 48), ground_truth=target)
    assert result.ground_truth == target and target.is_file()
    assert not (tmp_path / "bag" / "ground_truth.json").exists()


def test_messages_decode_to_the_rendered_frames(
    generated: GenerateResult, scene: SceneConfig
) -> None:
    store = typestore()
    rendered = SyntheticScene(scene)
    seen: dict[str, int] = {}
    with Reader(generated.path) as reader:
        for conn, stamp, raw in reader.messages():
            index = seen.get(conn.topic, 0)
            seen[conn.topic] = index + 1
            msg = store.deserialize_cdr(raw, conn.msgtype)
            expected_ns = EPOCH_NS + round(index * 1e9 / FPS)
            assert stamp == expected_ns
            assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == expected_ns
            assert msg.header.frame_id == "camera_optical_frame"
            if index % 10:
                continue  # rendering every frame again is slow; every 10th is enough
            frame = rendered.render(index)
            if conn.topic in ("/camera/small/camera_info", "/camera/camera_info"):
                assert (msg.width, msg.height) == (320, 240)  # the full frame, as REP-104 says
                binning = 4 if conn.topic.startswith("/camera/small/") else 0
                assert (msg.binning_x, msg.binning_y) == (binning, binning)
            elif conn.topic == "/camera/small/image_raw":
                assert (msg.width, msg.height, msg.encoding) == (80, 60, "mono8")
                pixels = np.asarray(msg.data).reshape(60, 80)
                np.testing.assert_array_equal(pixels, reduce_frame(frame, 4))
            else:
                assert (msg.width, msg.height, msg.encoding) == (320, 240, "bgr8")
                np.testing.assert_array_equal(np.asarray(msg.data).reshape(240, 320, 3), frame)
    assert set(seen.values()) == {N_FRAMES}


def _decoded(bag: Path) -> list[tuple[object, ...]]:
    store = typestore()
    out: list[tuple[object, ...]] = []
    with Reader(bag) as reader:
        for conn, stamp, raw in reader.messages():
            msg = store.deserialize_cdr(raw, conn.msgtype)
            fields = (
                conn.topic,
                stamp,
                msg.header.stamp.sec,
                msg.header.stamp.nanosec,
                msg.width,
                msg.height,
            )
            if conn.msgtype == "sensor_msgs/msg/Image":
                fields += (msg.encoding, msg.step, bytes(msg.data))
            else:
                fields += (msg.binning_x, msg.binning_y)
            out.append(fields)
    return out


def test_same_scene_gives_the_same_messages(tmp_path: Path) -> None:
    # Compared decoded: rclpy leaves CDR padding bytes uninitialised, so raw bytes may differ.
    scene = small_scene(1.0, 96, 64)
    for name in ("a", "b"):
        generate(tmp_path / name, scene, reduce_factor=2)
    first, second = _decoded(tmp_path / "a"), _decoded(tmp_path / "b")
    assert len(first) == 20 and first == second
    assert first[0][4:6] == (48, 32)  # 96x64 reduced by 2


def test_output_that_exists_is_refused(tmp_path: Path) -> None:
    from wildcam.errors import BagError

    (tmp_path / "bag").mkdir()
    with pytest.raises(BagError, match="exists"):
        generate(tmp_path / "bag", small_scene(1.0, 64, 48))


def test_wildcam_types_round_trip_with_their_definitions(tmp_path: Path) -> None:
    """Our messages, serialized by rclpy, decode with the typestore the bag was written with."""
    from sensor_msgs.msg import RegionOfInterest

    from wildcam.msg import Detection, DetectionArray, MotionEvent, PowerState

    event = MotionEvent(
        event_id=7,
        event_started=True,
        changed_fraction=0.25,
        frame_width=640,
        frame_height=480,
        rois=[RegionOfInterest(x_offset=10, y_offset=20, width=30, height=40)],
    )
    event.header.frame_id = "camera"
    detections = DetectionArray(
        event_id=7,
        detections=[
            Detection(
                id="a",
                center_x=1.5,
                center_y=2.5,
                size_x=3.0,
                size_y=4.0,
                class_id="fox",
                score=0.9,
                stage=2,
                model_id="m2",
            )
        ],
    )
    detections.thumbnail.format = "jpeg"
    detections.thumbnail.data = b"\xff\xd8\xff"
    power = PowerState(
        mode=PowerState.MODE_LOW_POWER,
        mode_name="low_power",
        battery_percentage=float("nan"),
        charging=True,
    )
    store = typestore()
    bag = tmp_path / "own"
    with Writer(bag, version=9) as writer:
        for topic, msg, msgtype in (
            ("/motion/events", event, "wildcam/msg/MotionEvent"),
            ("/detections/events", detections, "wildcam/msg/DetectionArray"),
            ("/power/state", power, "wildcam/msg/PowerState"),
        ):
            conn = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conn, 1, serialize_message(msg))
    with Reader(bag) as reader:
        decoded = {
            c.topic: store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages()
        }
        definitions = {c.topic: c.msgdef.data for c in reader.connections}
    got = decoded["/motion/events"]
    assert (got.event_id, got.event_started, got.frame_width, got.header.frame_id) == (
        7,
        True,
        640,
        "camera",
    )
    assert got.changed_fraction == pytest.approx(0.25)
    assert [(r.x_offset, r.y_offset, r.width, r.height) for r in got.rois] == [(10, 20, 30, 40)]
    (det,) = decoded["/detections/events"].detections
    assert (det.id, det.class_id, det.stage, det.model_id) == ("a", "fox", 2, "m2")
    assert det.score == pytest.approx(0.9)
    assert bytes(decoded["/detections/events"].thumbnail.data) == b"\xff\xd8\xff"
    assert decoded["/power/state"].mode == 1 and decoded["/power/state"].charging
    assert np.isnan(decoded["/power/state"].battery_percentage)
    # The bag embeds complete definitions, nested types included, for tools without our code.
    assert "MSG: sensor_msgs/RegionOfInterest" in definitions["/motion/events"]
    assert "MSG: wildcam/Detection\n" in definitions["/detections/events"]
    assert "MODE_LOW_POWER=1" in definitions["/power/state"].replace(" ", "")


def test_typestore_reads_the_package_messages() -> None:
    directory = msg_dir()
    assert (directory / "MotionEvent.msg").is_file()
    types = wildcam_types(directory)
    assert {f"wildcam/msg/{p.stem}" for p in directory.glob("*.msg")} == set(types)
    assert set(types) <= set(typestore().fielddefs)


def test_truncated_preset_keeps_only_what_fits() -> None:
    full = scene_preset("default")
    cut = scene_preset("default", duration_s=40.0)
    assert cut.duration_s == 40.0
    assert cut.visits == tuple(v for v in full.visits if v.end_s <= 40.0) and cut.visits
    assert all(i.end_s <= 40.0 for i in (*cut.wind, *cut.rain, *cut.ir_night))
    assert scene_preset("empty", duration_s=3.0).duration_s == 3.0
    assert truncate_scene(full, 500.0) == dataclasses.replace(full, duration_s=500.0)


def test_vision_shaped_detections_round_trip_and_hash_as_rosidl_does(tmp_path: Path) -> None:
    """The vision_msgs-shaped messages (nested relative types, geometry_msgs inside) go into an
    MCAP bag, decode with the independent reader, and carry rosidl's type hash."""
    from wildcam.bags.storage import bag_writer
    from wildcam.msg import Detection, DetectionArray
    from wildcam.ros.vision import detection2d_array

    source = DetectionArray(
        detections=[
            Detection(
                id="0",
                center_x=50.0,
                center_y=40.0,
                size_x=20.0,
                size_y=10.0,
                class_id="animal",
                score=0.75,
            )
        ]
    )
    source.header.frame_id = "camera_optical_frame"
    bag = tmp_path / "vision"
    writer = bag_writer(bag, "mcap")
    writer.open()
    conn = writer.add_connection(
        "/detections", "wildcam/msg/Detection2DArray", typestore=typestore()
    )
    writer.write(conn, 1, serialize_message(detection2d_array(source)))
    writer.close()
    metadata, decoded = decode_mcap(bag)
    assert metadata["/detections"]["topic_type_hash"] == installed_type_hash(
        "wildcam/msg/Detection2DArray"
    )
    ((got,),) = decoded.values()
    (det,) = got.detections
    assert (det.bbox.center.position.x, det.bbox.size_y, det.id) == (50.0, 10.0, "0")
    (result,) = det.results
    assert (result.hypothesis.class_id, result.hypothesis.score) == ("animal", 0.75)
    assert det.header.frame_id == "camera_optical_frame"
