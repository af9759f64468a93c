"""The device's MQTT connection (paho-mqtt): a durable outbox drained at QoS 1, commands in,
a last will, TLS and reconnection with backoff. No rclpy: the bridge node and the tests use it.

One thread owns the paho client. It connects (TLS and user/password or a client certificate
when configured; the last will marks the device ``offline``, retained), announces ``online`` and
the Home Assistant discovery documents, subscribes to the command topic at QoS 1 and then
publishes what waits in the outbox (a :class:`~wildcam.upload.queue.DurableQueue`, the uploads'
queue, in its own directory), at most ``max_inflight`` unacknowledged at once. An outbox item
leaves the queue only when the broker acknowledged it (PUBACK), so nothing is lost while the link
is down or the process restarts; what was in flight when the link dropped is sent again after
the reconnect (consumers deduplicate by the payload's ``key``). A dropped or refused connection
is retried after an exponential, jittered backoff; every attempt starts a fresh paho client, so
paho never resends on its own and only the outbox decides what is sent.

The session is persistent (MQTT 3.1.1 ``clean_session`` false; MQTT 5 ``clean_start`` false with
a week's session expiry) and the client id is the device id, so commands sent while the device
was away are delivered when it is back.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from wildcam.errors import ConfigError
from wildcam.fleet.config import BridgeConfig
from wildcam.fleet.protocol import Topics, discovery_documents, encode
from wildcam.upload.backoff import Backoff
from wildcam.upload.queue import DurableQueue, NewItem, QueueStats

__all__ = [
    "LinkCounters",
    "LinkSettings",
    "MqttLink",
    "link_settings",
    "link_values",
    "outbox_item",
    "session_properties",
]

log = logging.getLogger("wildcam.fleet")
SESSION_EXPIRY_S = 7 * 86400  # MQTT 5: the broker keeps the session (queued commands) a week


@dataclass(frozen=True)
class LinkSettings:
    """Where and how to connect."""

    host: str
    port: int
    client_id: str
    will_topic: str
    command_topic: str
    protocol: str = "5"
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive_s: int = 60
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    max_inflight: int = 20
    poll_s: float = 0.5
    announce: tuple[tuple[str, bytes], ...] = ()  # retained on each connect (discovery)


@dataclass
class LinkCounters:
    """What the link did so far."""

    connects: int = 0
    failures: int = 0
    published: int = 0
    commands: int = 0
    refused: int = 0
    connected: bool = False
    last_error: str = ""
    next_try_s: float = 0.0
    inflight: dict[int, str] = field(default_factory=dict)


def link_settings(config: BridgeConfig, topics: Topics, version: str) -> LinkSettings:
    """The broker connection ``config`` describes: client id and user from the device id
    (the password file read now), the last will and the command topic from ``topics``, and
    the Home Assistant discovery documents when ``discovery`` is on."""
    password = read_password(config.password_file) if config.password_file else ""
    documents = (
        discovery_documents(
            topics, config.discovery_prefix, config.device_name, "wildcam trap", version
        )
        if config.discovery
        else []
    )
    return LinkSettings(
        host=config.broker_host,
        port=config.broker_port,
        client_id=config.device,
        will_topic=topics.availability,
        command_topic=topics.cmd,
        protocol=config.protocol,
        username=config.username or (config.device if password else ""),
        password=password,
        tls=config.tls,
        ca_file=config.ca_file,
        cert_file=config.cert_file,
        key_file=config.key_file,
        keepalive_s=config.keepalive_s,
        backoff_base_s=config.backoff_base_s,
        backoff_max_s=config.backoff_max_s,
        max_inflight=config.max_inflight,
        poll_s=config.poll_s,
        announce=tuple((t, encode(doc)) for t, doc in documents),
    )


def link_values(counters: LinkCounters, outbox: QueueStats) -> dict[str, str]:
    """Link state and outbox depth as diagnostics values."""
    return {
        "connected": str(counters.connected),
        "connects": str(counters.connects),
        "link_failures": str(counters.failures),
        "published": str(counters.published),
        "commands": str(counters.commands),
        "outbox_depth": str(outbox.depth),
        "outbox_dead_letters": str(outbox.dead_letters),
        "last_error": counters.last_error,
    }


def outbox_item(
    key: str, topic: str, doc: dict[str, Any], retain: bool = False, kind: str = "metadata"
) -> NewItem:
    """An outbox item: ``doc`` (JSON) to publish on ``topic``."""
    return NewItem(
        key=key,
        kind=kind,
        payload=encode(doc),
        content_type="application/json",
        meta={"topic": topic, "retain": retain},
    )


def session_properties() -> Properties:
    """MQTT 5 CONNECT properties of a trap: the broker keeps its session ``SESSION_EXPIRY_S``."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    return props


def read_password(path: str) -> str:
    """The password on the first line of ``path`` (ConfigError names the file, never the
    content)."""
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read password file {path}: {err}") from err
    if not lines or not lines[0]:
        raise ConfigError(f"password file {path} is empty")
    return lines[0]


