"""The PIR share measured from a recording (wildcam.report.pir) and its use by ``wildcam
lifetime``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wildcam.errors import InputError
from wildcam.report.pir import pir_share, pir_share_from_bag, wilson

T0 = 1_700_000_000 * 10**9


def test_a_trigger_within_the_event_or_its_slack_counts_as_seen() -> None:
    visits = [(100.0, 110.0), (200.0, 205.0), (300.0, 301.0), (400.0, 420.0)]
    triggers = [104.0, 197.0, 306.5, 900.0]
    assert pir_share(visits, triggers, slack_s=5.0) == (4, 2)  # 300-301: trigger 5.5 s late
    assert pir_share(visits, triggers, slack_s=6.0) == (4, 3)
    assert pir_share(visits, [], slack_s=5.0) == (4, 0)
    with pytest.raises(InputError):
        pir_share(visits, triggers, slack_s=-1.0)


def test_the_wilson_interval_holds_the_share_and_narrows_with_more_visits() -> None:
    low, high = wilson(9, 10)
    assert low < 0.9 < high and high < 1.0
    wide, narrow = wilson(18, 20), wilson(900, 1000)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(10, 10)[1] == pytest.approx(1.0)
    # Wilson (1927) for 9/10 at 95 %: 0.596-0.982 (as statsmodels' proportion_confint gives)
    assert (round(low, 3), round(high, 3)) == (0.596, 0.982)


def _write_bag(bag: Path) -> None:
    """Five motion events: four while warm (three decided animal, of which the PIR saw two; one
    empty, which the PIR saw), and one while in watch (PIR-woken, left out)."""
    from builtin_interfaces.msg import Time
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer

    from wildcam.bags.storage import BAG_VERSION
    from wildcam.bags.typestore import typestore
    from wildcam.msg import Detection, DetectionArray, MotionEvent, PowerState, Trigger

    def stamp(s: float) -> Time:
        ns = T0 + round(s * 1e9)
        return Time(sec=ns // 10**9, nanosec=ns % 10**9)

    store = typestore()
    with Writer(bag, version=BAG_VERSION) as writer:
        conns = {}
        for topic, msgtype in (
            ("/motion/events", "wildcam/msg/MotionEvent"),
            ("/detections/events", "wildcam/msg/DetectionArray"),
            ("/power/state", "wildcam/msg/PowerState"),
            ("/camera/trigger", "wildcam/msg/Trigger"),
        ):
            msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
            conns[topic] = writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=store.hash_rihs01(msgtype)
            )
        out: list[tuple[float, str, object]] = []

        def state(t: float, name: str) -> None:
            msg = PowerState(device_state=name)
            msg.header.stamp = stamp(t)
            out.append((t, "/power/state", msg))

        def event(eid: int, start: float, end: float, animal: bool) -> None:
            for t, last in ((start, False), ((start + end) / 2, False), (end, True)):
                msg = MotionEvent(event_id=eid, event_started=t == start, event_ended=last)
                msg.header.stamp = stamp(t)
                out.append((t, "/motion/events", msg))
            if animal:
                det = DetectionArray(event_id=eid, detections=[Detection(score=0.9, stage=3)])
                det.header.stamp = stamp((start + end) / 2)
                out.append(((start + end) / 2, "/detections/events", det))

        def trigger(t: float, active: bool = True, source: int = Trigger.SOURCE_PIR) -> None:
            msg = Trigger(source=source, active=active)
            msg.header.stamp = stamp(t)
            out.append((t, "/camera/trigger", msg))

        state(0.0, "warm")
        event(1, 10.0, 20.0, animal=True)
        trigger(12.0)
        trigger(14.0, active=False)
        event(2, 40.0, 50.0, animal=True)  # missed: only a manual trigger and a falling edge
        trigger(45.0, source=Trigger.SOURCE_MANUAL)
        trigger(46.0, active=False)
        event(1, 70.0, 75.0, animal=True)  # event ids restart with a restarted motion gate
        trigger(78.0)  # 3 s after the event: within the 5 s slack
        event(3, 100.0, 110.0, animal=False)
        trigger(101.0)
        state(200.0, "watch")
        event(4, 210.0, 220.0, animal=True)
        trigger(209.0)
        for t, topic, msg in sorted(out, key=lambda r: r[0]):
            writer.write(conns[topic], T0 + round(t * 1e9), serialize_message(msg))


def test_the_share_is_measured_from_a_recorded_warm_run(tmp_path: Path) -> None:
    bag = tmp_path / "warm_week"
    _write_bag(bag)
    measured = pir_share_from_bag(bag, slack_s=5.0)
    assert (measured.visits, measured.seen, measured.not_warm) == (3, 2, 1)
    assert measured.share == pytest.approx(2 / 3)
    assert measured.low < 2 / 3 < measured.high
    every = pir_share_from_bag(bag, slack_s=5.0, animal_only=False)
    assert (every.visits, every.seen) == (4, 3)
    assert pir_share_from_bag(bag, slack_s=1.0).seen == 1  # the late trigger no longer counts
    assert "2 of 3 visits" in measured.summary()


def test_wildcam_lifetime_uses_the_measured_share_and_names_its_source(tmp_path: Path) -> None:
    bag = tmp_path / "warm_week"
    _write_bag(bag)
    cmd = [sys.executable, "-m", "wildcam.cli", "lifetime", "--days", "30", "--json"]
    done = subprocess.run(
        [*cmd, "--pir-share-from", str(bag)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    constant = json.loads(done.stdout)["constants"]["activity.pir_share"]
    assert constant["value"] == pytest.approx(2 / 3)
    assert constant["source"].startswith(f"measured: {bag}") and "2 of 3" in constant["source"]

    both = subprocess.run(
        [*cmd, "--pir-share", "0.8", "--pir-share-from", str(bag)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    empty = tmp_path / "empty_bag"
    empty.mkdir()
    missing = subprocess.run(
        [*cmd, "--pir-share-from", str(empty)], capture_output=True, text=True, timeout=120
    )
    for bad in (both, missing):
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
