"""play and record against a real ROS graph: subprocesses plus an in-test rclpy node."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from bag_helpers import (  # type: ignore[import-not-found]
    BagTool,
    decode_mcap,
    small_scene,
)
from rclpy.duration import Duration
from rclpy.qos import QoSProfile
from rosbags.rosbag2 import Reader
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image

from wildcam.bags import info, typestore
from wildcam.bags.generate import EPOCH_NS, generate

pytestmark = pytest.mark.graph
DEEP = QoSProfile(depth=100)  # reliable, deep enough that nothing is dropped
# Timing note: before it exits the player waits for the last messages to be acknowledged, and
# Fast DDS often sends acknowledgements only on its periodic heartbeat (every 3 s), so a play
# test lasts up to 3 s longer than its playback. The tests' own waits are on delivery.


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    """A 12.5 s, 10 fps bag of 160x120 frames (125 frames, 250 messages)."""
    return generate(tmp_path / "bag", small_scene(12.5, 160, 120)).path


def test_play_delivers_every_message_in_order(bag: Path, probe, bagtool: BagTool) -> None:
    images: list[tuple[float, Image]] = []
    infos: list[CameraInfo] = []
    probe.node.create_subscription(
        Image, "/camera/small/image_raw", lambda m: images.append((time.monotonic(), m)), DEEP
    )
    probe.node.create_subscription(CameraInfo, "/camera/small/camera_info", infos.append, DEEP)
    player = bagtool.start("play", str(bag), "--rate", "10", "--wait-for-subscribers", "15")
    assert probe.spin_until(lambda: len(images) >= 125 and len(infos) >= 125, 30.0), (
        len(images),
        len(infos),
        bagtool.output(player),
    )
    # Keep spinning: the player waits for our acknowledgements before it exits.
    assert probe.spin_until(lambda: player.poll() is not None, 15.0)
    assert player.returncode == 0, bagtool.output(player)
    assert "published 250 messages" in bagtool.output(player)
    assert (len(images), len(infos)) == (125, 125)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in images]
    assert stamps == [EPOCH_NS + i * 100_000_000 for i in range(125)]
    with Reader(bag) as reader:
        first = next(
            typestore().deserialize_cdr(raw, c.msgtype)
            for c, _, raw in reader.messages()
            if c.topic == "/camera/small/image_raw"
        )
    assert bytes(images[0][1].data) == bytes(first.data) and images[0][1].encoding == "mono8"
    # The recorded spacing is kept, scaled: the last 50 frames span 4.9 s of bag time, 0.49 s
    # at 10x. (The first few may arrive together if our side matched the player's late.)
    span = images[-1][0] - images[-50][0]
    assert 0.3 < span < 2.0, span


def test_play_filters_topics_offsets_start_and_publishes_clock(
    bag: Path, probe, bagtool: BagTool
) -> None:
    images: list[Image] = []
    infos: list[CameraInfo] = []
    clocks: list[Clock] = []
    probe.node.create_subscription(Image, "/camera/small/image_raw", images.append, DEEP)
    probe.node.create_subscription(CameraInfo, "/camera/small/camera_info", infos.append, DEEP)
    probe.node.create_subscription(Clock, "/clock", clocks.append, DEEP)
    player = bagtool.start(
        "play",
        str(bag),
        "--rate",
        "10",
        "--topics",
        "camera/small/camera_info",
        "--start-offset",
        "2.5",
        "--clock",
        "--wait-for-subscribers",
        "15",
    )
    assert probe.spin_until(lambda: len(infos) >= 100, 30.0), bagtool.output(player)
    assert probe.spin_until(lambda: player.poll() is not None, 15.0)
    assert player.returncode == 0, bagtool.output(player)
    assert len(infos) == 100  # frames at 2.5 .. 12.4 s
    assert infos[0].header.stamp.sec * 10**9 + infos[0].header.stamp.nanosec == (
        EPOCH_NS + 2_500_000_000
    )
    assert images == []  # not selected: the player never advertised it
    assert probe.node.count_publishers("/camera/small/image_raw") == 0
    assert clocks, "no /clock published"
    ticks = [c.clock.sec * 10**9 + c.clock.nanosec for c in clocks]
    assert all(EPOCH_NS + 2_500_000_000 <= t <= EPOCH_NS + 12_400_000_000 for t in ticks), ticks
    assert ticks == sorted(ticks)


@pytest.mark.parametrize(
    ("storage", "stop", "selection"),
    [
        ("sqlite3", signal.SIGINT, ["/motion/events"]),
        ("mcap", signal.SIGTERM, ["--all"]),
    ],
)
def test_record_motion_events_until_signalled(
    storage: str,
    stop: signal.Signals,
    selection: list[str],
    tmp_path: Path,
    probe,
    bagtool: BagTool,
) -> None:
    from wildcam.msg import MotionEvent

    n = 100
    publisher = probe.node.create_publisher(MotionEvent, "/motion/events", DEEP)
    out = tmp_path / "recorded"
    recorder = bagtool.start("record", "-o", str(out), "--storage", storage, *selection)
    assert probe.spin_until(lambda: publisher.get_subscription_count() > 0, 20.0), bagtool.output(
        recorder
    )
    # Matched on the recorder's side too, so the first messages are not left to a resend.
    assert bagtool.wait_for_output(recorder, "subscribed to /motion/events", 20.0)
    for i in range(n):
        msg = MotionEvent(
            event_id=i + 1,
            event_started=i == 0,
            changed_fraction=0.01 * i,
            frame_width=640,
            frame_height=480,
        )
        msg.header.frame_id = "camera"
        publisher.publish(msg)
    assert publisher.wait_for_all_acked(Duration(seconds=10))
    recorder.send_signal(stop)
    assert recorder.wait(timeout=15) == 0, bagtool.output(recorder)
    assert (out / "metadata.yaml").is_file()

    summary = info(out)
    assert summary.storage_id == storage
    counts = summary.counts()
    assert counts.pop("/motion/events") == n
    # --all also finds the test node's own topics (nothing was published on them).
    assert set(counts) <= {"/rosout", "/parameter_events"} and not any(counts.values())
    if selection != ["--all"]:
        assert not counts
    topic = summary.topic("/motion/events")
    assert topic.msgtype == "wildcam/msg/MotionEvent" and topic.has_definition
    (offered,) = topic.offered_qos  # the publisher's QoS is kept
    assert offered.reliability.name == "RELIABLE"
    # The embedded definition is the one the publisher used: same type hash, full text.
    (endpoint,) = probe.node.get_publishers_info_by_topic("/motion/events")
    assert topic.type_hash == str(endpoint.topic_type_hash)
    with Reader(out) as reader:
        (conn,) = [c for c in reader.connections if c.topic == "/motion/events"]
        assert "uint32 event_id" in conn.msgdef.data
        assert "MSG: sensor_msgs/RegionOfInterest" in conn.msgdef.data
        events = [
            typestore().deserialize_cdr(raw, conn.msgtype) for _, _, raw in reader.messages([conn])
        ]
    assert [e.event_id for e in events] == list(range(1, n + 1))
    assert events[0].event_started and events[-1].changed_fraction == pytest.approx(0.99)
    if storage == "mcap":  # the custom type also decodes with an independent reader
        metadata, decoded = decode_mcap(out)
        assert [e.event_id for e in decoded["/motion/events"]] == list(range(1, n + 1))
        assert metadata["/motion/events"]["topic_type_hash"] == topic.type_hash


def test_record_picks_up_a_late_topic_and_stops_at_max_messages(
    tmp_path: Path, probe, bagtool: BagTool
) -> None:
    from wildcam.msg import PowerState

    out = tmp_path / "late"
    recorder = bagtool.start("record", "-o", str(out), "--max-messages", "5", "/power/state")
    assert bagtool.wait_for_output(recorder, "recording to", 20.0), bagtool.output(recorder)
    # The topic appears only now; the recorder finds it on one of its periodic looks.
    publisher = probe.node.create_publisher(PowerState, "/power/state", 50)
    assert probe.spin_until(lambda: publisher.get_subscription_count() > 0, 20.0), bagtool.output(
        recorder
    )
    assert bagtool.wait_for_output(recorder, "subscribed to /power/state", 20.0)
    for i in range(8):
        publisher.publish(PowerState(mode=i % 4, mode_name=f"m{i}"))
    assert recorder.wait(timeout=15) == 0, bagtool.output(recorder)  # exits by itself
    summary = info(out)
    assert summary.counts() == {"/power/state": 5}
    assert summary.topic("/power/state").msgtype == "wildcam/msg/PowerState"


def test_play_loops_until_interrupted(tmp_path: Path, probe, bagtool: BagTool) -> None:
    short = generate(tmp_path / "short", small_scene(1.0, 64, 48)).path  # 10 frames
    infos: list[CameraInfo] = []
    probe.node.create_subscription(CameraInfo, "/camera/small/camera_info", infos.append, DEEP)
    player = bagtool.start(
        "play",
        str(short),
        "--rate",
        "5",
        "--loop",
        "--topics",
        "/camera/small/camera_info",
        "--wait-for-subscribers",
        "15",
    )
    assert probe.spin_until(lambda: len(infos) >= 25, 30.0), bagtool.output(player)
    assert player.poll() is None, "a looping player must keep going"
    player.send_signal(signal.SIGINT)
    assert probe.spin_until(lambda: player.poll() is not None, 10.0)
    assert player.returncode == 0, bagtool.output(player)
    assert "interrupted" in bagtool.output(player)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in infos[:25]]
    frame = [EPOCH_NS + i * 100_000_000 for i in range(10)]
    assert stamps == (frame * 3)[:25]  # the bag again from its start, each time
