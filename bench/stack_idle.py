"""CPU of the camera + motion graph while nothing happens.

The graph runs through `wildcam bringup` (one process per node) on an empty synthetic scene at
10 fps, 640×480, for 60 s; the figure is the CPU time (user + system) of all node processes
over that window as a fraction of one core. In the same run, a baseline without the gating:
the camera publishing every full frame (``full_frames: always``) to a subscriber that decodes
it, as a camera trap that ships all frames downstream would.

Key: ``cpu_fraction_of_one_core`` (target ≤ 0.05), baseline ``always_full_frames_cpu_fraction``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from _common import write_results
from wildcam.docs import default_parameters
from wildcam.rosenv import claim_domain, ros_environment

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _measure(full_frames: str, seconds: float, warmup_s: float) -> float:
    params = default_parameters()
    params["/**/camera_driver"]["ros__parameters"].update(
        uri="empty", fps=10.0, width=640, height=480, loop=True, full_frames=full_frames
    )
    with tempfile.TemporaryDirectory() as tmp, claim_domain() as domain:
        path = Path(tmp) / "idle.yaml"
        path.write_text(yaml.safe_dump(params))
        env = ros_environment(domain)
        log = Path(tmp) / "bringup.log"
        with open(log, "w") as out:
            bringup = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "wildcam.cli",
                    "bringup",
                    "--params-file",
                    str(path),
                    "--log-level",
                    "warn",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            sink = None
            if full_frames == "always":  # someone must take the full frames for them to flow
                sink = subprocess.Popen([sys.executable, "-c", _SINK], env=env)
            try:
                time.sleep(warmup_s)  # start-up (imports, discovery) is not idle cost
                pids = [int(p) for p in re.findall(r"pid (\d+)", log.read_text())]
                procs = pids + ([sink.pid] if sink else [])
                start = {p: _cpu_seconds(p) for p in procs}
                t0 = time.monotonic()
                time.sleep(seconds)
                used = sum(_cpu_seconds(p) - start[p] for p in procs)
                return used / (time.monotonic() - t0)
            finally:
                if sink:
                    sink.terminate()
                    sink.wait(10)
                bringup.terminate()
                bringup.wait(60)


_SINK = """
import rclpy
from sensor_msgs.msg import Image
from wildcam.ros.convert import msg_to_image
from wildcam.ros.qos import SENSOR_SUB
rclpy.init()
node = rclpy.create_node("full_frame_sink")
node.create_subscription(Image, "camera/image_raw", lambda m: msg_to_image(m), SENSOR_SUB)
try:
    rclpy.spin(node)
except BaseException:
    pass
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    args = parser.parse_args()
    ours = _measure("motion", args.seconds, args.warmup)
    baseline = _measure("always", args.seconds, args.warmup)
    write_results(
        "stack_idle",
        {
            "cpu_fraction_of_one_core": round(ours, 4),
            "always_full_frames_cpu_fraction": round(baseline, 4),
            "target_cpu_fraction_of_one_core": 0.05,
            "seconds": args.seconds,
            "fps": 10.0,
            "width": 640,
            "height": 480,
        },
    )


if __name__ == "__main__":
    main()
