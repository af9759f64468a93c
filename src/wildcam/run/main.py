"""``wildcam run``: the whole graph plays a compressed day; a report says what happened.

Every node of the node table is started as ``wildcam bringup`` starts it (same YAML, each
node's output in ``<out>/logs``), in a ROS domain of the run's own, with: the camera on the
synthetic scene (sleeping until the recorder listens), the uploader on a local ``wildcam
gateway`` (127.0.0.1, its store in ``<out>/gateway``, a fresh token in the 0600 file
``<out>/gateway.token``; it serves the review page), the simulated battery. This process
records the report's topics into ``<out>/bag`` with the bag recorder, shows one live progress
line, and at the end writes ``ground_truth.json``, ``gateway.json`` (what the gateway
received), ``baseline.json`` (the always-on baseline, measured here) and ``report.html`` with
its figures into ``<out>``, and prints the report's summary; from the gateway's store it
exports ``camtrap-dp/`` (Camtrap DP) and ``detections.json`` (MegaDetector batch output).

The parts: :mod:`.plan` (options in, scene and parameters out), :mod:`.gateway` (the local
gateway and its listing), :mod:`.session` (the rclpy orchestration), :mod:`.report` (the
report and the exports). The scene's PIR (:mod:`wildcam.camera.pir`) drives
``camera/trigger`` from this process, at the scene times of its edges.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from wildcam.camera.scene import scene_to_dict
from wildcam.camera.synthetic import SyntheticScene
from wildcam.config_check import check_sources
from wildcam.docs import default_parameters
from wildcam.errors import EXIT_FAILED, EXIT_USAGE, TransportError
from wildcam.params import parse_assignments
from wildcam.rosenv import claim_domain, ros_environment
from wildcam.run.plan import (
    Endpoints,
    RunOptions,
    held_policy,
    node_parameters,
    role,
    run_scene,
    run_specs,
    timing,
    wanted_parameters,
)

__all__ = ["run"]


def run(options: RunOptions) -> int:
    """Play the run ``options`` describe; 0 when it ran to the end (raises a
    :class:`~wildcam.errors.WildcamError` when it cannot start)."""
    check_sources(params=parse_assignments(options.params))  # before anything starts
    with _own_domain():
        return _run(options)


@contextmanager
def _own_domain() -> Iterator[None]:
    """Run in a ROS domain of the run's own unless ``ROS_DOMAIN_ID`` names one.

    The run starts every node it needs; in a free domain it never meets another graph on this
    host (a ``wildcam bringup``, a test, a second run).
    """
    if os.environ.get("ROS_DOMAIN_ID"):
        yield
        return
    with claim_domain() as domain:
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        print(f"ROS domain {domain} (set ROS_DOMAIN_ID to choose one)")
        try:
            yield
        finally:
            os.environ.pop("ROS_DOMAIN_ID", None)


def _fresh_out(out: Path) -> None:
    """Remove the previous run's recording, logs, inputs and local gateway from ``out``."""
    from wildcam.report.cli import RUN_FILES

    out.mkdir(parents=True, exist_ok=True)
    if (out / "bag" / "metadata.yaml").is_file():
        shutil.rmtree(out / "bag")
    shutil.rmtree(out / "logs", ignore_errors=True)
    for name in RUN_FILES.values():
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "gateway", ignore_errors=True)
    (out / "gateway.token").unlink(missing_ok=True)


