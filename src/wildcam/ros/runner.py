"""Starting nodes: one node per process (``ros2 run``) or several on one executor (composed).

Both use a ``SingleThreadedExecutor`` (rclpy's multi-threaded one collapses under load), exit 0
on SIGINT/SIGTERM, and apply the installation's ROS settings (RMW, ament prefix) before
``rclpy.init``, leaving discovery and the DDS profile to the deployment. While the nodes spin,
the library modules' :mod:`logging` records go to the (first) node's ROS logger
(:func:`wildcam.logs.routed_to_ros`), so they reach ``/rosout`` too.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from wildcam.config_check import ROS_BUILTIN, check_values, read_params_file
from wildcam.errors import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_NEEDS_OPERATOR,
    ConfigError,
    WildcamError,
)
from wildcam.graph import NODES
from wildcam.logs import routed_to_ros
from wildcam.params import param_specs
from wildcam.rosenv import ros_environment

__all__ = ["main_for", "spin_nodes"]


def _apply_environment() -> None:
    # Set before rclpy.init: the middleware reads these once. Only what this installation needs
    # (the RMW, a venv as ament prefix); discovery range and DDS profile are the deployment's:
    # bringup, the launch file's arguments, the Makefile and the tests set them.
    for key, value in ros_environment(base={}, shm_profile=False).items():
        if key != "ROS_AUTOMATIC_DISCOVERY_RANGE":
            os.environ.setdefault(key, value)


def _note_interrupts() -> list[int]:
    """Have SIGINT raise :class:`KeyboardInterrupt` as Python's own handler does, and note it.

    Installed before ``rclpy.init``, whose signal handler calls it after its own work. The note
    tells the shutdown apart from a fault when the interrupt lands inside rclpy's native code:
    there it surfaces as a ``RuntimeError`` while the context may still be up.
    """
    seen: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    return seen


def spin_nodes(classes: Sequence[type[Node]], args: Sequence[str] | None = None) -> int:
    """Create one instance of each class, spin them on one executor until shutdown.

    Returns 0 after SIGINT/SIGTERM; :data:`~wildcam.errors.EXIT_CONFIG` when a node cannot
    start because of its configuration (an invalid or unknown parameter: it would fail the same
    way on every start, so it is not respawned); :data:`~wildcam.errors.EXIT_NEEDS_OPERATOR`
    when it found its data damaged (not respawned either); 1 when it cannot start for another
    reason.
    """
    _apply_environment()
    args = list(args) if args is not None else sys.argv
    try:
        _check_params_files(classes, args)
    except ConfigError as err:
        print(f"wildcam: configuration error: {err}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    interrupts = _note_interrupts()
    rclpy.init(args=args)
    executor = SingleThreadedExecutor()
    nodes: list[Node] = []
    code = 0
    try:
        for cls in classes:
            node = cls.__new__(cls)
            built = False
            try:
                node.__init__()  # type: ignore[misc]
                built = True
                _refuse_undeclared(node)
                nodes.append(node)
            except (WildcamError, ParameterException) as err:
                _discard(node, built)
                config = isinstance(err, (ConfigError, ParameterException))
                print(
                    f"wildcam: cannot start {cls.__name__}"
                    f"{' (configuration error)' if config else ''}: {err}",
                    file=sys.stderr,
                    flush=True,
                )
                code = (
                    EXIT_CONFIG
                    if config
                    else EXIT_NEEDS_OPERATOR
                    if getattr(err, "exit_code", None) == EXIT_NEEDS_OPERATOR
                    else EXIT_FAILED
                )
                break
            executor.add_node(nodes[-1])
            node.get_logger().info(f"started (pid {os.getpid()})")  # every log has a first line
        if code == 0:
            with routed_to_ros(nodes[0].get_logger()):  # library logs reach /rosout too
                executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # An interrupt raised while rclpy converts a taken message, or a shutdown under a take
        # in flight, fails inside rclpy ("Unable to convert call argument"): not a fault.
        if rclpy.ok() and not interrupts:
            raise
    finally:
        for node in nodes:
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return code


def _discard(node: Node, built: bool) -> None:
    """Destroy a node that cannot run. One whose ``__init__`` failed goes as a plain
    :class:`Node`: its own ``destroy_node`` would touch attributes it never set (and rclpy
    destroys every node it still tracks at shutdown)."""
    try:
        node.destroy_node() if built else Node.destroy_node(node)
    except Exception:  # noqa: BLE001 - Node.__init__ itself may not have finished
        pass


def _check_params_files(classes: Sequence[type[Node]], args: Sequence[str]) -> None:
    """Check each ``--params-file`` section that applies to one of ``classes`` before rclpy
    reads it, so a mistake is one line naming the file, node, parameter and allowed range."""
    files = [Path(args[i + 1]) for i, a in enumerate(args[:-1]) if a == "--params-file"]
    renamed = [a.split(":=", 1)[1] for a in args if a.startswith("__node:=")]
    for cls in classes:
        spec = next((n for n in NODES if n.node_class == cls.__name__), None)
        if spec is None:
            continue
        name = renamed[-1] if renamed and len(classes) == 1 else spec.name
        declared = {s.name for s in param_specs(spec.config_type())} | set(ROS_BUILTIN)
        for path in files:
            for node, values in read_params_file(path):
                if node is None:  # a /** section: the names this node declares
                    check_values(
                        spec, {k: v for k, v in values.items() if k in declared}, str(path)
                    )
                elif node == name:
                    check_values(spec, values, str(path))


def _refuse_undeclared(node: Node) -> None:
    """A parameter given to the node (YAML, ``-p``) that neither it nor any other node of the
    table declares is a mistake (a typo). One another node declares may come from a ``/**``
    section meant for every node, as ROS allows."""
    given = getattr(node, "_parameter_overrides", {})  # rclpy keeps the overrides there
    known = {s.name for spec in NODES for s in param_specs(spec.config_type())}
    unknown = sorted(
        n
        for n in given
        if not node.has_parameter(n) and n not in known and not n.startswith("qos_overrides.")
    )
    if unknown:
        raise ConfigError(f"{node.get_name()} has no parameter(s) {unknown}")


def main_for(cls: type[Node]) -> int:
    """``main()`` of a node module: run ``cls`` alone with the process's ROS arguments."""
    return spin_nodes([cls], sys.argv)
