"""The fleet protocol and the bridge's logic without ROS or a broker: command validation,
acknowledgements once per id, payload limits, discovery documents, the ACL text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildcam.errors import ConfigError, UpdateError
from wildcam.fleet.bridge import BridgeCore
from wildcam.fleet.broker import acl_text, password_line
from wildcam.fleet.config import BridgeConfig
from wildcam.fleet.protocol import (
    CommandError,
    Topics,
    discovery_documents,
    event_payload,
    parse_command,
)
from wildcam.params import build_config
from wildcam.upload.queue import DurableQueue

ALLOWED = frozenset({"uploader.quota_mb", "power_manager.override_state"})


class FakeActions:
    def __init__(self, refuse: str = "") -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.refuse = refuse

    def set_params(self, node: str, values: dict[str, object]) -> None:
        if self.refuse:
            raise UpdateError(self.refuse)
        self.calls.append((node, values))

    def check_updates(self) -> str:
        self.calls.append(("check_updates", {}))
        return "checking"

    def clear_overrides(self, node: str, parameter: str) -> list[str]:
        self.calls.append(("clear_overrides", {"node": node, "parameter": parameter}))
        return [f"{node}.{parameter}"] if node else []


@pytest.fixture
def outbox(tmp_path: Path) -> DurableQueue:
    queue = DurableQueue(tmp_path / "outbox", 1 << 24, 3600.0)
    yield queue  # type: ignore[misc]
    queue.close()


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


def test_a_command_runs_once_per_id_and_refusals_change_nothing(outbox: DurableQueue) -> None:
    actions = FakeActions()
    core = BridgeCore(Topics("wildcam", "t1"), outbox, actions, ALLOWED, lambda: 1000.0)
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


def test_clear_overrides_releases_one_or_every_manual_override(outbox: DurableQueue) -> None:
    """A remote ``set`` of a policy-managed parameter is a manual override until cleared."""
    actions = FakeActions()
    core = BridgeCore(Topics("wildcam", "t1"), outbox, actions, ALLOWED, lambda: 1000.0)
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


def test_a_node_refusal_is_acknowledged_as_failed(outbox: DurableQueue) -> None:
    core = BridgeCore(
        Topics("wildcam", "t1"),
        outbox,
        FakeActions("quota_mb out of range"),
        ALLOWED,
        lambda: 1000.0,
    )
    ack = core.handle_command(
        b'{"id": "c1", "command": "set", "params": {"uploader.quota_mb": -1}}'
    )
    assert not ack["ok"] and ack["result"] == "failed: quota_mb out of range"


def test_status_and_events_go_to_the_outbox_with_keys(outbox: DurableQueue) -> None:
    core = BridgeCore(
        Topics("wildcam", "t1"),
        outbox,
        FakeActions(),
        ALLOWED,
        lambda: 1000.0,
        thumbnail_max_bytes=10,
    )
    core.facts.battery_pct, core.facts.mode = 55.0, "normal"
    k1, k2 = core.queue_status(), core.queue_status()
    assert k1 != k2
    core.queue_event("5-1", 5.0, 1, [{"class_id": "deer", "score": 0.8, "model_id": "m"}], b"123")
    items = {i.key: i for i in outbox.next_batch(100, 1 << 30)}
    assert items[k1].meta == {"topic": "wildcam/t1/status", "retain": True}
    event = json.loads(items["t1-e-5-1"].payload)
    assert event["thumbnail_jpeg_b64"] == "MTIz" and event["event_type"] == "detection"
    assert core.facts.last_detection == {
        "stamp": 5.0,
        "class_id": "deer",
        "score": 0.8,
        "event_id": 1,
    }
    assert "thumbnail_jpeg_b64" not in event_payload("t1", "k", 1.0, 1, [], b"x" * 11, 10)


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