def _run(options: RunOptions) -> int:
    from wildcam.bringup import Supervisor
    from wildcam.report.cli import RUN_FILES
    from wildcam.run.gateway import LocalGateway, fetch_listing
    from wildcam.run.report import clock_text, exports_and_review, pir_edges, report_run
    from wildcam.run.session import play

    started = time.monotonic()
    scene = run_scene(options) if options.synthetic else None
    synthetic_scene = SyntheticScene(scene) if scene is not None else None
    time_ = timing(scene)
    fps = time_.fps  # a real source's: from its parameters, below
    specs = run_specs(options.with_nodes)
    sim_time = any(role(s, "clock") for s in specs)  # the power nodes run on it
    out = options.out
    _fresh_out(out)
    bag, logs = out / "bag", out / "logs"
    if scene is not None:
        wall = scene.duration_s / options.speed
        print(
            f"wildcam run: {options.preset!r} scene (seed {options.seed}), "
            f"{scene.duration_s:.0f} s at {fps:g} fps"
            + (
                f" = {scene.duration_s * time_.time_scale / 3600:.0f} simulated hours"
                if time_.time_scale != 1.0
                else ""
            )
            + f", played at {options.speed:g}x (~{wall:.0f} s); {len(scene.visits)} animal "
            f"visit{'' if len(scene.visits) == 1 else 's'} in the ground truth"
        )
    print(
        f"graph: {', '.join(s.name for s in specs)}" + (" (simulated clock)" if sim_time else "")
    )
    listing: list[Any] | None = None
    with tempfile.TemporaryDirectory(prefix="wildcam-run-") as tmp_name:
        tmp = Path(tmp_name)
        logs.mkdir(exist_ok=True)
        gateway = None
        gateway_url, token_file = options.gateway_url, options.token_file
        if not gateway_url and any(role(s, "uploader/status") for s in specs):
            gateway = LocalGateway(out, logs / "gateway.log")  # store out/gateway (exports)
            failure = gateway.wait_ready()
            if failure:
                gateway.stop()
                raise TransportError(failure)
            gateway_url, token_file = gateway.url, str(gateway.token_file)
            print(f"review page: {gateway_url}/review/ (log in with the token in {token_file})")
        scene_uri, policy_file = options.uri, ""
        if scene is not None and synthetic_scene is not None:
            scene_file = tmp / "scene.json"
            scene_file.write_text(json.dumps(scene_to_dict(scene)))
            scene_uri = str(scene_file)
            synthetic_scene.write_ground_truth(out / RUN_FILES["truth"])
            policy = tmp / "power_policy.yaml"
            policy.write_text(yaml.safe_dump(held_policy(), sort_keys=False))
            policy_file = str(policy)
        defaults = {
            k.removeprefix("/**/"): v["ros__parameters"] for k, v in default_parameters().items()
        }
        wanted = wanted_parameters(
            options,
            specs,
            time_,
            Endpoints(
                scene_uri=scene_uri,
                gateway_url=gateway_url,
                token_file=token_file,
                state_dir=tmp / "state",
                policy_file=policy_file,
            ),
        )
        params, missing = node_parameters(options, specs, defaults, wanted)
        if missing:
            print(f"note: the graph declares no {', '.join(missing)}; running without")
        if scene is None:  # a real source runs at the camera's own rate
            fps = float(params["camera_driver"]["fps"])
        params_file = tmp / "wildcam_run.yaml"
        params_file.write_text(
            yaml.safe_dump(
                {f"/**/{node}": {"ros__parameters": values} for node, values in params.items()},
                sort_keys=False,
            )
        )
        supervisor = Supervisor(
            specs, params_file, env=ros_environment(), log_level="info", log_dir=logs
        )
        try:
            failure = play(
                options,
                supervisor,
                bag,
                time_,
                fps,
                clock_text(scene),
                pir_edges(options, synthetic_scene),
            )
            if gateway is not None or options.token_file:
                try:
                    listing = fetch_listing(gateway_url, Path(token_file))
                except Exception as err:  # noqa: BLE001 - any HTTP/IO failure: report without
                    print(f"wildcam run: cannot list the gateway's items: {err}", file=sys.stderr)
        finally:
            if gateway is not None and not options.keep_gateway:
                gateway.stop()  # else at the end (or at exit: LocalGateway registers it)
    if listing is not None:
        (out / RUN_FILES["gateway"]).write_text(json.dumps({"items": listing}))
    if supervisor.exit_code == EXIT_USAGE:  # a node refused its configuration: no day was run
        print(f"wildcam run: {failure}", file=sys.stderr)
        return EXIT_USAGE
    if not (bag / "metadata.yaml").is_file():
        print(f"wildcam run: {failure or 'nothing was recorded'}", file=sys.stderr)
        return EXIT_FAILED
    for name, code in supervisor.exits:  # said before the summary: its numbers are affected
        print(
            f"wildcam run: node {name} died during the run (exit code {code}; see "
            f"{logs / (name + '.log')})",
            file=sys.stderr,
        )
    if failure:
        print(f"wildcam run: {failure}", file=sys.stderr)
    report_run(out, scene, listing, fps, params.get("cascade_detector", {}), started)
    if gateway is not None:
        exports_and_review(options, out, gateway)
    if failure or supervisor.exits:
        print(
            "wildcam run: the run failed (see above); the report covers what was recorded",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0
