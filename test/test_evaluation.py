"""Event scoring against ground truth."""

from __future__ import annotations

from wildcam.evaluation import score_events


def test_overlap_recalls_and_strays_are_false_events() -> None:
    score = score_events(
        detected=[(1.0, 3.0), (10.0, 11.0), (20.0, 21.0)],
        visits=[(2.0, 5.0), (9.0, 12.0), (30.0, 31.0)],
        slack_s=0.5,
    )
    assert (score.visits, score.recalled, score.detected, score.false_events) == (3, 2, 3, 1)
    assert abs(score.recall - 2 / 3) < 1e-9


def test_slack_tolerates_a_late_start() -> None:
    assert score_events([(5.5, 6.0)], [(2.0, 5.0)], slack_s=1.0).recalled == 1
    assert score_events([(6.5, 7.0)], [(2.0, 5.0)], slack_s=1.0).recalled == 0


def test_no_visits_means_full_recall_and_every_event_false() -> None:
    score = score_events([(0.0, 1.0)], [])
    assert score.recall == 1.0 and score.false_events == 1
