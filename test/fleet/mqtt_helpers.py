"""Test-local helpers of the fleet tests: the broker's users, an MQTT watcher, waiting on a
condition, the bridge's actions faked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wildcam.errors import UpdateError
from wildcam.fleet.broker import OPERATOR

PASSWORDS = {
    OPERATOR: "operator-secret-0123",
    "trap1": "trap1-secret-0123",
    "trap2": "trap2-secret-0123",
}


class Watcher:
    """An MQTT client collecting what arrives on its subscriptions (persistent session, QoS 1,
    reconnecting by itself)."""

    def __init__(
        self,
        port: int,
        user: str = OPERATOR,
        client_id: str = "watcher",
        topics: tuple[str, ...] = ("wildcam/#",),
    ) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.username_pw_set(user, PASSWORDS[user])
        self.client.reconnect_delay_set(0.05, 0.5)
        self.topics = topics
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: [c.subscribe(t, 1) for t in self.topics]
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def docs(self, topic_end: str) -> list[dict[str, Any]]:
        """The JSON documents that arrived on topics ending with ``topic_end``."""
        with self.lock:
            found = [p for t, p, _ in self.messages if t.endswith(topic_end)]
        return [json.loads(p) for p in found]

    def payloads(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout_s`` passes (a condition, not a sleep)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class FakeActions:
    """The bridge's actions, recorded (or refused with ``refuse``)."""

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
