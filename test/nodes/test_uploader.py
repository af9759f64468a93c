"""The uploader as a real node, sending to a local gateway: detections arrive exactly once, the
power policy holds the radio, status is published, signed updates reach other nodes' parameters
and bad ones are refused."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest

from graph_helpers import detection_array, onnx_fakes  # test-local helpers
from wildcam.gateway import Gateway, GatewayConfig
from wildcam.msg import DetectionArray, PowerState, UploadStatus
from wildcam.ros.qos import EVENTS, LATCHED
from wildcam.upload.ota import build_manifest, generate_keys, load_private_key, sign_manifest

pytestmark = pytest.mark.graph
NODE = "wildcam.nodes.uploader"
VERSIONS = itertools.count(1)


def operator_token(token: Path) -> Path:
    """The gateway's operator token file (beside the devices' one; created by the gateway)."""
    return token.parent / "operator.token"


def gateway_config(tmp_path: Path, token: Path) -> GatewayConfig:
    return GatewayConfig(
        store=tmp_path / "gw", token_file=token, port=0, operator_token_file=operator_token(token)
    )


def publish_update(
    gw: Gateway, token: Path, key: Path, update_id: str, params: dict, signed: bool = True
) -> None:  # type: ignore[type-arg]
    from wildcam.upload.transport import HttpTransport

    manifest = build_manifest(update_id, {}, params=params, version=next(VERSIONS))
    signature = sign_manifest(manifest, load_private_key(key)) if signed else b""
    HttpTransport(gw.url, str(operator_token(token))).post_json(
        "/v1/updates",
        {
            "manifest": base64.b64encode(manifest).decode(),
            "signature": base64.b64encode(signature).decode(),
        },
    )


def test_uploader_sends_to_the_gateway_and_applies_signed_updates(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("graph-test-token-0123456789\n")
    private, public = generate_keys(tmp_path / "keys")
    status = probe.collect(UploadStatus, "uploader/status")
    with Gateway(gateway_config(tmp_path, token)) as gw:
        procs.node("wildcam.nodes.motion_detector")
        procs.node(
            NODE,
            "-p",
            f"gateway_url:={gw.url}",
            "-p",
            f"token_file:={token}",
            "-p",
            f"queue_dir:={tmp_path / 'queue'}",
            "-p",
            "send_full_frames:=true",
            "-p",
            "link_backend:=simulated",
            "-p",
            "idle_period_s:=0.1",
            "-p",
            f"ota_public_key:={public}",
            "-p",
            "ota_period_s:=1.0",
        )
        pub = probe.node.create_publisher(DetectionArray, "detections/events", EVENTS)
        power = probe.node.create_publisher(PowerState, "power/state", LATCHED)
        assert probe.spin_until(lambda: pub.get_subscription_count() > 0, 30.0)
        for i in range(5):
            pub.publish(detection_array(i, full=True))
        assert probe.spin_until(lambda: gw.store.counters().get("items", 0) == 15, 30.0), (
            procs.log("uploader")
        )
        assert probe.spin_until(
            lambda: status and status[-1].items_sent == 15 and status[-1].queue_depth == 0, 10.0
        )
        kinds = sorted(i["kind"] for i in gw.store.items())
        assert kinds == ["full_frame"] * 5 + ["metadata"] * 5 + ["thumbnail"] * 5
        assert status[-1].dead_lettered == 0

        # No ROS participant can point the token at another file or the uploader elsewhere.
        for name, value in (("token_file", "/etc/hostname"), ("gateway_url", "http://evil")):
            assert not probe.set_parameters("uploader", **{name: value})[0].successful

        # The power manager's policy: only on the charger, and the device is not charging.
        assert probe.set_parameters("uploader", only_on_charger=True, send_full_frames=False)[
            0
        ].successful
        power.publish(
            PowerState(mode=2, mode_name="normal", battery_percentage=0.5, charging=False)
        )
        for i in range(5, 8):
            pub.publish(detection_array(i, full=True))
        assert probe.spin_until(lambda: status and status[-1].queue_depth == 6, 10.0)
        mark = len(status)  # two more status reports: the policy keeps holding them
        assert probe.spin_until(lambda: len(status) >= mark + 2, 10.0)
        assert gw.store.counters()["items"] == 15 and status[-1].queue_depth == 6
        assert list(status[-1].queue_depth_by_priority) == [3, 3, 0]  # no full frames queued
        power.publish(
            PowerState(mode=2, mode_name="normal", battery_percentage=0.5, charging=True)
        )
        assert probe.spin_until(lambda: gw.store.counters()["items"] == 21, 15.0)
        assert status[-1].joules_per_mb > 0

        # Signed parameter sets reach another node; a bad value or a bad signature changes
        # nothing.
        publish_update(
            gw,
            token,
            private,
            "good",
            {"motion_detector": {"pixel_threshold": 33}, "uploader": {"batch_max_items": 7}},
        )
        assert probe.spin_until(
            lambda: probe.get_parameter("motion_detector", "pixel_threshold") == 33, 15.0
        )
        assert probe.get_parameter("uploader", "batch_max_items") == 7
        publish_update(
            gw,
            token,
            private,
            "bad-value",
            {"uploader": {"batch_max_items": 9}, "motion_detector": {"pixel_threshold": 100000}},
        )
        publish_update(
            gw,
            token,
            private,
            "unsigned",
            {"motion_detector": {"pixel_threshold": 1}},
            signed=False,
        )
        state = tmp_path / "ota" / "state.json"
        assert probe.spin_until(lambda: state.exists() and "unsigned" in state.read_text(), 15.0)
        text = state.read_text()
        assert "refused bad-value: motion_detector refused" in text
        assert "refused unsigned: update is unsigned" in text
        assert probe.get_parameter("motion_detector", "pixel_threshold") == 33
        assert probe.get_parameter("uploader", "batch_max_items") == 7  # rolled back

        # Only a signed update moves the read-only token file: the uploader uses the new one.
        moved = tmp_path / "moved-token"
        moved.write_text(token.read_text())
        publish_update(gw, token, private, "move-token", {"uploader": {"token_file": str(moved)}})
        signed_file = tmp_path / "ota" / "signed-parameters.json"
        assert probe.spin_until(signed_file.exists, 15.0), procs.log("uploader")
        assert str(moved) in signed_file.read_text()
        token.write_text("no-longer-the-token-000000\n")  # the old file is not read any more
        power.publish(
            PowerState(mode=2, mode_name="normal", battery_percentage=0.5, charging=True)
        )
        pub.publish(detection_array(20))
        assert probe.spin_until(lambda: gw.store.counters()["items"] == 23, 15.0), procs.log(
            "uploader"
        )


def publish_models(
    gw: Gateway, token: Path, key: Path, update_id: str, folder: Path, stage1: str
) -> None:
    from wildcam.upload.transport import HttpTransport

    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    manifest = build_manifest(
        update_id,
        files,
        {"manifest": "manifest.json", "stage1_model": stage1},
        version=next(VERSIONS),
    )
    client = HttpTransport(gw.url, str(operator_token(token)))
    for data in files.values():
        client.post_bytes("/v1/blobs", data)
    client.post_json(
        "/v1/updates",
        {
            "manifest": base64.b64encode(manifest).decode(),
            "signature": base64.b64encode(sign_manifest(manifest, load_private_key(key))).decode(),
        },
    )


def test_model_update_swaps_cascade_model_and_bad_one_rolls_back(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("graph-test-token-0123456789\n")
    private, public = generate_keys(tmp_path / "keys")
    models = tmp_path / "models"
    first = onnx_fakes().write_fake_manifest(models)
    with Gateway(gateway_config(tmp_path, token)) as gw:
        procs.node("wildcam.nodes.cascade_detector", "-p", f"manifest:={first}")
        procs.node(
            NODE,
            "-p",
            f"gateway_url:={gw.url}",
            "-p",
            f"token_file:={token}",
            "-p",
            f"queue_dir:={tmp_path / 'queue'}",
            "-p",
            "link_backend:=simulated",
            "-p",
            f"ota_public_key:={public}",
            "-p",
            "ota_period_s:=1.0",
        )
        assert probe.get_parameter("cascade_detector", "stage1_model") != "tiny_sure"
        publish_models(gw, token, private, "models-2", models, "tiny_sure")
        installed = tmp_path / "ota" / "installed" / "models-2" / "manifest.json"
        assert probe.spin_until(
            lambda: probe.get_parameter("cascade_detector", "manifest") == str(installed), 20.0
        ), procs.log("uploader")
        assert probe.get_parameter("cascade_detector", "stage1_model") == "tiny_sure"

        # Signed and intact, but the model file disagrees with the cascade's manifest.
        publish_models(gw, token, private, "models-3", models, "tiny_truncated")
        state = tmp_path / "ota" / "state.json"
        assert probe.spin_until(lambda: "models-3" in state.read_text(), 20.0)
        assert "refused models-3: cascade_detector refused" in state.read_text()
        assert "model refused" in state.read_text()
        assert probe.get_parameter("cascade_detector", "manifest") == str(installed)
        assert probe.get_parameter("cascade_detector", "stage1_model") == "tiny_sure"
        assert not (tmp_path / "ota" / "installed" / "models-3").exists()


def test_a_damaged_queue_stops_the_node_with_one_line_and_the_no_respawn_code(  # type: ignore[no-untyped-def]
    ros_env, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from wildcam.errors import EXIT_NEEDS_OPERATOR
    from wildcam.upload.queue import DurableQueue, NewItem

    queue = DurableQueue(tmp_path / "queue", 10**8, 3600, inline_max_bytes=10)
    queue.put([NewItem(key=f"k{i}", kind="thumbnail", payload=b"p" * 100) for i in range(3)])
    queue.close()
    (tmp_path / "queue" / "queue.db").write_bytes(b"")  # cut to 0 bytes
    done = subprocess.run(
        [sys.executable, "-m", NODE, "--ros-args", "-p", f"queue_dir:={tmp_path / 'queue'}"],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_NEEDS_OPERATOR, done.stderr
    assert "Traceback" not in done.stderr
    assert "recovered 3 item(s)" in done.stderr
    assert len(list((tmp_path / "queue" / "blobs").iterdir())) == 3  # nothing deleted
