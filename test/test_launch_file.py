"""launch/wildcam.launch.py evaluated against a recording fake of the launch API.

``launch`` and ``launch_ros`` come only from a ROS 2 install (test/test_launch.py runs the real
thing there). Here a small fake records what the launch file builds, and the two substitutions
it uses are evaluated the way launch evaluates them (``LaunchConfiguration`` looks the argument
up, ``PythonExpression`` evaluates the concatenated text), so the conditions and the sim-time
rule are checked for given launch arguments.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from wildcam.graph import NODES

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "wildcam.launch.py"


class Recorded:
    """Any launch entity: keeps its positional and keyword arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(Recorded):
    pass


class PythonExpression(Recorded):
    pass


class IfCondition(Recorded):
    pass


def evaluate(value: Any, arguments: dict[str, str]) -> Any:
    """Evaluate a substitution as launch would, for the given launch arguments."""
    if isinstance(value, LaunchConfiguration):
        return arguments[value.args[0]]
    if isinstance(value, PythonExpression):
        return eval("".join(str(evaluate(part, arguments)) for part in value.args[0]))
    if isinstance(value, IfCondition):
        return str(evaluate(value.args[0], arguments)).lower() in ("true", "1")
    if isinstance(value, list):
        return "".join(str(evaluate(v, arguments)) for v in value)
    return value


@pytest.fixture
def description(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Recorded:
    modules = {
        "ament_index_python.packages": {"get_package_share_directory": lambda _: str(tmp_path)},
        "launch": {"LaunchDescription": Recorded},
        "launch.actions": {
            n: type(n, (Recorded,), {})
            for n in (
                "DeclareLaunchArgument",
                "EmitEvent",
                "GroupAction",
                "RegisterEventHandler",
                "SetEnvironmentVariable",
            )
        },
        "launch.conditions": {"IfCondition": IfCondition},
        "launch.event_handlers": {"OnProcessStart": type("OnProcessStart", (Recorded,), {})},
        "launch.events": {"matches_action": lambda action: ("matches", action)},
        "launch.substitutions": {
            "LaunchConfiguration": LaunchConfiguration,
            "PythonExpression": PythonExpression,
        },
        "launch_ros.actions": {
            "Node": type("Node", (Recorded,), {}),
            "LifecycleNode": type("LifecycleNode", (Recorded,), {}),
            "PushRosNamespace": Recorded,
        },
        "launch_ros.event_handlers": {
            "OnStateTransition": type("OnStateTransition", (Recorded,), {})
        },
        "launch_ros.events.lifecycle": {"ChangeState": type("ChangeState", (Recorded,), {})},
        "launch_ros.parameter_descriptions": {"ParameterValue": Recorded},
    }
    for name, attrs in modules.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    spec = importlib.util.spec_from_file_location("wildcam_launch", LAUNCH_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: Recorded = module.generate_launch_description()
    return result


def _arguments(description: Recorded, **given: str) -> dict[str, str]:
    declared = {
        a.args[0]: a.kwargs["default_value"]
        for a in description.args[0]
        if type(a).__name__ == "DeclareLaunchArgument"
    }
    assert set(given) <= set(declared), f"undeclared: {set(given) - set(declared)}"
    return {**declared, **given}


def _group(description: Recorded) -> list[Recorded]:
    return next(a for a in description.args[0] if type(a).__name__ == "GroupAction").args[0]


def _nodes(description: Recorded) -> list[Recorded]:
    return [n for n in _group(description) if type(n).__name__ in ("Node", "LifecycleNode")]


def _started(description: Recorded, **given: str) -> set[str]:
    args = _arguments(description, **given)
    return {
        n.kwargs["name"]
        for n in _nodes(description)
        if n.kwargs["condition"] is None or evaluate(n.kwargs["condition"], args)
    }


def test_default_launch_starts_every_node_but_those_on_request(description: Recorded) -> None:
    assert _started(description) == {n.name for n in NODES if not n.on_request}


def test_camera_false_leaves_the_camera_out_for_a_replayed_bag(description: Recorded) -> None:
    assert _started(description, camera="false") == (
        {n.name for n in NODES if not n.on_request} - {"camera_driver"}
    )


def test_each_on_request_node_has_its_own_argument(description: Recorded) -> None:
    for spec in (n for n in NODES if n.on_request):
        assert spec.name in _started(description, **{spec.name: "true"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, False),
        ({"use_sim_time": "true"}, True),
        ({"sim_clock": "true"}, True),
        ({"sim_clock": "True", "use_sim_time": "false"}, True),
    ],
)
def test_sim_clock_implies_sim_time(
    description: Recorded, given: dict[str, str], expected: bool
) -> None:
    args = _arguments(description, **given)
    for node in _nodes(description):
        sim_time = node.kwargs["parameters"][1]["use_sim_time"]
        assert evaluate(sim_time.args[0], args) is expected


def test_respawn_is_capped(description: Recorded) -> None:
    for node in _nodes(description):
        assert node.kwargs["respawn_max_retries"] > 0


def test_middleware_environment_is_left_alone_unless_asked(description: Recorded) -> None:
    env_actions = [a for a in description.args[0] if type(a).__name__ == "SetEnvironmentVariable"]
    assert {a.args[0] for a in env_actions} == {
        "FASTDDS_DEFAULT_PROFILES_FILE",
        "ROS_AUTOMATIC_DISCOVERY_RANGE",
    }
    defaults = _arguments(description)
    assert not any(evaluate(a.kwargs["condition"], defaults) for a in env_actions)
    asked = _arguments(description, discovery_range="SUBNET")
    assert [a.args[0] for a in env_actions if evaluate(a.kwargs["condition"], asked)] == [
        "ROS_AUTOMATIC_DISCOVERY_RANGE"
    ]


def test_the_camera_is_a_managed_node_configured_at_each_start_and_activated_once(
    description: Recorded,
) -> None:
    from lifecycle_msgs.msg import Transition

    camera = next(n for n in _nodes(description) if n.kwargs["name"] == "camera_driver")
    assert type(camera).__name__ == "LifecycleNode"
    assert camera.kwargs["parameters"][1]["autostart"] is False  # the launch file drives it
    assert all(type(n).__name__ == "Node" for n in _nodes(description) if n is not camera)
    handlers = {
        type(h.args[0]).__name__: h.args[0]
        for h in _group(description)
        if type(h).__name__ == "RegisterEventHandler"
    }
    on_start, on_inactive = handlers["OnProcessStart"], handlers["OnStateTransition"]
    assert on_start.kwargs["target_action"] is camera  # every start, a respawn too
    assert on_inactive.kwargs["target_lifecycle_node"] is camera
    # Only after configuring: the power manager's sleep (a deactivation) is not undone.
    assert (on_inactive.kwargs["start_state"], on_inactive.kwargs["goal_state"]) == (
        "configuring",
        "inactive",
    )
    for handler, key, transition in (
        (on_start, "on_start", Transition.TRANSITION_CONFIGURE),
        (on_inactive, "entities", Transition.TRANSITION_ACTIVATE),
    ):
        (emit,) = handler.kwargs[key]
        event = emit.kwargs["event"]
        assert event.kwargs["transition_id"] == transition
        assert event.kwargs["lifecycle_node_matcher"] == ("matches", camera)
