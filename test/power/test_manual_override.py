"""Manual overrides: a value set by hand is held through mode changes and restarts, until
cleared."""

from __future__ import annotations

from wildcam.power.apply import ApplyPlan, same_value
from wildcam.power.policy import load_policy


def _ok(plan: ApplyPlan, now_s: float) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    calls = plan.due(now_s)
    for node, _ in calls:
        plan.result(node, now_s, {})
    return calls


def test_a_value_set_by_hand_is_held_until_cleared() -> None:
    plan = ApplyPlan(("camera_driver",))
    plan.set_mode({"camera_driver": {"fps": 5.0, "enabled": True}}, 0.0)
    plan.seen("camera_driver", 0.0)
    # Set before the node took its first set: start-up configuration, not an override.
    assert not plan.changed("camera_driver", "fps", 9.0, managed=True)
    assert _ok(plan, 0.0) == [("camera_driver", {"fps": 5.0, "enabled": True})]
    # The events of our own push are not overrides, nor is a hand-set value the policy wants.
    assert not plan.changed("camera_driver", "fps", 5.0, managed=True)
    assert not plan.changed("camera_driver", "enabled", True, managed=True)
    assert not plan.changed("camera_driver", "jpeg_quality", 50, managed=False)
    # ros2 param set /camera_driver fps 2.0
    assert plan.changed("camera_driver", "fps", 2.0, managed=True)
    assert not plan.changed("camera_driver", "fps", 2.0, managed=True)  # already held
    assert plan.overrides() == {"camera_driver.fps": 2.0}
    # A new mode and a restart push the policy's values with the override on top.
    plan.set_mode({"camera_driver": {"fps": 1.0, "enabled": False}}, 1.0)
    assert _ok(plan, 1.0) == [("camera_driver", {"fps": 2.0, "enabled": False})]
    plan.seen("camera_driver", 2.0)
    assert _ok(plan, 2.0) == [("camera_driver", {"fps": 2.0, "enabled": False})]
    assert plan.nodes["camera_driver"].pushed() == {"fps": 2.0, "enabled": False}  # verified
    # Another hand-set value replaces the held one, even the policy's own value.
    assert plan.changed("camera_driver", "fps", 1.0, managed=True)
    assert plan.overrides() == {"camera_driver.fps": 1.0}
    # Cleared: the policy's set goes out again.
    assert plan.clear(3.0, node="other") == []
    assert plan.clear(3.0) == ["camera_driver.fps"] and plan.overrides() == {}
    assert _ok(plan, 3.0) == [("camera_driver", {"fps": 1.0, "enabled": False})]


def test_clear_one_parameter_of_one_node() -> None:
    plan = ApplyPlan(("a", "b"))
    plan.set_mode({"a": {"x": 1, "y": 1}, "b": {"x": 1}}, 0.0)
    plan.seen("a", 0.0)
    plan.seen("b", 0.0)
    _ok(plan, 0.0)
    for node, name in (("a", "x"), ("a", "y"), ("b", "x")):
        assert plan.changed(node, name, 7, managed=True)
    assert plan.clear(0.0, node="a", name="y") == ["a.y"]
    assert plan.overrides() == {"a.x": 7, "b.x": 7}
    assert plan.clear(0.0, name="x") == ["a.x", "b.x"]


def test_values_compare_as_parameters_do() -> None:
    assert same_value(2.0, 2) and same_value(0.1 + 0.2, 0.3)
    assert not same_value(True, 1) and not same_value("2", 2)


def test_the_policy_file_says_which_parameters_it_manages() -> None:
    policy = load_policy()
    managed = policy.managed("camera_driver")
    assert "enabled" in managed and "fps" in managed
    assert "source" not in managed and policy.managed("no_such_node") == frozenset()
