"""Other nodes' parameters through their parameter services: the one client every caller uses.

:class:`RemoteParameters` keeps one ``AsyncParameterClient`` per node and builds the requests,
converting each value to the parameter's declared type (an int given for a floating-point
parameter becomes a float: ROS refuses a change of type). The declared types come from the
values the node reported when the caller read them first, else from the node table
(:mod:`wildcam.graph`). Each call returns the future; how to wait is the caller's (the power
manager chains callbacks, ``wildcam param`` and ``wildcam run`` spin their executor,
:class:`RosParameterApplier` waits from a worker thread).

:class:`RosParameterApplier` reads and sets parameters of any node by name (its own node's
directly) and waits for the answers on a :class:`threading.Event` while the node's executor,
spinning in another thread, delivers them. It satisfies
:class:`wildcam.upload.ota.ParameterApplier`: refusals raise :class:`~wildcam.errors.UpdateError`
with the node's reason.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient
from rclpy.task import Future

from wildcam.errors import UpdateError

__all__ = ["RemoteParameters", "RosParameterApplier", "as_declared", "reported_values"]

Scalar = bool | int | float | str


@functools.cache
def _table_floats(node: str) -> frozenset[str]:
    """The floating-point parameters of the node-table entry called ``node`` (none if it is
    not one)."""
    from wildcam.graph import NODES
    from wildcam.params import param_specs

    for spec in NODES:
        if spec.name == node:
            return frozenset(s.name for s in param_specs(spec.config_type()) if s.type is float)
    return frozenset()


def as_declared(
    node: str, values: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``values`` with an int made a float where the parameter is a float: as ``current`` (the
    node's reported values) says, else as the node table declares ``node``'s parameters."""
    floats = (
        {k for k, v in current.items() if isinstance(v, float)}
        if current is not None
        else _table_floats(node.rsplit("/", 1)[-1])
    )
    return {
        k: float(v) if k in floats and isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in values.items()
    }


def reported_values(names: Sequence[str], reply: Any) -> dict[str, Any]:
    """The values of a ``GetParameters`` reply by name; a name the node lacks is left out."""
    return {
        n: parameter_value_to_python(v) for n, v in zip(names, reply.values) if v.type != 0
    }  # PARAMETER_NOT_SET; a node may also answer fewer values


class RemoteParameters:
    """Parameter requests to other nodes, from ``node``; one client per node name."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._clients: dict[str, AsyncParameterClient] = {}

    def client(self, name: str) -> AsyncParameterClient:
        """The (cached) client of node ``name``."""
        if name not in self._clients:
            self._clients[name] = AsyncParameterClient(self.node, name)
        return self._clients[name]

    def ready(self, name: str) -> bool:
        """Whether node ``name``'s parameter services are there."""
        return bool(self.client(name).services_are_ready())

    def get(self, name: str, names: Sequence[str]) -> Future:
        """Ask for ``names``' values (read the reply with :func:`reported_values`)."""
        return self.client(name).get_parameters(list(names))

    def set(
        self,
        name: str,
        values: Mapping[str, Any],
        current: Mapping[str, Any] | None = None,
        atomically: bool = False,
    ) -> Future:
        """Ask to set ``values`` (converted by :func:`as_declared`), one by one or all at once."""
        params = [Parameter(k, value=v) for k, v in as_declared(name, values, current).items()]
        client = self.client(name)
        return (
            client.set_parameters_atomically(params)
            if atomically
            else client.set_parameters(params)
        )


class RosParameterApplier:
    """Sets other nodes' parameters through their services (its own node's directly), waiting
    from the sender thread while the executor answers."""

    def __init__(self, node: Node, timeout_s: float = 10.0) -> None:
        self.node, self.timeout_s = node, timeout_s
        self.remote = RemoteParameters(node)

    def _ready(self, name: str) -> None:
        if not self.remote.client(name).wait_for_services(timeout_sec=self.timeout_s):
            raise UpdateError(f"node {name} does not answer parameter requests")

    def _wait(self, future: Any, what: str) -> Any:
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.timeout_s) or future.result() is None:
            raise UpdateError(f"{what}: no answer within {self.timeout_s} s")
        return future.result()

    def get(self, node: str, names: list[str]) -> dict[str, Scalar]:
        """Current values (UpdateError if a name is not declared)."""
        if node == self.node.get_name():
            params = [self.node.get_parameter(n) for n in names if self.node.has_parameter(n)]
            found = {p.name: p.value for p in params}
        else:
            self._ready(node)
            found = reported_values(names, self._wait(self.remote.get(node, names), f"get {node}"))
        missing = sorted(set(names) - set(found))
        if missing:
            raise UpdateError(f"node {node} has no parameter(s) {missing}")
        return found

    def set(self, node: str, values: dict[str, Scalar]) -> None:
        """Set all ``values`` atomically (ints become floats where the parameter is a float)."""
        current = self.get(node, list(values))
        if node == self.node.get_name():
            result = self.node.set_parameters_atomically(
                [Parameter(k, value=v) for k, v in as_declared(node, values, current).items()]
            )
        else:
            reply = self._wait(
                self.remote.set(node, values, current, atomically=True), f"set {node}"
            )
            result = reply.result
        if not result.successful:
            raise UpdateError(result.reason or "refused")