class MqttLink:
    """Drains ``outbox`` to the broker and hands commands to ``on_command`` (called on the
    link's thread with the raw payload)."""

    def __init__(
        self,
        settings: LinkSettings,
        outbox: DurableQueue,
        on_command: Callable[[bytes], object],
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.on_command = on_command
        self.counters = LinkCounters()
        self._backoff = Backoff(settings.backoff_base_s, settings.backoff_max_s, rng)
        self._client: mqtt.Client | None = None
        self._ready = False
        self._dropped = False
        self._refusal = ""
        self._acked: list[str] = []
        self._rejected: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)

    def start(self) -> MqttLink:
        """Start the link's thread."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Announce offline, disconnect cleanly (the broker sends no will) and stop the thread."""
        self._stop.set()
        self._thread.join(timeout_s)

    def set_backoff(self, base_s: float, max_s: float) -> None:
        """New reconnect delays (live)."""
        self._backoff.base_s, self._backoff.max_s = base_s, max_s

    # -- paho callbacks (the link's thread) --------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._dropped = True
            self._refusal = f"broker refused the connection: {reason}"
            return
        s = self.settings
        client.subscribe(s.command_topic, qos=1)
        client.publish(s.will_topic, b"online", qos=1, retain=True)
        for topic, payload in s.announce:
            client.publish(topic, payload, qos=1, retain=True)
        self._ready = True
        self.counters.connected = True
        self.counters.connects += 1
        self._backoff.success()
        log.info("connected to %s:%d", s.host, s.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._dropped = True

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        key = self.counters.inflight.pop(mid, None)
        if key is None:
            return
        if reason.is_failure:  # MQTT 5: the broker refused it (its ACL): never resent
            self._rejected[key] = f"broker refused the publish: {reason}"
        else:
            self._acked.append(key)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.settings.command_topic:
            self.counters.commands += 1
            self.on_command(bytes(message.payload))

    # -- the loop ---------------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        if v5:  # MQTT 5 has no clean_session: clean_start is given to connect()
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=s.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_publish, client.on_message = self._on_publish, self._on_message
        client.will_set(s.will_topic, b"offline", qos=1, retain=True)
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.tls:
            client.tls_set(
                ca_certs=s.ca_file or None,
                certfile=s.cert_file or None,
                keyfile=s.key_file or None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if v5:
            client.connect(
                s.host, s.port, s.keepalive_s, clean_start=False, properties=session_properties()
            )
        else:
            client.connect(s.host, s.port, s.keepalive_s)
        return client

    def _drop(self, why: str) -> None:
        """Forget the connection; the next attempt after the backoff."""
        if self._client is not None:
            try:
                self._client.disconnect()
            except (OSError, ValueError):
                pass
            self._client = None
        self.counters.inflight.clear()  # resent from the outbox after the reconnect
        self._ready = self._dropped = False
        self._refusal = ""
        self.counters.connected = False
        self.counters.failures += 1
        self.counters.last_error = why
        delay = self._backoff.failure()
        self.counters.next_try_s = time.monotonic() + delay
        log.warning("MQTT link down (%s); next try in %.1f s", why, delay)

    def _record(self) -> None:
        """Delete what the broker acknowledged; dead-letter what it refused."""
        if self._acked:
            self.outbox.ack(tuple(self._acked))
            self.counters.published += len(self._acked)
            self._acked.clear()
        for key, reason in self._rejected.items():
            self.outbox.dead_letter(key, reason)
            self.counters.refused += 1
            log.error("outbox item %s dead-lettered: %s", key, reason)
        self._rejected.clear()

    def _pump(self, client: mqtt.Client) -> None:
        """Publish outbox items up to the in-flight limit, oldest of each class first."""
        self._record()
        inflight = self.counters.inflight
        room = self.settings.max_inflight - len(inflight)
        if room <= 0:
            return
        sending = set(inflight.values())
        for item in self.outbox.next_batch(len(inflight) + room, 1 << 30):
            if item.key in sending:
                continue
            info = client.publish(
                str(item.meta.get("topic")),
                item.payload,
                qos=1,
                retain=bool(item.meta.get("retain")),
            )
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._dropped = True
                return
            inflight[info.mid] = item.key

    def _step(self) -> None:
        if self._client is None:
            wait = self.counters.next_try_s - time.monotonic()
            if wait > 0:
                self._stop.wait(min(wait, self.settings.poll_s))
                return
            try:
                self._client = self._new_client()
            except (OSError, ssl.SSLError, ValueError) as err:
                self._drop(f"cannot connect to {self.settings.host}:{self.settings.port}: {err}")
                return
        rc = self._client.loop(timeout=self.settings.poll_s)
        if rc != mqtt.MQTT_ERR_SUCCESS or self._dropped:
            self._drop(self._refusal or f"connection lost ({mqtt.error_string(rc)})")
            return
        if self._ready:
            self._pump(self._client)

    def _run(self) -> None:
        expire_at = 0.0
        while not self._stop.is_set():
            try:
                self._step()
                if time.monotonic() >= expire_at:
                    expire_at = time.monotonic() + 60.0
                    self.outbox.expire()
            except Exception as err:  # noqa: BLE001 - the link must keep running
                self.counters.last_error = str(err)
                log.error("MQTT link step failed: %s", err)
                self._stop.wait(1.0)
        if self._client is not None:
            try:
                if self._ready:
                    self._client.loop(timeout=0.1)  # the last acknowledgements
                    self._record()
                    self._client.publish(self.settings.will_topic, b"offline", qos=1, retain=True)
                    self._client.loop(timeout=0.1)
                self._client.disconnect()
            except (OSError, ValueError):
                pass
