"""The device's MQTT link against a real Mosquitto: the outbox arrives exactly once (by key)
across a broker restart, while only the latest status waits; a command id is remembered across a
bridge restart; the last will marks a dead trap offline, the ACL keeps a device to its own
topics (a refused publish is dead-lettered with MQTT 5, lost with 3.1.1), and wrong credentials
are retried with backoff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
from mqtt_helpers import PASSWORDS, FakeActions, Watcher, wait_for  # test-local helpers
from paho.mqtt.enums import CallbackAPIVersion

from wildcam.fleet.bridge import BridgeCore
from wildcam.fleet.broker import Mosquitto
from wildcam.fleet.commands import CommandLog
from wildcam.fleet.link import LinkSettings, MqttLink, outbox_item
from wildcam.fleet.protocol import Topics
from wildcam.upload.queue import DurableQueue

TOPICS = Topics("wildcam", "trap1")


def settings(port: int, password: str = PASSWORDS["trap1"], **kw: object) -> LinkSettings:
    return LinkSettings(
        host="127.0.0.1",
        port=port,
        client_id="trap1",
        will_topic=TOPICS.availability,
        command_topic=TOPICS.cmd,
        username="trap1",
        password=password,
        backoff_base_s=0.05,
        backoff_max_s=0.5,
        poll_s=0.05,
        **kw,
    )  # type: ignore[arg-type]


def outbox(tmp_path: Path) -> DurableQueue:
    return DurableQueue(tmp_path / "outbox", 16 * 1024 * 1024, 86400.0)


def put_events(queue: DurableQueue, start: int, n: int) -> list[str]:
    keys = [f"trap1-e-{i}" for i in range(start, start + n)]
    queue.put(
        [outbox_item(k, TOPICS.events, {"key": k, "n": i}) for i, k in enumerate(keys, start)]
    )
    return keys


def unique_keys(watcher: Watcher) -> tuple[set[str], int]:
    """The distinct event keys that arrived, and how many messages carried them."""
    docs = watcher.docs("/events")
    return {d["key"] for d in docs}, len(docs)


def test_outbox_arrives_exactly_once_across_a_broker_restart(
    tmp_path: Path, broker: Mosquitto, watcher: Watcher
) -> None:
    queue = outbox(tmp_path)
    link = MqttLink(settings(broker.port), queue, lambda _: None).start()
    try:
        first = put_events(queue, 0, 30)
        assert wait_for(lambda: unique_keys(watcher)[0] >= set(first))
        broker.stop()
        assert wait_for(lambda: not link.counters.connected, 10)
        second = put_events(queue, 30, 40)  # queued while the broker is away
        assert queue.stats().depth == 40
        broker.start()
        assert wait_for(lambda: unique_keys(watcher)[0] >= set(first + second), 60)
        assert wait_for(lambda: queue.stats().depth == 0, 10)
        keys, _ = unique_keys(watcher)
        assert keys == set(first + second)  # each exactly once after deduplication by key
        assert link.counters.connects >= 2 and link.counters.failures >= 1
        assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"online"])
    finally:
        link.stop()
        queue.close()
    # a clean stop announces offline (retained)
    assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"offline"])


def test_a_dead_trap_is_marked_offline_by_its_last_will(
    tmp_path: Path, broker: Mosquitto, watcher: Watcher
) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from wildcam.fleet.link import LinkSettings, MqttLink\n"
        "from wildcam.upload.queue import DurableQueue\n"
        f"s = LinkSettings(host='127.0.0.1', port={broker.port}, client_id='trap1', "
        "will_topic='wildcam/trap1/availability', command_topic='wildcam/trap1/cmd', "
        f"username='trap1', password='{PASSWORDS['trap1']}', poll_s=0.05)\n"
        f"q = DurableQueue(Path(r'{tmp_path / 'q'}'), 1 << 20, 60.0)\n"
        "MqttLink(s, q, lambda _: None).start()\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"online"])
        proc.kill()  # no DISCONNECT: the broker publishes the will
        proc.wait(10)
        assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"offline"])
    finally:
        proc.kill()
        proc.wait(10)


def test_a_device_cannot_write_or_read_another_devices_topics(
    broker: Mosquitto, watcher: Watcher
) -> None:
    results: dict[int, bool] = {}
    got: list[str] = []
    trap1 = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="trap1", protocol=mqtt.MQTTv5)
    trap1.username_pw_set("trap1", PASSWORDS["trap1"])
    trap1.on_publish = lambda c, u, mid, reason, p: results.__setitem__(mid, reason.is_failure)
    trap1.on_message = lambda c, u, m: got.append(m.topic)
    trap1.connect("127.0.0.1", broker.port)
    trap1.loop_start()
    try:
        assert wait_for(trap1.is_connected, 10)
        trap1.subscribe("wildcam/trap2/cmd", 1)
        trap1.subscribe("wildcam/trap1/cmd", 1)
        forged = [
            trap1.publish(t, b'{"key":"forged"}', qos=1).mid
            for t in (
                "wildcam/trap2/status",
                "wildcam/trap2/events",
                "wildcam/trap2/availability",
                "homeassistant/sensor/trap2/battery/config",
                "wildcam/other/status",
            )
        ]
        own = trap1.publish("wildcam/trap1/status", b'{"key":"own"}', qos=1).mid
        assert wait_for(lambda: len(results) == len(forged) + 1)
        # MQTT 5: the broker answers each forged publish "not authorized"; the own one succeeds
        assert [results[m] for m in forged] == [True] * len(forged) and results[own] is False
        assert wait_for(lambda: watcher.docs("trap1/status") == [{"key": "own"}])
        assert watcher.docs("trap2/status") == watcher.docs("other/status") == []
        # commands to trap2 never reach trap1; its own do
        watcher.publish("wildcam/trap2/cmd", b'{"id":"x","command":"status"}')
        watcher.publish("wildcam/trap1/cmd", b'{"id":"y","command":"status"}')
        assert wait_for(lambda: "wildcam/trap1/cmd" in got)
        assert "wildcam/trap2/cmd" not in got
    finally:
        trap1.loop_stop()
        trap1.disconnect()


def test_wrong_credentials_are_retried_with_backoff(tmp_path: Path, broker: Mosquitto) -> None:
    queue = outbox(tmp_path)
    put_events(queue, 0, 3)
    link = MqttLink(
        settings(broker.port, password="wrong-password"), queue, lambda _: None
    ).start()
    try:
        assert wait_for(lambda: link.counters.failures >= 3)
        assert "refused" in link.counters.last_error and not link.counters.connected
        assert queue.stats().depth == 3  # nothing lost
    finally:
        link.stop()
        queue.close()


def test_commands_reach_the_callback(tmp_path: Path, broker: Mosquitto, watcher: Watcher) -> None:
    queue = outbox(tmp_path)
    received: list[bytes] = []
    link = MqttLink(settings(broker.port), queue, received.append).start()
    try:
        assert wait_for(lambda: link.counters.connected)
        assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"online"])
        watcher.publish(TOPICS.cmd, json.dumps({"id": "c1", "command": "status"}).encode())
        assert wait_for(lambda: received == [b'{"id": "c1", "command": "status"}'])
    finally:
        link.stop()
        queue.close()


def bridge(tmp_path: Path, port: int) -> tuple[BridgeCore, MqttLink, FakeActions]:
    """The bridge without ROS: its logic and link over an outbox and command log in
    ``tmp_path`` (what the node builds)."""
    actions = FakeActions()
    core = BridgeCore(
        TOPICS,
        outbox(tmp_path),
        CommandLog(tmp_path / "outbox" / "commands.db"),
        actions,
        frozenset(),
        lambda: 1000.0,
    )
    return core, MqttLink(settings(port), core.outbox, core.handle_command).start(), actions


def close(core: BridgeCore, link: MqttLink) -> None:
    link.stop()
    core.outbox.close()
    core.commands.close()


def test_only_the_latest_status_waits_while_events_and_acks_all_arrive_once(
    tmp_path: Path, broker: Mosquitto, watcher: Watcher
) -> None:
    core, link, _ = bridge(tmp_path, broker.port)
    try:
        core.facts.battery_pct = 95.0
        core.queue_status()
        assert wait_for(lambda: [d["battery_pct"] for d in watcher.docs("/status")] == [95.0])
        broker.stop()
        assert wait_for(lambda: not link.counters.connected, 10)
        events, acks = [], []
        for i in range(5):  # while the broker is away
            core.facts.battery_pct = 90.0 - i
            core.queue_status()
            events.append(core.queue_event(f"f{i}", 100.0 + i, i, [{"class_id": "deer"}], b""))
            if i < 2:
                acks.append(core.handle_command(b'{"id": "s%d", "command": "status"}' % i)["key"])
        # 5 events, 2 acks, and of the 7 statuses (2 on request) only the latest
        assert core.outbox.stats().depth == 5 + 2 + 1
        assert core.outbox.stats().counters["superseded"] == 6
        broker.start()
        assert wait_for(lambda: core.outbox.stats().depth == 0, 60)
        assert wait_for(lambda: unique_keys(watcher)[0] == set(events))
        assert wait_for(lambda: {d["key"] for d in watcher.docs("/ack")} == set(acks))
        # no status from while the broker was away but the latest (95 again: the retained one
        # redelivered to the watcher when it resubscribed)
        assert wait_for(lambda: any(d["battery_pct"] == 86.0 for d in watcher.docs("/status")))
        assert {d["battery_pct"] for d in watcher.docs("/status")} <= {95.0, 86.0}
        fresh = Watcher(broker.port, client_id="fresh", topics=(TOPICS.status,))
        try:  # what the broker retained for a new subscriber is the latest
            assert wait_for(lambda: bool(fresh.docs("/status")), 10)
            assert fresh.docs("/status")[-1]["battery_pct"] == 86.0
        finally:
            fresh.close()
    finally:
        close(core, link)


def test_a_command_id_is_remembered_across_a_bridge_restart(
    tmp_path: Path, broker: Mosquitto, watcher: Watcher
) -> None:
    command = b'{"id": "r1", "command": "mode", "mode": "low_power"}'

    def acks(command_id: str) -> list[dict[str, object]]:
        return [a for a in watcher.docs("/ack") if a["id"] == command_id]

    core, link, actions = bridge(tmp_path, broker.port)
    try:
        assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"online"])
        watcher.publish(TOPICS.cmd, command)
        assert wait_for(lambda: len(acks("r1")) == 1)
        assert actions.calls == [("power_manager", {"override_mode": "low_power"})]
    finally:
        close(core, link)
    core, link, actions = bridge(tmp_path, broker.port)  # the bridge restarted
    try:
        assert wait_for(lambda: watcher.payloads(TOPICS.availability)[-1:] == [b"online"])
        watcher.publish(TOPICS.cmd, command)  # the same id again
        watcher.publish(TOPICS.cmd, b'{"id": "r2", "command": "mode", "mode": "auto"}')
        assert wait_for(lambda: len(acks("r1")) == 2 and len(acks("r2")) == 1)
        assert acks("r1")[1] == acks("r1")[0]  # its first acknowledgement, not run again
        assert actions.calls == [("power_manager", {"override_mode": ""})]  # r2 only
    finally:
        close(core, link)


def test_a_publish_the_acl_refuses_is_dead_lettered_with_mqtt5_and_lost_with_311(
    tmp_path: Path, broker: Mosquitto, watcher: Watcher
) -> None:
    assert settings(broker.port).protocol == "5"  # the default
    for protocol, dead_letters in (("5", 1), ("3.1.1", 0)):
        queue = DurableQueue(tmp_path / protocol, 1 << 20, 3600.0)
        key = f"forged-{protocol}"
        queue.put([outbox_item(key, "wildcam/trap2/status", {"key": key}, retain=True)])
        link = MqttLink(settings(broker.port, protocol=protocol), queue, lambda _: None).start()
        try:
            assert wait_for(lambda q=queue: q.stats().depth == 0)
            # MQTT 5: the broker's "not authorized" dead-letters it (counted, kept as a record);
            # 3.1.1: the broker acknowledges it as if delivered, and drops it
            assert queue.stats().dead_letters == dead_letters
            if dead_letters:
                assert "not authorized" in queue.dead_letters()[0].reason.lower()
        finally:
            link.stop()
            queue.close()
    assert watcher.docs("trap2/status") == []
