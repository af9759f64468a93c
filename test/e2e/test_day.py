"""End to end: ``wildcam run`` plays ten simulated hours through the whole graph.

The day preset compressed into 120 s of scene (1 scene second = 12 simulated minutes), cut to
its first 50 s (04:30 to 14:30, two animal visits, the dawn IR switch and wind), played at 2x.
Half-way through (by the simulated clock), this test forces a mode through the power manager's
``override_mode`` (``Probe.set_parameters``) and reads the nodes' parameters back. Afterwards
the recorded run (bag + ground truth + gateway listing) must show: every visit's detections at
the gateway (event recall >= 0.9), at most ``FALSE_UPLOAD_BOUND`` items from frames with no
animal, the forced mode with its override flag in the report data, and the device states: the
trap watching with its camera closed and going warm on the scene's PIR triggers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from wildcam.graph import NODES
from wildcam.rosenv import config_dir

pytestmark = pytest.mark.graph

NEEDED = ("camera_driver", "motion_detector", "cascade_detector", "power_manager", "uploader")
FORCED = "aggressive"
DAY_LENGTH_S, PLAY_S, SPEED = 120.0, 50.0, 2.0
FALSE_UPLOAD_BOUND = 6
"""Items at the gateway from frames in no visit (±1 scene second) the run may send: two
frames' worth (metadata, thumbnail, full frame each) for a cascade false positive on the
wind or the IR switch."""


def _missing() -> list[str]:
    names = {n.name for n in NODES}
    return [n for n in NEEDED if n not in names]


def _policy(mode: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((config_dir() / "power_policy.yaml").read_text())
    return dict(data["modes"][mode])


def _get(probe: Any, node: str, names: list[str]) -> dict[str, Any]:
    """Current values of ``names`` on ``node`` (its parameter service)."""
    from rclpy.parameter import parameter_value_to_python
    from rclpy.parameter_client import AsyncParameterClient

    client = AsyncParameterClient(probe.node, node)
    assert client.wait_for_services(timeout_sec=10.0), f"{node} parameter services"
    future = client.get_parameters(names)
    assert probe.spin_until(future.done, 10.0), f"{node} did not answer get_parameters"
    return {
        n: parameter_value_to_python(v) for n, v in zip(names, future.result().values, strict=True)
    }


@pytest.mark.skipif(bool(_missing()), reason=f"nodes missing from the node table: {_missing()}")
def test_day_through_the_whole_graph(ros_env: dict[str, str], probe: Any, tmp_path: Path) -> None:
    from rosgraph_msgs.msg import Clock

    from wildcam.report import load_run, summarize
    from wildcam.report.bag import published, read_topics
    from wildcam.report.pir import SOURCE_PIR
    from wildcam.report.states import state_changes
    from wildcam.run.plan import START_EPOCH
    from wildcam.types import DAY_S

    out = tmp_path / "out"
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wildcam.cli",
            "run",
            "--day-length",
            str(DAY_LENGTH_S),
            "--duration",
            str(PLAY_S),
            "--speed",
            str(SPEED),
            "--out",
            str(out),
        ],
        env=ros_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        clock = probe.collect(Clock, "/clock")
        day_start = START_EPOCH + 4.5 / 24 * DAY_S  # the day preset starts at 04:30
        half = day_start + PLAY_S / 2 * DAY_S / DAY_LENGTH_S

        def halfway() -> bool:
            return (bool(clock) and clock[-1].clock.sec >= half) or run.poll() is not None

        assert probe.spin_until(halfway, 150.0), "the run did not reach half-way"
        assert run.poll() is None, (tmp_path / "run.log").read_text()
        results = probe.set_parameters("power_manager", override_mode=FORCED)
        assert results[0].successful, results[0].reason
        expected = _policy(FORCED)
        for node in ("cascade_detector", "uploader"):
            wanted = expected.get(node, {})
            assert probe.spin_until(lambda n=node, w=wanted: _get(probe, n, list(w)) == w, 10.0), (
                f"{node} parameters are not the {FORCED} set {wanted}"
            )
        code = run.wait(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, output
    assert (out / "report.html").is_file(), output

    data = load_run(out / "bag", out / "ground_truth.json", gateway=out / "gateway.json")
    summary = summarize(data)
    assert summary.visits >= 2
    assert summary.detected_source == "gateway"
    assert summary.event_recall >= 0.9, output
    assert summary.false_uploads is not None and summary.false_uploads <= FALSE_UPLOAD_BOUND, (
        output
    )
    forced = [m for m in data.modes if m.manual_override and m.mode_name == FORCED]
    assert forced, [(m.mode_name, m.reason) for m in data.modes]
    assert PLAY_S * 0.3 < forced[0].t_s < PLAY_S, forced[0]  # mid-run, in scene time
    changes = [(c.device_state, c.device_state_reason) for c in state_changes(data)]
    assert {"watch", "warm"} <= {state for state, _ in changes}, changes
    assert any(state == "warm" and reason.startswith("trigger") for state, reason in changes)
    assert summary.states is not None and summary.states.hours["watch"] > 0, output
    assert data.frames < PLAY_S * 10, "the camera was closed part of the time"
    # the PIR edges are in the bag too, for `wildcam lifetime --pir-share-from`
    trigger = published("wildcam/Trigger")
    edges = [m for _, m in read_topics(out / "bag", [trigger])[trigger]]
    assert any(m.active for m in edges), output
    assert all(m.source == SOURCE_PIR for m in edges), [m.source for m in edges]
