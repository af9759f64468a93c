"""The mqtt_bridge node in a real graph with the power manager and a real Mosquitto: status,
events and Home Assistant discovery arrive; a command changes the mode through the graph and is
acknowledged; bad commands are refused with a reason and change nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from mqtt_helpers import PASSWORDS, Watcher, wait_for  # test-local helpers

from graph_helpers import detection_array  # test-local helpers
from wildcam.fleet.broker import Mosquitto
from wildcam.msg import DetectionArray, PowerState
from wildcam.ros.qos import EVENTS, LATCHED

pytestmark = pytest.mark.graph


def test_bridge_status_events_commands_through_the_graph(
    probe,
    procs,
    broker: Mosquitto,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    watcher = Watcher(broker.port, topics=("wildcam/#", "homeassistant/#"))
    assert watcher.subscribed.wait(10)
    password = tmp_path / "mqtt.password"
    password.write_text(PASSWORDS["trap1"] + "\n")
    states = probe.collect(PowerState, "power/state", LATCHED)
    detections = probe.node.create_publisher(DetectionArray, "detections/events", EVENTS)
    procs.node("wildcam.nodes.power_manager", "-p", "verify_period_s:=1.0")
    procs.node(
        "wildcam.nodes.mqtt_bridge",
        "-p",
        f"broker_port:={broker.port}",
        "-p",
        "device_id:=trap1",
        "-p",
        f"password_file:={password}",
        "-p",
        f"outbox_dir:={tmp_path / 'outbox'}",
        "-p",
        "status_period_s:=1.0",
        "-p",
        "thumbnail_max_bytes:=4000",
        "-p",
        "poll_s:=0.05",
    )
    try:
        assert wait_for(
            lambda: watcher.payloads("wildcam/trap1/availability")[-1:] == [b"online"], 60
        ), procs.log("mqtt_bridge")
        # Home Assistant discovery: battery, queue depth, mode (select), detections (event)
        for topic in (
            "sensor/trap1/battery",
            "sensor/trap1/queue_depth",
            "select/trap1/mode",
            "event/trap1/detection",
        ):
            assert wait_for(lambda t=topic: bool(watcher.docs(f"homeassistant/{t}/config")))
        select = watcher.docs("homeassistant/select/trap1/mode/config")[-1]
        assert select["command_topic"] == "wildcam/trap1/cmd" and "low_power" in select["options"]
        # the retained status follows power/state
        assert probe.spin_until(lambda: bool(states), 30.0)
        assert wait_for(lambda: any(d["mode"] == "normal" for d in watcher.docs("/status")), 30)
        status = watcher.docs("/status")[-1]
        assert status["device"] == "trap1" and status["software"] and "key" in status

        # detection events, QoS 1, with the thumbnail only under the size limit
        assert probe.spin_until(lambda: detections.get_subscription_count() >= 2, 30.0)
        detections.publish(detection_array(1, 3000, model_id="tiny-v1"))
        detections.publish(detection_array(2, 9000, model_id="tiny-v1"))
        assert wait_for(lambda: len(watcher.docs("/events")) >= 2)
        small, large = sorted(watcher.docs("/events"), key=lambda d: d["event_id"])
        assert base64.b64decode(small["thumbnail_jpeg_b64"]) == bytes([1]) * 3000
        assert "thumbnail_jpeg_b64" not in large and "9000 bytes" in large["thumbnail_omitted"]
        assert small["class_id"] == "animal" and small["detections"][0]["model_id"] == "tiny-v1"
        assert wait_for(lambda: watcher.docs("/status")[-1]["last_detection"] is not None)

        # bad commands: refused with a reason, nothing changes
        bad = [
            b"not json",
            b'["a list"]',
            b'{"id": "b1", "command": "reboot"}',
            b'{"id": "b2", "command": "mode", "mode": "turbo"}',
            b'{"id": "b3", "command": "set", "params": {"camera_driver.fps": 30}}',
            b'{"id": "b4", "command": "mode", "mode": "low_power", "extra": 1}',
            b'{"id": "' + b"x" * 100 + b'", "command": "status"}',
        ]
        for payload in bad:
            watcher.publish("wildcam/trap1/cmd", payload)
        assert wait_for(lambda: len(watcher.docs("/ack")) >= len(bad))
        acks = watcher.docs("/ack")
        assert all(not a["ok"] and a["result"].startswith("refused: ") for a in acks), acks
        reasons = " ".join(a["result"] for a in acks)
        for why in (
            "not JSON",
            "JSON object",
            "command must be one of",
            "mode must be one of",
            "not on the allow-list",
            "unexpected field",
            "id must be",
        ):
            assert why in reasons, (why, reasons)
        assert probe.get_parameter("power_manager", "override_mode") == ""
        assert states[-1].mode_name == "normal"

        # a good command changes the mode through the graph, and is acknowledged
        watcher.publish(
            "wildcam/trap1/cmd",
            json.dumps({"id": "m1", "command": "mode", "mode": "low_power"}).encode(),
        )
        assert wait_for(lambda: any(a["id"] == "m1" for a in watcher.docs("/ack")))
        ack = next(a for a in watcher.docs("/ack") if a["id"] == "m1")
        assert ack["ok"] and ack["command"] == "mode", ack
        assert probe.spin_until(lambda: states[-1].mode_name == "low_power", 30.0)
        assert probe.get_parameter("power_manager", "override_mode") == "low_power"
        assert wait_for(lambda: watcher.docs("/status")[-1]["mode"] == "low_power", 30)
        # an allow-listed parameter, and "send status now"
        watcher.publish(
            "wildcam/trap1/cmd",
            json.dumps(
                {"id": "s1", "command": "set", "params": {"power_manager.override_state": "warm"}}
            ).encode(),
        )
        watcher.publish("wildcam/trap1/cmd", b'{"id": "n1", "command": "status"}')
        watcher.publish("wildcam/trap1/cmd", b'{"id": "u0", "command": "check_updates"}')
        assert wait_for(lambda: {"s1", "n1", "u0"} <= {a["id"] for a in watcher.docs("/ack")})
        acks = {a["id"]: a for a in watcher.docs("/ack")}
        assert acks["s1"]["ok"] and acks["n1"]["ok"] and "queued" in acks["n1"]["result"]
        assert not acks["u0"]["ok"] and "no uploader listens" in acks["u0"]["result"]
        assert probe.get_parameter("power_manager", "override_state") == "warm"
        # releasing manual overrides goes to the power manager's ~/clear_overrides service
        watcher.publish("wildcam/trap1/cmd", b'{"id": "o1", "command": "clear_overrides"}')
        assert wait_for(lambda: "o1" in {a["id"] for a in watcher.docs("/ack")})
        cleared = next(a for a in watcher.docs("/ack") if a["id"] == "o1")
        assert cleared["ok"] and cleared["result"] == "no manual override held", cleared
    finally:
        watcher.close()


def test_check_for_updates_reaches_the_uploader_with_its_own_device_token(  # type: ignore[no-untyped-def]
    probe, procs, broker: Mosquitto, tmp_path: Path
) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile

    from wildcam.gateway import Gateway, GatewayConfig
    from wildcam.upload.ota import build_manifest, generate_keys, load_private_key, sign_manifest
    from wildcam.upload.transport import HttpTransport

    watcher = Watcher(broker.port)
    assert watcher.subscribed.wait(10)
    password = tmp_path / "mqtt.password"
    password.write_text(PASSWORDS["trap1"] + "\n")
    (tmp_path / "shared.token").write_text("graph-shared-token-0123456789\n")
    private, public = generate_keys(tmp_path / "keys")
    diagnostics = probe.collect(DiagnosticArray, "/diagnostics", QoSProfile(depth=50))
    with Gateway(
        GatewayConfig(
            store=tmp_path / "gw",
            token_file=tmp_path / "shared.token",
            port=0,
            operator_token_file=tmp_path / "operator.token",
        )
    ) as gw:
        (tmp_path / "trap1.token").write_text(gw.devices.add("trap1", group="woods") + "\n")
        procs.node(
            "wildcam.nodes.uploader",
            "-p",
            f"gateway_url:={gw.url}",
            "-p",
            f"token_file:={tmp_path / 'trap1.token'}",
            "-p",
            f"queue_dir:={tmp_path / 'queue'}",
            "-p",
            "link_backend:=simulated",
            "-p",
            f"ota_public_key:={public}",
            "-p",
            "ota_period_s:=1000000.0",
        )
        procs.node(
            "wildcam.nodes.mqtt_bridge",
            "-p",
            f"broker_port:={broker.port}",
            "-p",
            "device_id:=trap1",
            "-p",
            f"password_file:={password}",
            "-p",
            f"outbox_dir:={tmp_path / 'outbox'}",
            "-p",
            "poll_s:=0.05",
        )

        def synced_once() -> bool:  # the uploader's check at start is done
            return any(
                kv.key == "ota_last"
                for a in diagnostics
                for s in a.status
                if s.name.endswith("uploader")
                for kv in s.values
            )

        assert probe.spin_until(synced_once, 60.0), procs.log("uploader")
        manifest = build_manifest(
            "quota-woods", {}, params={"uploader": {"quota_mb": 77.0}}, version=1
        )
        operator = HttpTransport(gw.url, str(tmp_path / "operator.token"))
        operator.post_json(
            "/v1/updates",
            {
                "manifest": base64.b64encode(manifest).decode(),
                "group": "woods",
                "share": 1.0,
                "signature": base64.b64encode(
                    sign_manifest(manifest, load_private_key(private))
                ).decode(),
            },
        )
        operator.close()
        assert wait_for(
            lambda: watcher.payloads("wildcam/trap1/availability")[-1:] == [b"online"], 60
        ), procs.log("mqtt_bridge")
        watcher.publish("wildcam/trap1/cmd", b'{"id": "u1", "command": "check_updates"}')
        assert wait_for(lambda: any(a["id"] == "u1" for a in watcher.docs("/ack")), 30)
        ack = next(a for a in watcher.docs("/ack") if a["id"] == "u1")
        assert ack["ok"], ack
        assert probe.spin_until(
            lambda: probe.get_parameter("uploader", "quota_mb") == 77.0, 30.0
        ), procs.log("uploader")
        assert probe.spin_until(lambda: bool(gw.devices.reports("quota-woods")), 10.0)
        assert gw.devices.reports("quota-woods")[0]["device"] == "trap1"
        assert gw.devices.reports("quota-woods")[0]["status"] == "applied"
    watcher.close()
