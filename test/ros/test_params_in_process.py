"""ros/ helpers with rclpy in-process: ParameterBinding (validation, the prepare hook) and the
one remote-parameter client (RemoteParameters, type conversion), two nodes on one executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from wildcam.errors import ConfigError, ModelError
from wildcam.params import check_ranges, param

rclpy = pytest.importorskip("rclpy")

from wildcam.ros.params import ParameterBinding  # noqa: E402 - after the rclpy check
from wildcam.ros.remote_params import RemoteParameters, as_declared, reported_values  # noqa: E402


@dataclass(frozen=True)
class Knobs:
    rate: float = param(1.0, "A rate.", min=0.5, max=4.0)
    model: str = param("a", "A model file.")

    def __post_init__(self) -> None:
        check_ranges(self)
        if not self.model:
            raise ConfigError("model must be named")


class Target:
    """A node with a binding whose prepare hook refuses model 'bad' and records the order."""

    def __init__(self, probe: Any) -> None:
        self.events: list[str] = []
        self.node = rclpy.create_node("target", context=probe.node.context)
        probe.executor.add_node(self.node)
        self.binding = ParameterBinding(self.node, Knobs, self.changed, prepare=self.prepare)

    def prepare(self, old: Knobs, new: Knobs) -> Callable[[], None] | None:
        if old.model == new.model:
            return None
        if new.model == "bad":
            raise ModelError("model refused: bad file")
        self.events.append(f"checked {new.model}")
        return lambda: self.events.append(f"installed {new.model}")

    def changed(self, old: Knobs, new: Knobs) -> None:
        self.events.append(f"changed {old.model}->{new.model} rate {new.rate}")


@pytest.fixture
def target(probe: Any) -> Iterator[Target]:
    target = Target(probe)
    yield target
    probe.executor.remove_node(target.node)
    target.node.destroy_node()


def _answer(probe: Any, future: Any) -> Any:
    assert probe.spin_until(future.done, 10.0), "no answer"
    return future.result()


def test_as_declared_makes_ints_floats_where_the_parameter_is_a_float() -> None:
    # from the node table: camera_driver.fps is a float, reduce_factor an int
    assert as_declared("/camera_driver", {"fps": 5, "reduce_factor": 4, "enabled": True}) == {
        "fps": 5.0,
        "reduce_factor": 4,
        "enabled": True,
    }
    assert isinstance(as_declared("camera_driver", {"fps": 5})["fps"], float)
    # from the values the node reported (any node, in the table or not)
    assert as_declared("other", {"x": 2, "y": 2}, current={"x": 0.5, "y": 1}) == {"x": 2.0, "y": 2}
    assert as_declared("not_in_the_table", {"x": 2}) == {"x": 2}


def test_the_remote_client_converts_and_the_binding_validates(probe: Any, target: Target) -> None:
    remote = RemoteParameters(probe.node)
    assert probe.spin_until(lambda: remote.ready("target"), 10.0)
    # an int for the float parameter: converted by the reported type, accepted
    current = reported_values(["rate"], _answer(probe, remote.get("target", ["rate"])))
    assert current == {"rate": 1.0}
    results = _answer(probe, remote.set("target", {"rate": 2}, current)).results
    assert [r.successful for r in results] == [True]
    assert target.binding.config.rate == 2.0
    # refused by the config class's own check: the reason is its message, the config unchanged
    results = _answer(probe, remote.set("target", {"model": ""})).results
    assert not results[0].successful and results[0].reason == "model must be named"
    assert target.binding.config == Knobs(rate=2.0)


def test_prepare_refuses_or_commits_before_on_change(probe: Any, target: Target) -> None:
    remote = RemoteParameters(probe.node)
    assert probe.spin_until(lambda: remote.ready("target"), 10.0)
    results = _answer(probe, remote.set("target", {"model": "bad"})).results
    assert not results[0].successful and results[0].reason == "model refused: bad file"
    assert target.binding.config.model == "a" and target.events == []
    results = _answer(probe, remote.set("target", {"model": "b"})).results
    assert results[0].successful
    assert target.events == ["checked b", "installed b", "changed a->b rate 1.0"]
    # a change that needs no check goes straight to on_change
    _answer(probe, remote.set("target", {"rate": 3.0}))
    assert target.events[-1] == "changed b->b rate 3.0" and len(target.events) == 4
