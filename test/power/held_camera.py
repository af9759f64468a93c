"""A stand-in ``camera_driver`` whose deactivation answers only when the test says so (test
helper, started as a script by test_sleep_graph.py): its ``change_state`` holds a deactivate
until a message on ``test/release`` (at most ``HOLD_MAX_S``), as a camera stuck in a capture
does; ``get_state`` and activations answer at once, even while a deactivation is held (as a
node on a multi-threaded executor would: the harder case for the caller). Each held request is
announced on ``test/held``, each state it enters on ``test/state``."""

from __future__ import annotations

import sys
import threading

import rclpy
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Empty, String

HOLD_MAX_S = 30.0  # bounded: a test that never releases still ends


class HeldCamera(Node):
    """Lifecycle services only; starts active."""

    def __init__(self) -> None:
        super().__init__("camera_driver")
        self.label = "active"
        self.release = threading.Event()
        group = ReentrantCallbackGroup()
        self.held = self.create_publisher(Empty, "test/held", 10)
        self.state = self.create_publisher(String, "test/state", 10)
        self.create_subscription(
            Empty, "test/release", lambda _: self.release.set(), 10, callback_group=group
        )
        self.create_service(GetState, "~/get_state", self.get_state, callback_group=group)
        self.create_service(ChangeState, "~/change_state", self.change, callback_group=group)

    def get_state(
        self, request: GetState.Request, response: GetState.Response
    ) -> GetState.Response:
        response.current_state = State(label=self.label)
        return response

    def change(
        self, request: ChangeState.Request, response: ChangeState.Response
    ) -> ChangeState.Response:
        if request.transition.id == Transition.TRANSITION_DEACTIVATE:
            self.release.clear()
            self.held.publish(Empty())
            self.release.wait(HOLD_MAX_S)
            self.label = "inactive"
        elif request.transition.id == Transition.TRANSITION_ACTIVATE:
            self.label = "active"
        self.state.publish(String(data=self.label))
        self.get_logger().info(f"transition {request.transition.id}: now {self.label}")
        response.success = True
        return response


def main() -> int:
    rclpy.init(args=sys.argv)
    node = HeldCamera()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.release.set()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
