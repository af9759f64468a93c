"""Settled events: agreeing frames stop the models, re-checks, trusted stage-3 animals."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from wildcam.cascade.base import FakeModel
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.runner import Cascade, EventSmoother, FrameOutcome
from wildcam.errors import ConfigError
from wildcam.types import Box

FRAME = np.zeros((240, 320, 3), np.uint8)
ROI = Box(40, 40, 80, 60)
FPS = 10.0


class Scores:
    """Per-stage scores the fake models answer; change them between frames."""

    def __init__(self, **scores: float) -> None:
        self.scores = scores

    def model(self, stage: int) -> FakeModel:
        return FakeModel(f"fake{stage}", stage, lambda _i, _b: self.scores[f"s{stage}"])


def cascade_of(
    scores: Scores, stages: tuple[int, ...] = (1,), **config: object
) -> tuple[Cascade, dict[int, FakeModel]]:
    models = {s: scores.model(s) for s in stages}
    return Cascade(models, CascadeConfig(**config)), models  # type: ignore[arg-type]


def play(
    cascade: Cascade, frames: int, start: int = 0, last_ends: bool = False
) -> list[FrameOutcome]:
    """Frames ``start .. start + frames - 1`` of event 1 at ``FPS``, moving in ``ROI``."""
    return [
        cascade.process(FRAME, [ROI], 1, last_ends and i == start + frames - 1, stamp_s=i / FPS)
        for i in range(start, start + frames)
    ]


def test_agreeing_frames_settle_and_later_frames_are_skipped() -> None:
    scores = Scores(s1=0.9)
    cascade, models = cascade_of(scores, settle_frames=3, recheck_s=0.0)
    outcomes = play(cascade, 10, last_ends=True)
    assert [o.skipped for o in outcomes] == [False] * 3 + [True] * 7
    assert models[1].calls == 3
    assert [o.publish for o in outcomes] == [False, True, True] + [False] * 7
    skipped = outcomes[4]
    assert skipped.decision.regions == () and not skipped.decision.stages_run
    assert skipped.counters() == ["frames_skipped"]
    final = outcomes[-1].ended
    assert final is not None and final.animal and final.settled is True
    assert (final.frames, final.skipped, final.animal_frames) == (10, 7, 3)


def test_settle_frames_zero_analyses_every_frame() -> None:
    cascade, models = cascade_of(Scores(s1=0.9), settle_frames=0)
    assert not any(o.skipped for o in play(cascade, 12))
    assert models[1].calls == 12


def test_settling_waits_for_the_smoothed_presence() -> None:
    # with a slow average, agreeing animal frames settle only once the event is an animal
    cascade, _models = cascade_of(
        Scores(s1=0.9), settle_frames=2, smoothing_alpha=0.1, recheck_s=0.0
    )
    outcomes = play(cascade, 10)
    first_skipped = next(i for i, o in enumerate(outcomes) if o.skipped)
    assert first_skipped == 7  # 1 - 0.9**7 is the first presence >= 0.5
    assert outcomes[6].publish and outcomes[6].event is not None
    assert outcomes[6].event.settled is True


def test_rechecks_come_every_recheck_s_of_frame_time_and_publish() -> None:
    cascade, models = cascade_of(Scores(s1=0.9), settle_frames=3, recheck_s=1.0)
    outcomes = play(cascade, 40)  # 4 s
    analysed = [i for i, o in enumerate(outcomes) if not o.skipped]
    assert analysed == [0, 1, 2, 12, 22, 32]  # settled at 0.2 s, then every 1.0 s
    assert [outcomes[i].recheck for i in analysed] == [False] * 3 + [True] * 3
    assert all(outcomes[i].publish for i in analysed[1:])  # deciding frames and re-checks
    assert "frames_rechecked" in outcomes[12].counters()
    assert models[1].calls == len(analysed)


def test_a_disagreeing_recheck_unsettles_the_event() -> None:
    scores = Scores(s1=0.9)
    cascade, _ = cascade_of(scores, settle_frames=3, recheck_s=1.0)
    play(cascade, 12)  # settled animal; frame 12 is the next re-check
    scores.scores["s1"] = 0.05  # the animal has left
    [recheck] = play(cascade, 1, start=12)
    assert recheck.recheck and not recheck.skipped and not recheck.publish
    assert recheck.event is not None and recheck.event.settled is None
    # analysed again until three background frames agree with the smoothed presence
    outcomes = play(cascade, 20, start=13)
    assert [o.skipped for o in outcomes[:3]] == [False, False, True]
    state = outcomes[2].event
    assert state is not None and state.settled is False and state.animal  # verdict kept


def test_a_settled_background_event_finds_an_arriving_animal_at_its_recheck() -> None:
    scores = Scores(s1=0.05)
    cascade, _ = cascade_of(scores, settle_frames=3, recheck_s=1.0)
    assert [o.skipped for o in play(cascade, 5)] == [False] * 3 + [True] * 2
    scores.scores["s1"] = 0.9
    outcomes = play(cascade, 10, start=5)
    # skipped until the re-check at 1.2 s, which un-settles; the next frame publishes
    assert [o.skipped for o in outcomes] == [True] * 7 + [False] * 3
    assert [o.publish for o in outcomes[7:]] == [False, True, True]


def test_motion_somewhere_new_rechecks_a_settled_background_event_at_once() -> None:
    scores = Scores(s1=0.05)
    cascade, models = cascade_of(scores, settle_frames=3, recheck_s=0.0)  # no timed re-check
    play(cascade, 4)  # swaying grass in ROI: settled on background, frame 3 skipped
    assert models[1].calls == 3
    nearby = Box(ROI.x + 20, ROI.y + 10, ROI.w, ROI.h)  # the grass again: centre inside ROI
    far = Box(200, 150, 40, 40)  # something entered elsewhere
    assert cascade.process(FRAME, [nearby], 1, stamp_s=0.4).skipped
    outcome = cascade.process(FRAME, [ROI, far], 1, stamp_s=0.5)
    assert outcome.recheck and not outcome.skipped and models[1].calls == 5  # two regions
    assert outcome.event is not None and outcome.event.settled is False  # still background
    assert cascade.process(FRAME, [far], 1, stamp_s=0.6).skipped  # checked there now

    scores.scores["s1"] = 0.9
    elsewhere = Box(10, 150, 40, 40)
    assert not cascade.process(FRAME, [elsewhere], 1, stamp_s=0.7).skipped  # an animal: unsettled
    cascade.process(FRAME, [elsewhere], 1, stamp_s=0.8)
    cascade.process(FRAME, [elsewhere], 1, stamp_s=0.9)  # settled on animal
    # a settled animal moving on is not re-checked before its time
    assert cascade.process(FRAME, [Box(250, 10, 40, 40)], 1, stamp_s=1.0).skipped


def test_skipped_frames_cost_no_model_energy() -> None:
    names: list[str] = []

    @contextlib.contextmanager
    def measure(name: str) -> Iterator[None]:
        names.append(name)
        yield

    scores = Scores(s1=0.5, s2=0.5, s3=0.95)
    models = {s: scores.model(s) for s in (1, 2, 3)}
    config = CascadeConfig(settle_frames=3, recheck_s=0.0, stage3_trust_s=0.0)
    cascade = Cascade(models, config, measure)
    outcomes = play(cascade, 30)
    assert sum(o.skipped for o in outcomes) == 27
    assert names == ["cascade_stage1", "cascade_stage2", "cascade_stage3"] * 3


def test_a_stage3_animal_spares_stage3_for_unsure_regions_of_its_event() -> None:
    scores = Scores(s1=0.5, s2=0.5, s3=0.95)  # unsure until stage 3
    cascade, models = cascade_of(scores, (1, 2, 3), settle_frames=0, stage3_trust_s=1.0)
    outcomes = play(cascade, 25)
    assert models[3].calls == 3  # at 0.0, 1.0 and 2.0 s; trusted in between
    assert models[1].calls == models[2].calls == 25
    trusted = outcomes[1].decision.regions[0]
    assert trusted.trusted and trusted.animal and trusted.stage == 2
    assert trusted.model_id == "fake2" and dict(trusted.path) == {1: 0.5, 2: 0.5}
    assert outcomes[1].decision.trusted and outcomes[1].publish
    assert "frames_stage3_trusted" in outcomes[1].counters()
    assert not outcomes[10].decision.trusted and outcomes[10].decision.highest_stage == 3

    alone, alone_models = cascade_of(scores, (1, 2, 3), settle_frames=0, stage3_trust_s=0.0)
    play(alone, 25)
    assert alone_models[3].calls == 25


@pytest.mark.parametrize(
    "case", ["stage3_background", "other_event", "no_stamp", "confident_below"]
)
def test_trust_needs_a_stage3_animal_of_the_same_event_in_time(case: str) -> None:
    scores = Scores(s1=0.5, s2=0.5, s3=0.05 if case == "stage3_background" else 0.95)
    cascade, models = cascade_of(scores, (1, 2, 3), settle_frames=0, stage3_trust_s=5.0)
    cascade.process(FRAME, [ROI], 1, stamp_s=0.0)
    if case == "other_event":
        cascade.process(FRAME, [ROI], 2, stamp_s=0.1)
    elif case == "no_stamp":
        cascade.process(FRAME, [ROI], 1)
    else:
        if case == "confident_below":
            scores.scores["s2"] = 0.05  # confident background: no stage 3, no trust needed
        decision = cascade.process(FRAME, [ROI], 1, stamp_s=0.1).decision
        assert not decision.trusted
        assert decision.animal is False
    assert models[3].calls == (1 if case == "confident_below" else 2)


def test_only_stage3_enabled_still_calls_it() -> None:
    cascade, models = cascade_of(Scores(s3=0.5), (3,), settle_frames=0, stage3_trust_s=5.0)
    cascade.process(FRAME, [ROI], 1, stamp_s=0.0)
    outcome = cascade.process(FRAME, [ROI], 1, stamp_s=0.1)
    assert models[3].calls == 2 and not outcome.decision.trusted


def test_a_ten_second_visit_costs_a_few_stage3_calls() -> None:
    """The day-run pattern: 100 frames of one animal, unsure until stage 3."""
    scores = Scores(s1=0.5, s2=0.5, s3=0.95)
    every, every_models = cascade_of(scores, (1, 2, 3), settle_frames=0, stage3_trust_s=0.0)
    settled, settled_models = cascade_of(scores, (1, 2, 3))  # the defaults
    published = [sum(o.publish for o in play(c, 100, last_ends=True)) for c in (every, settled)]
    assert every_models[3].calls == 100 and published[0] == 99
    defaults = CascadeConfig()
    rechecks = int((100 / FPS - (defaults.settle_frames - 1) / FPS) // defaults.recheck_s)
    assert settled_models[1].calls == defaults.settle_frames + rechecks
    assert settled_models[3].calls <= 1 + rechecks  # trusted while settling
    assert published[1] == defaults.settle_frames - 1 + rechecks


def test_settling_changes_live_and_skip_needs_an_event() -> None:
    cascade, models = cascade_of(Scores(s1=0.9), settle_frames=3, recheck_s=0.0)
    play(cascade, 5)
    assert models[1].calls == 3
    assert cascade.skip([ROI], 0, stamp_s=1.0) is None  # no event: every frame is analysed
    cascade.configure(CascadeConfig(settle_frames=0))
    assert cascade.skip([ROI], 1, stamp_s=0.5) is None
    assert not any(o.skipped or o.recheck for o in play(cascade, 2, start=5))
    cascade.configure(CascadeConfig(settle_frames=3, recheck_s=0.0))
    ended = cascade.skip([ROI], 1, True, 0.8)  # the still-settled event closes
    assert ended is not None and ended.skipped and ended.ended is not None
    assert ended.ended.frames == 8 and cascade.smoother.open_events == 0


def test_smoother_settles_and_rechecks_by_frame_time() -> None:
    smoother = EventSmoother(alpha=1.0, settle_frames=2, recheck_s=0.5)
    assert smoother.due(1, 0.0)
    smoother.update(1, 1.0, 0.0)
    assert smoother.update(1, 1.0, 0.1).settled is True
    assert not smoother.due(1, 0.5) and smoother.due(1, 0.6)
    assert not smoother.due(1, None)  # no frame time: no re-check
    smoother.update(1, 1.0, 0.6)  # an agreeing re-check moves the next one on
    assert not smoother.due(1, 1.0) and smoother.due(1, 1.1)
    assert smoother.update(1, 0.0, 1.1).settled is None


def test_settle_params_are_checked() -> None:
    with pytest.raises(ConfigError):
        CascadeConfig(settle_frames=-1)
    with pytest.raises(ConfigError):
        CascadeConfig(recheck_s=-0.5)
    with pytest.raises(ConfigError):
        CascadeConfig(stage3_trust_s=1e6)
