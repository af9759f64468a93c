"""Driving managed (lifecycle) nodes to a goal state, as nav2's lifecycle manager does.

:class:`LifecycleClients` asks a node for its state (``<node>/get_state``) and sends the
transitions of :func:`wildcam.lifecycle.transitions_to` (``<node>/change_state``) one after the
other, chaining callbacks (the power manager's sleep and wake). ``python -m wildcam.ros.lifecycle``
is the short-lived helper ``wildcam bringup`` runs (its supervisor holds no rclpy): it drives the
node table's managed nodes to ``--goal`` and exits 0 when all got there, 1 when one did not
within ``--timeout``. A failed transition (another manager, the power manager, moved the node
meanwhile) is tried again from the node's new state until the timeout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.client import Client
from rclpy.node import Node
from rclpy.task import Future

from wildcam.lifecycle import GOALS, Goal, transitions_to

__all__ = ["LifecycleClients", "main"]


class LifecycleClients:
    """``get_state`` and ``change_state`` clients of other nodes, from ``node``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._clients: dict[str, tuple[Client, Client]] = {}

    def _pair(self, target: str) -> tuple[Client, Client]:
        if target not in self._clients:
            self._clients[target] = (
                self.node.create_client(GetState, f"{target}/get_state"),
                self.node.create_client(ChangeState, f"{target}/change_state"),
            )
        return self._clients[target]

    def ready(self, target: str) -> bool:
        """Whether ``target``'s lifecycle services are up."""
        return all(c.service_is_ready() for c in self._pair(target))

    def drive(self, target: str, goal: Goal, late: Callable[[], None] = lambda: None) -> Future:
        """Take ``target`` to ``goal``; the future's result is ``''`` when it got there, else
        why not. Cancelling the future stops the chain: no further transition is sent, and
        ``late()`` is called when one sent before answers after all (the node moved)."""
        get_state, change_state = self._pair(target)
        done: Future = Future()

        def send(left: list[str]) -> None:
            if done.cancelled():
                return  # given up on (timed out): send nothing more for an old goal
            if not left:
                done.set_result("")
                return
            request = ChangeState.Request()
            request.transition.id = getattr(Transition, f"TRANSITION_{left[0].upper()}")
            change_state.call_async(request).add_done_callback(lambda f: answered(left, f))

        def answered(left: list[str], future: Future) -> None:
            response = None if future.cancelled() else future.result()
            if done.cancelled():
                if response is not None and response.success:
                    late()
                return
            if response is None or not response.success:
                done.set_result(f"{target}: {left[0]} failed")
                return
            send(left[1:])

        def got_state(future: Future) -> None:
            if done.cancelled():
                return
            response = None if future.cancelled() else future.result()
            if response is None:
                done.set_result(f"{target}: no answer from get_state")
                return
            path = list(transitions_to(str(response.current_state.label), goal))
            self.node.get_logger().info(
                f"{target} is {response.current_state.label}: "
                + (", ".join(path) if path else "nothing to do")
            )
            send(path)

        get_state.call_async(GetState.Request()).add_done_callback(got_state)
        return done


def main(argv: Sequence[str] | None = None) -> int:
    """The bringup helper: drive the managed nodes of the node table to ``--goal``."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from wildcam.graph import NODES

    parser = argparse.ArgumentParser(prog="python -m wildcam.ros.lifecycle")
    parser.add_argument("--goal", choices=GOALS, required=True)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds in all")
    parser.add_argument("nodes", nargs="*", help="default: the node table's managed nodes")
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = argv[argv.index("--ros-args") :] if "--ros-args" in argv else []
    args = parser.parse_args(argv[: len(argv) - len(ros_args)])
    targets = args.nodes or [spec.name for spec in NODES if spec.managed]
    rclpy.init(args=["wildcam_lifecycle", *ros_args])
    node = Node("wildcam_lifecycle")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    clients = LifecycleClients(node)
    deadline = time.monotonic() + args.timeout
    pending: dict[str, Future | None] = dict.fromkeys(targets, None)
    last = dict.fromkeys(targets, "its lifecycle services did not come up")
    try:
        while pending and time.monotonic() < deadline:
            for target, future in list(pending.items()):
                if future is None and clients.ready(target):
                    pending[target] = clients.drive(target, args.goal)
                elif future is not None and future.done():
                    last[target] = str(future.result())
                    if last[target]:
                        pending[target] = None  # try again from where it is now
                    else:
                        del pending[target]
            executor.spin_once(timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    failed = [f"{t}: not {args.goal} within {args.timeout:g} s ({last[t]})" for t in pending]
    for reason in failed:
        print(f"wildcam lifecycle: {reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
