"""Other nodes' parameters through their parameter services, from a worker thread.

:class:`RosParameterApplier` reads and sets parameters of any node by name (its own node's
directly) and waits for the answers on a :class:`threading.Event` while the node's executor,
spinning in another thread, delivers them. It satisfies
:class:`wildcam.upload.ota.ParameterApplier`: refusals raise :class:`~wildcam.errors.UpdateError`
with the node's reason.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient

from wildcam.errors import UpdateError

__all__ = ["RosParameterApplier"]

Scalar = bool | int | float | str


class RosParameterApplier:
    """Sets other nodes' parameters through their services (its own node's directly), waiting
    from the sender thread while the executor answers."""

    def __init__(self, node: Node, timeout_s: float = 10.0) -> None:
        self.node, self.timeout_s = node, timeout_s
        self._clients: dict[str, AsyncParameterClient] = {}

    def _client(self, name: str) -> AsyncParameterClient:
        if name not in self._clients:
            self._clients[name] = AsyncParameterClient(self.node, name)
        client = self._clients[name]
        if not client.wait_for_services(timeout_sec=self.timeout_s):
            raise UpdateError(f"node {name} does not answer parameter requests")
        return client

    def _wait(self, future: Any, what: str) -> Any:
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout_s) or future.result() is None:
            raise UpdateError(f"{what}: no answer within {self.timeout_s} s")
        return future.result()

    def get(self, node: str, names: list[str]) -> dict[str, Scalar]:
        """Current values (UpdateError if a name is not declared)."""
        if node == self.node.get_name():
            params = [self.node.get_parameter(n) for n in names
                      if self.node.has_parameter(n)]
            found = {p.name: p.value for p in params}
        else:
            reply = self._wait(self._client(node).get_parameters(names), f"get {node}")
            found = {n: parameter_value_to_python(v) for n, v in zip(names, reply.values)
                     if v.type != 0}
        missing = sorted(set(names) - set(found))
        if missing:
            raise UpdateError(f"node {node} has no parameter(s) {missing}")
        return found

    def set(self, node: str, values: dict[str, Scalar]) -> None:
        """Set all ``values`` atomically (ints become floats where the parameter is a float)."""
        current = self.get(node, list(values))
        params = [Parameter(k, value=float(v) if isinstance(current[k], float)
                            and isinstance(v, int) and not isinstance(v, bool) else v)
                  for k, v in values.items()]
        if node == self.node.get_name():
            result = self.node.set_parameters_atomically(params)
        else:
            reply = self._wait(self._client(node).set_parameters_atomically(params),
                               f"set {node}")
            result = reply.result
        if not result.successful:
            raise UpdateError(result.reason or "refused")
