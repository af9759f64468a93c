"""The fleet protocol and the bridge's logic without ROS or a broker: command validation,
acknowledgements once per id, payload limits, discovery documents, the ACL text; device facts,
event detections and the link settings and values the node reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mqtt_helpers import FakeActions  # test-local helpers

from wildcam.errors import ConfigError
from wildcam.fleet.bridge import BridgeCore, DeviceFacts
from wildcam.fleet.broker import acl_text, password_line
from wildcam.fleet.commands import CommandLog
from wildcam.fleet.config import BridgeConfig
from wildcam.fleet.link import LinkCounters, link_settings, link_values
from wildcam.fleet.protocol import (
    CommandError,
    Topics,
    detection_dicts,
    discovery_documents,
    event_payload,
    parse_command,
)
from wildcam.msg import Detection
from wildcam.params import build_config
from wildcam.upload.items import DetectionInfo, detection_infos
from wildcam.upload.queue import DurableQueue, QueueStats

ALLOWED = frozenset({"uploader.quota_mb", "power_manager.override_state"})


@pytest.fixture
def outbox(tmp_path: Path) -> DurableQueue:
    queue = DurableQueue(tmp_path / "outbox", 1 << 24, 3600.0)
    yield queue  # type: ignore[misc]
    queue.close()


@pytest.fixture
def commands(tmp_path: Path) -> CommandLog:
    log = CommandLog(tmp_path / "commands.db")
    yield log  # type: ignore[misc]
    log.close()


def sent(queue: DurableQueue) -> list[tuple[str, dict[str, object]]]:
    return [(str(i.meta["topic"]), json.loads(i.payload)) for i in queue.next_batch(1000, 1 << 30)]


@pytest.mark.parametrize(
    "payload,why",
    [
        (b"\xff", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"command": "status"}', "id must be"),
        (b'{"id": "a/b", "command": "status"}', "id must be"),
        (b'{"id": "1", "command": "shutdown"}', "command must be one of"),
        (b'{"id": "1", "command": "mode"}', "mode must be one of"),
        (b'{"id": "1", "command": "set", "params": {}}', "non-empty object"),
        (b'{"id": "1", "command": "set", "params": {"uploader.gateway_url": "x"}}', "allow-list"),
        (b'{"id": "1", "command": "set", "params": {"uploader.quota_mb": [1]}}', "scalars"),
        (b'{"id": "1", "command": "status", "mode": "normal"}', "unexpected field"),
        (b'{"id": "1", "command": "clear_overrides", "param": "fps"}', "node.parameter"),
        (b'{"id": "1", "command": "clear_overrides", "param": 3}', "node.parameter"),
        (b'{"id": "1", "command": "clear_overrides", "params": {}}', "unexpected field"),
        (b'{"id": "1", "command": "status", "pad": "' + b"x" * 5000 + b'"}', "longer than"),
    ],
)
def test_bad_commands_are_refused_with_the_reason(payload: bytes, why: str) -> None:
    with pytest.raises(CommandError, match=why):
        parse_command(payload, ALLOWED)


def test_a_command_runs_once_per_id_and_refusals_change_nothing(
    outbox: DurableQueue, commands: CommandLog
) -> None:
    actions = FakeActions()
    core = BridgeCore(Topics("wildcam", "t1"), outbox, commands, actions, ALLOWED, lambda: 1000.0)
    good = b'{"id": "c1", "command": "mode", "mode": "auto"}'
    first = core.handle_command(good)
    again = core.handle_command(good)  # a QoS 1 redelivery
    assert first == again and first["ok"] and first["key"] == "t1-a-c1"
    assert actions.calls == [("power_manager", {"override_mode": ""})]
    refused = core.handle_command(b'{"id": "c2", "command": "set", "params": {"x.y": 1}}')
    assert not refused["ok"] and "allow-list" in refused["result"]
    core.handle_command(b"garbage")
    core.handle_command(b"garbage")
    assert actions.calls == [("power_manager", {"override_mode": ""})]
    acks = [doc for topic, doc in sent(outbox) if topic == "wildcam/t1/ack"]
    # one message per distinct acknowledgement; the two anonymous refusals keep their own keys
    assert len(acks) == 4 and len({a["key"] for a in acks}) == 4
    split = core.handle_command(
        b'{"id": "c3", "command": "set", "params": '
        b'{"uploader.quota_mb": 64, "power_manager.override_state": '
        b'"warm"}}'
    )
    assert split["ok"] and actions.calls[1:] == [
        ("power_manager", {"override_state": "warm"}),
        ("uploader", {"quota_mb": 64}),
    ]


def test_clear_overrides_releases_one_or_every_manual_override(
    outbox: DurableQueue, commands: CommandLog
) -> None:
    """A remote ``set`` of a policy-managed parameter is a manual override until cleared."""
    actions = FakeActions()
    core = BridgeCore(Topics("wildcam", "t1"), outbox, commands, actions, ALLOWED, lambda: 1000.0)
    one = core.handle_command(
        b'{"id": "c1", "command": "clear_overrides", "param": "camera_driver.fps"}'
    )
    assert one["ok"] and one["result"] == "cleared ['camera_driver.fps']"
    every = core.handle_command(b'{"id": "c2", "command": "clear_overrides"}')
    assert every["ok"] and every["result"] == "no manual override held"
    assert actions.calls == [
        ("clear_overrides", {"node": "camera_driver", "parameter": "fps"}),
        ("clear_overrides", {"node": "", "parameter": ""}),
    ]


def test_a_node_refusal_is_acknowledged_as_failed(
    outbox: DurableQueue, commands: CommandLog
) -> None:
    core = BridgeCore(
        Topics("wildcam", "t1"),
        outbox,
        commands,
        FakeActions("quota_mb out of range"),
        ALLOWED,
        lambda: 1000.0,
    )
    ack = core.handle_command(
        b'{"id": "c1", "command": "set", "params": {"uploader.quota_mb": -1}}'
    )
    assert not ack["ok"] and ack["result"] == "failed: quota_mb out of range"


def test_status_and_events_go_to_the_outbox_with_keys(
    outbox: DurableQueue, commands: CommandLog
) -> None:
    core = BridgeCore(
        Topics("wildcam", "t1"),
        outbox,
        commands,
        FakeActions(),
        ALLOWED,
        lambda: 1000.0,
        thumbnail_max_bytes=10,
    )
    core.facts.battery_pct, core.facts.mode = 55.0, "normal"
    k1, k2 = core.queue_status(), core.queue_status()
    core.queue_event("5-1", 5.0, 1, [{"class_id": "deer", "score": 0.8, "model_id": "m"}], b"123")
    k3 = core.queue_status()
    items = {i.key: i for i in outbox.next_batch(100, 1 << 30)}
    # a status is state: only the latest waits (the event stays)
    assert len({k1, k2, k3}) == 3 and set(items) == {k3, "t1-e-5-1"}
    assert outbox.stats().counters["superseded"] == 2
    assert items[k3].meta == {"topic": "wildcam/t1/status", "retain": True}
    # a status the quota refuses leaves the older one waiting
    outbox.ack(["t1-e-5-1"])
    outbox.quota_bytes = outbox.stats().bytes + 10
    assert core.queue_status() != k3
    assert [i.key for i in outbox.next_batch(100, 1 << 30)] == [k3]
    assert outbox.stats().counters["refused"] == 1
    event = json.loads(items["t1-e-5-1"].payload)
    assert event["thumbnail_jpeg_b64"] == "MTIz" and event["event_type"] == "detection"
    assert core.facts.last_detection == {
        "stamp": 5.0,
        "class_id": "deer",
        "score": 0.8,
        "event_id": 1,
    }
    assert "thumbnail_jpeg_b64" not in event_payload("t1", "k", 1.0, 1, [], b"x" * 11, 10)
    # the event is its best animal's, not the person's beside it
    beside = [{"class_id": "animal", "score": 0.4}, {"class_id": "person", "score": 0.9}]
    doc = event_payload("t1", "k", 1.0, 1, beside)
    assert (doc["class_id"], doc["score"], len(doc["detections"])) == ("animal", 0.4, 2)


def test_discovery_documents_cover_battery_mode_detections_queue() -> None:
    docs = dict(discovery_documents(Topics("wildcam", "t1"), "homeassistant", "", "m", "1"))
    assert set(docs) == {
        "homeassistant/sensor/t1/battery/config",
        "homeassistant/sensor/t1/queue_depth/config",
        "homeassistant/select/t1/mode/config",
        "homeassistant/event/t1/detection/config",
    }
    select = docs["homeassistant/select/t1/mode/config"]
    rendered = (
        select["command_template"]
        .replace("{{ value }}", "low_power")
        .replace("{{ now().timestamp() | int }}", "17")
    )
    assert parse_command(rendered.encode(), frozenset()).mode == "low_power"
    assert all(d["availability_topic"] == "wildcam/t1/availability" for d in docs.values())


def test_config_and_broker_files() -> None:
    with pytest.raises(ConfigError, match="device_id"):
        build_config(BridgeConfig, {"device_id": "a/b"})
    with pytest.raises(ConfigError, match=r"node\.parameter"):
        build_config(BridgeConfig, {"allowed_params": "quota_mb"})
    with pytest.raises(ConfigError, match="cert_file and key_file"):
        build_config(BridgeConfig, {"cert_file": "c.pem"})
    assert "pattern write wildcam/%u/#" in acl_text()
    assert password_line("u", "p").startswith("u:$7$101$")


def test_the_command_log_survives_reopening_and_is_bounded_in_age_and_count(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    log = CommandLog(tmp_path / "c.db", capacity=3, max_age_s=100.0, clock=lambda: now[0])
    log.record("a", {"ok": True, "result": "first"})
    log.close()
    log = CommandLog(tmp_path / "c.db", capacity=3, max_age_s=100.0, clock=lambda: now[0])
    assert log.get("a") == {"ok": True, "result": "first"}  # after a restart
    now[0] += 101.0
    assert log.get("a") is None  # past the age limit: a reused id runs again
    for i in range(5):
        now[0] += 1.0
        log.record(f"b{i}", {"i": i})
    assert len(log) == 3 and log.get("b1") is None and log.get("b4") == {"i": 4}
    log.close()


def test_device_facts_take_power_summary_and_diagnostics_values() -> None:
    facts = DeviceFacts()
    facts.power(float("nan"), "low_power", "watch", False)
    facts.summary([("stage_total_j", "12.5"), ("average_power_w", "x"), ("other", "1")])
    facts.diagnostics([("ota_last", "applied u1" + "." * 400), ("mode", "normal")])
    assert facts.battery_pct is None and (facts.mode, facts.state) == ("low_power", "watch")
    assert facts.energy_j == 12.5 and facts.average_power_w is None
    assert facts.ota_last.startswith("applied u1") and len(facts.ota_last) == 300


def test_event_detections_leave_out_non_finite_scores_and_round() -> None:
    found = detection_infos(  # the messages both the uploader and the bridge receive
        [
            Detection(
                id="0",
                class_id="animal",
                score=0.876543,
                stage=2,
                model_id="m2",
                center_x=10.04,
                center_y=20.06,
                size_x=30.0,
                size_y=40.0,
            ),
            Detection(id="1", class_id="animal", score=float("nan"), stage=1, model_id="m1"),
        ]
    )
    assert found[0] == DetectionInfo("0", "animal", 0.876543, 2, "m2", (10.04, 20.06, 30.0, 40.0))
    assert detection_dicts(found) == [
        {
            "class_id": "animal",
            "score": 0.8765,
            "stage": 2,
            "model_id": "m2",
            "box": [10.0, 20.1, 30.0, 40.0],
        }
    ]


def test_link_settings_and_values_from_the_config(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    cfg = build_config(
        BridgeConfig,
        {"device_id": "trap-07", "password_file": str(password), "discovery": True},
    )
    topics = Topics(cfg.topic_prefix, cfg.device)
    settings = link_settings(cfg, topics, "1.0")
    assert (settings.client_id, settings.username, settings.password) == (
        "trap-07",
        "trap-07",
        "s3cret",
    )
    assert settings.will_topic == topics.availability and settings.command_topic == topics.cmd
    assert settings.announce and all(
        t.startswith(cfg.discovery_prefix) for t, _ in settings.announce
    )
    off = link_settings(
        build_config(BridgeConfig, {"device_id": "trap-07", "discovery": False}), topics, "1.0"
    )
    assert off.announce == () and off.username == "" and off.password == ""
    counters = LinkCounters(connects=2, connected=True, last_error="none")
    stats = QueueStats(depth_by_priority=(1, 2, 0), bytes=10, dead_letters=1, counters={})
    values = link_values(counters, stats)
    assert values["connected"] == "True" and values["outbox_depth"] == "3"
    assert values["outbox_dead_letters"] == "1" and values["connects"] == "2"
