"""The power manager's calls without ROS: graph watch, one call in flight per node, timeouts,
answers; lifecycle paths; lifecycle goals only when they change."""

from __future__ import annotations

from wildcam.lifecycle import transitions_to
from wildcam.power.apply import ApplyPlan
from wildcam.power.calls import PlanCalls, own_node, refused_of


def test_lifecycle_paths_to_active_and_inactive() -> None:
    assert transitions_to("unconfigured", "active") == ("configure", "activate")
    assert transitions_to("inactive", "active") == ("activate",)
    assert transitions_to("active", "active") == ()
    assert transitions_to("active", "inactive") == ("deactivate",)
    assert transitions_to("unconfigured", "inactive") == ()  # holds no device
    assert transitions_to("finalized", "active") == ()


def test_calls_follow_the_graph_time_out_and_ignore_late_answers() -> None:
    plan = ApplyPlan(("camera_driver", "uploader"), max_attempts=3, backoff_s=1.0)
    calls = PlanCalls(plan)
    plan.set_mode({"camera_driver": {"lifecycle": "inactive"}}, 0.0)
    assert plan.due(0.0) == []  # nobody in the graph yet
    calls.watch({"camera_driver", "probe"}, 0.0)
    assert calls.present == {"camera_driver"}
    assert plan.due(0.0) == [("camera_driver", {"lifecycle": "inactive"})]
    token = calls.start("camera_driver", 0.0)
    assert calls.expire(5.0, timeout_s=10.0) == []
    assert calls.expire(11.0, timeout_s=10.0) == ["camera_driver"]
    assert not calls.finish("camera_driver", token)  # the late answer is ignored
    assert plan.nodes["camera_driver"].state == "pending"  # retried after the backoff
    assert plan.due(11.5) == [] and len(plan.due(12.0)) == 1
    token = calls.start("camera_driver", 12.0)
    assert calls.finish("camera_driver", token)
    plan.result("camera_driver", 12.1, {})
    assert plan.nodes["camera_driver"].state == "ok"
    calls.watch(set(), 13.0)  # it left (a crash) ...
    assert plan.nodes["camera_driver"].state == "absent"
    calls.watch({"camera_driver"}, 14.0)  # ... and its respawn gets the goal again
    assert plan.due(14.0) == [("camera_driver", {"lifecycle": "inactive"})]


def test_refusals_and_own_namespace() -> None:
    assert refused_of(["fps", "enabled"], [(True, ""), (False, "")]) == {"enabled": "refused"}
    assert refused_of(["fps"], [(False, "out of range")]) == {"fps": "out of range"}
    assert refused_of(["fps"], None) is None
    assert own_node("/camera_driver", "/") == "camera_driver"
    assert own_node("/trap1/camera_driver", "/trap1") == "camera_driver"
    assert own_node("/trap2/camera_driver", "/trap1") is None


def test_verification_pushes_again_only_on_a_difference() -> None:
    plan = ApplyPlan(("camera_driver",))
    plan.seen("camera_driver", 0.0)
    plan.set_mode({"camera_driver": {"fps": 5.0}}, 0.0)
    plan.due(0.0)
    plan.result("camera_driver", 0.0, {})
    assert plan.verified("camera_driver", {"fps": 5.0}, {"fps": 5}, 1.0)
    assert plan.nodes["camera_driver"].state == "ok"
    assert not plan.verified("camera_driver", {"fps": 5.0}, {"fps": 10.0}, 2.0)
    assert plan.nodes["camera_driver"].state == "pending"
