"""Starting nodes: one node per process (``ros2 run``) or several on one executor (composed).

Both use a ``SingleThreadedExecutor`` (rclpy's multi-threaded one collapses under load), exit 0
on SIGINT/SIGTERM, and apply the installation's ROS settings (RMW, ament prefix) before
``rclpy.init``, leaving discovery and the DDS profile to the deployment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from rclpy.exceptions import ParameterException

from wildcam.errors import WildcamError
from wildcam.rosenv import ros_environment

__all__ = ["main_for", "spin_nodes"]


def _apply_environment() -> None:
    # Set before rclpy.init: the middleware reads these once. Only what this installation needs
    # (the RMW, a venv as ament prefix); discovery range and DDS profile are the deployment's:
    # bringup, the launch file's arguments, the Makefile and the tests set them.
    for key, value in ros_environment(base={}, shm_profile=False).items():
        if key != "ROS_AUTOMATIC_DISCOVERY_RANGE":
            os.environ.setdefault(key, value)


def spin_nodes(classes: Sequence[type[Node]], args: Sequence[str] | None = None) -> int:
    """Create one instance of each class, spin them on one executor until shutdown.

    Returns 0 after SIGINT/SIGTERM, 2 when a node cannot start (its parameters are invalid),
    or the error's own ``exit_code`` (:data:`~wildcam.errors.EXIT_NEEDS_OPERATOR`: not
    respawned).
    """
    _apply_environment()
    rclpy.init(args=list(args) if args is not None else sys.argv)
    executor = SingleThreadedExecutor()
    nodes: list[Node] = []
    code = 0
    try:
        for cls in classes:
            try:
                nodes.append(cls())
            except (WildcamError, ParameterException) as err:
                print(f"wildcam: cannot start {cls.__name__}: {err}", file=sys.stderr, flush=True)
                code = getattr(err, "exit_code", 2)
                break
            executor.add_node(nodes[-1])
        if code == 0:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # SIGINT shuts the context down under the executor; a take in flight can then fail
        # inside rclpy ("Unable to convert call argument"). That is the shutdown, not a fault.
        if rclpy.ok():
            raise
    finally:
        for node in nodes:
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return code


def main_for(cls: type[Node]) -> int:
    """``main()`` of a node module: run ``cls`` alone with the process's ROS arguments."""
    return spin_nodes([cls], sys.argv)
