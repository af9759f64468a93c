"""The stage runner: cheapest model first, escalate only while unsure, smooth over an event.

For each motion region of a frame, stage 1 scores the crop. A score below the model's ``c_low``
is a confident "background", at or above ``c_high`` a confident "animal" (the manifest's band,
unless the config overrides it; on a grey, infrared night frame a student's ``c_high_night``
where the manifest gives one; with ``student_tiles``, on a large whole frame, also the best
of its tiles against the student's tile band, which the ``stageN_c_*`` overrides and the night
band do not touch: :meth:`~wildcam.cascade.views.TileBand.verdict`);
in between the region escalates to the next enabled stage. Stage
3 (the large detector) sees either the whole frame
once (its boxes are matched to the unsure regions) or each unsure region. The cascade never
calls a stage above ``max_stage``; a region still unsure at the last allowed stage is decided by
that stage's score against ``decision_threshold``. A detector stage with the people-and-vehicles
check (a :class:`~wildcam.cascade.base.ResultCheck`) lends it to the stages without one: a
region such a stage decides "animal" is checked too, inside that stage's meter, and decided
again on what is left of it (:mod:`wildcam.cascade.objects`).

Frames of one motion event are smoothed by :class:`EventSmoother`: an exponential average of
per-frame presence (1 animal, 0 background). An event, and each of its frames, counts as an
animal once the average reaches ``presence_threshold``; with the default weight a lone positive
frame (a gust, a glint) does not, two agreeing frames do.

Most frames of a long event only repeat what its first ones said, so an event *settles* once
``settle_frames`` analysed frames in a row agree with each other and with the smoothed
presence: its later frames are skipped (no model runs) except a re-check every ``recheck_s``
seconds of frame time and, for an event settled on "background", at once when motion shows
up somewhere new (a region centred outside every region the event was checked on: something
entered). A re-check that disagrees un-settles the event. Within an event, a stage-3 "animal"
is trusted for ``stage3_trust_s`` seconds of frame time: a region still unsure below stage 3
in that window counts as an animal without calling stage 3 again.

Each stage call runs inside ``measure(stage_name)`` (a context-manager factory such as
``EnergyMeter.measure``), so callers can meter time and energy per stage.
"""

from __future__ import annotations

import contextlib
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from wildcam.cascade.base import (
    STAGES,
    LabelledBox,
    RegionResult,
    ResultCheck,
    ScoredBox,
    StageModel,
    check_band,
)
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.light import is_night
from wildcam.cascade.views import TileBand, predict_tiled, predict_views, student_tiles
from wildcam.errors import ConfigError, ModelError
from wildcam.types import Box, Image

__all__ = [
    "STAGE_NAMES",
    "Cascade",
    "EventSmoother",
    "EventState",
    "FrameDecision",
    "FrameOutcome",
    "RegionDecision",
    "StageLatency",
    "band_verdict",
    "decides_animal",
]

STAGE_NAMES = {1: "cascade_stage1", 2: "cascade_stage2", 3: "cascade_stage3"}
"""Energy-meter stage name of each cascade stage."""

Measure = Callable[[str], AbstractContextManager[object]]


def _no_measure(_stage: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class RegionDecision:
    """How one region was decided.

    ``stage`` and ``model_id`` name the stage that decided, ``score`` is its score, ``path``
    the score of every stage the region went through (stage -> score). ``capped`` is true when
    the last allowed stage was still unsure and ``decision_threshold`` decided. ``boxes`` are
    the deciding model's boxes for the region (the region itself for a classifier).
    """

    region: Box
    animal: bool
    score: float
    stage: int
    model_id: str
    boxes: tuple[ScoredBox, ...]
    path: Mapping[int, float]
    capped: bool = False
    trusted: bool = False
    """Unsure below stage 3, decided an animal by its event's recent stage-3 animal (stage 3
    was not called)."""
    others: tuple[LabelledBox, ...] = ()
    """People and vehicles the deciding model found in the region (not animals)."""


@dataclass(frozen=True)
class FrameDecision:
    """The cascade's answer for one frame: one decision per region, and the stages it ran."""

    regions: tuple[RegionDecision, ...]
    stages_run: frozenset[int]

    @property
    def animal(self) -> bool:
        """Whether any region holds an animal."""
        return any(r.animal for r in self.regions)

    @property
    def trusted(self) -> bool:
        """Whether a region was decided by its event's stage-3 animal instead of stage 3."""
        return any(r.trusted for r in self.regions)

    @property
    def others(self) -> tuple[LabelledBox, ...]:
        """The people and vehicles found in the frame's regions, each once."""
        return tuple(dict.fromkeys(o for r in self.regions for o in r.others))

    @property
    def highest_stage(self) -> int:
        """The highest stage called for this frame (0 when none ran)."""
        return max(self.stages_run, default=0)

    @property
    def score(self) -> float:
        """The best deciding score among animal regions, else among all regions (0 if none)."""
        pool = [r.score for r in self.regions if r.animal] or [r.score for r in self.regions]
        return max(pool, default=0.0)

    def detections(self) -> list[tuple[ScoredBox, RegionDecision]]:
        """Animal boxes of the frame, best first, each with the region decision it came from.

        A box found for several regions (a full-frame stage 3 box) is listed once.
        """
        seen: dict[Box, tuple[ScoredBox, RegionDecision]] = {}
        for decision in self.regions:
            if not decision.animal:
                continue
            for scored in decision.boxes or (ScoredBox(decision.region, decision.score),):
                if scored.box not in seen or seen[scored.box][0].score < scored.score:
                    seen[scored.box] = (scored, decision)
        return sorted(seen.values(), key=lambda item: -item[0].score)


@dataclass
class EventState:
    """Smoothing and settling state of one motion event.

    ``frames`` counts every frame of the event, ``skipped`` those not analysed because the
    event was settled; ``animal_frames`` the analysed frames decided "animal".
    """

    event_id: int
    frames: int = 0
    animal_frames: int = 0
    presence: float = 0.0
    animal: bool = False
    """Whether the smoothed presence reached the threshold at some frame (the event's verdict)."""
    skipped: int = 0
    streak: int = 0
    """Analysed frames in a row (up to the last) with the last one's decision."""
    last_animal: bool = False
    settled: bool | None = None
    """The decision the event settled on (True animal, False background); None: deciding."""
    checked_s: float | None = None
    """Frame time of the last analysed frame of the settled event."""
    checked_rois: tuple[Box, ...] = ()
    """Motion regions of the analysed frames that settled the event, and of its re-checks."""
    stage3_animal_s: float | None = None
    """Frame time of the event's last frame where stage 3 itself decided an animal."""


@dataclass(frozen=True)
class FrameOutcome:
    """A frame's decision together with its event's smoothed state.

    ``publish`` is what the node acts on: the frame itself holds an animal and its event's
    smoothed presence is at or above the threshold. ``ended`` carries the event's final state
    when this frame closed it. ``skipped``: the event was settled and the frame not analysed
    (``decision`` is empty); ``recheck``: the event was settled and this frame re-checked it.
    """

    decision: FrameDecision
    event: EventState | None
    publish: bool
    ended: EventState | None = None
    skipped: bool = False
    recheck: bool = False

    def counters(self) -> list[str]:
        """The diagnostics counters this frame adds one to."""
        if self.skipped:
            return ["frames_skipped"]
        decision = self.decision
        flags = {
            "frames_analysed": True,
            "frames_rechecked": self.recheck,
            "frames_stage3_trusted": decision.trusted,
            "frames_animal": self.publish,
            "frames_suppressed": decision.animal and not self.publish,
            "frames_background": not decision.animal,
        }
        return [
            *(name for name, on in flags.items() if on),
            *(f"stage{stage}_frames" for stage in sorted(decision.stages_run)),
        ]


NOT_ANALYSED = FrameDecision((), frozenset())
"""The decision of a skipped frame: no region, no stage."""

MAX_CHECKED_ROIS = 32
"""Motion regions a settled event remembers having checked (the newest)."""


def _novel(region: Box, checked: Sequence[Box]) -> bool:
    """Whether ``region`` is centred outside every ``checked`` region."""
    return not any(b.holds_centre_of(region) for b in checked)


@dataclass
class EventSmoother:
    """Exponential average of per-frame presence per motion event, and its settling.

    ``presence <- (1 - alpha) * presence + alpha * frame_presence``, starting from 0 for a new
    event. At most ``max_events`` open events are tracked; the oldest is forgotten first (its
    end message was lost).

    With ``settle_frames`` > 0 an event settles once that many analysed frames in a row agree
    with each other and with the smoothed presence; :meth:`due` then answers False except every
    ``recheck_s`` seconds of frame time (never when 0 or without frame times) and, for an event
    settled on background, for a frame with motion somewhere new. A re-check that disagrees
    un-settles the event.
    """

    alpha: float = 0.4
    threshold: float = 0.5
    max_events: int = 64
    settle_frames: int = 0
    recheck_s: float = 0.0
    _events: OrderedDict[int, EventState] = field(default_factory=OrderedDict, init=False)

    def state(self, event_id: int) -> EventState:
        """The state of event ``event_id`` (a new one for an unknown id)."""
        state = self._events.get(event_id)
        if state is None:
            state = self._events[event_id] = EventState(event_id)
            while len(self._events) > self.max_events:
                self._events.popitem(last=False)
        return state

    def due(self, event_id: int, stamp_s: float | None = None, rois: Sequence[Box] = ()) -> bool:
        """Whether a frame of ``event_id`` stamped ``stamp_s``, moving in ``rois``, must be
        analysed."""
        state = self._events.get(event_id)
        if state is None or state.settled is None or self.settle_frames <= 0:
            return True
        if state.settled is False and any(_novel(r, state.checked_rois) for r in rois):
            return True
        if self.recheck_s <= 0 or stamp_s is None or state.checked_s is None:
            return False
        return stamp_s - state.checked_s >= self.recheck_s

    def skip(self, event_id: int) -> EventState:
        """Count a frame of ``event_id`` that was not analysed."""
        state = self.state(event_id)
        state.frames += 1
        state.skipped += 1
        return state

    def update(
        self,
        event_id: int,
        frame_presence: float,
        stamp_s: float | None = None,
        rois: Sequence[Box] = (),
    ) -> EventState:
        """Fold one analysed frame's presence (0..1) into event ``event_id``; return its state."""
        state = self.state(event_id)
        animal = frame_presence >= 0.5
        state.frames += 1
        state.animal_frames += animal
        state.presence = (1.0 - self.alpha) * state.presence + self.alpha * frame_presence
        state.animal = state.animal or state.presence >= self.threshold
        agrees = bool(state.streak) and animal == state.last_animal
        state.streak = state.streak + 1 if agrees else 1
        state.last_animal = animal
        state.checked_rois = ((*state.checked_rois, *rois) if agrees else tuple(rois))[
            -MAX_CHECKED_ROIS:
        ]
        if state.settled is not None and animal != state.settled:
            state.settled = None  # a re-check disagreed
        elif (
            state.settled is None
            and 0 < self.settle_frames <= state.streak
            and animal == (state.presence >= self.threshold)
        ):
            state.settled = animal
        state.checked_s = stamp_s if state.settled is not None else None
        return state

    def end(self, event_id: int) -> EventState | None:
        """Close event ``event_id``; return its final state (None if it had no frame)."""
        return self._events.pop(event_id, None)

    @property
    def open_events(self) -> int:
        """Events with frames and no end yet."""
        return len(self._events)


class Cascade:
    """Runs the enabled stage models on a frame's regions; smooths decisions per event.

        ``models`` maps stage number to model (a missing stage is disabled). ``config`` supplies
        ``max_stage``, ``decision_threshold``, ``stage3_input``, the stage-3 views
    (``stage3_flip``, ``stage3_tiles``: :mod:`wildcam.cascade.views`) and the smoothing settings;
        :meth:`configure` applies a new one live.
    """

    def __init__(
        self,
        models: Mapping[int, StageModel],
        config: CascadeConfig | None = None,
        measure: Measure | None = None,
        check: ResultCheck | None = None,
    ) -> None:
        self.check = check
        """The people-and-vehicles check lent to the stages without one (None: the one a
        stage model carries, if any)."""
        self._models: dict[int, StageModel] = {}
        for stage, model in models.items():
            self.set_model(stage, model)
        self.config = config or CascadeConfig()
        self.measure: Measure = measure or _no_measure
        self.smoother = EventSmoother()
        self.configure(self.config)

    def configure(self, config: CascadeConfig) -> None:
        """Apply new settings; open events keep their smoothed presence and settling."""
        self.config = config
        self.smoother.alpha = config.smoothing_alpha
        self.smoother.threshold = config.presence_threshold
        self.smoother.settle_frames = config.settle_frames
        self.smoother.recheck_s = config.recheck_s

    @property
    def models(self) -> Mapping[int, StageModel]:
        """The loaded model of each enabled stage."""
        return dict(self._models)

    def set_model(self, stage: int, model: StageModel | None) -> None:
        """Serve ``model`` at ``stage`` from the next frame on (``None`` disables the stage)."""
        if stage not in STAGES:
            raise ConfigError(f"stage must be one of {STAGES}, got {stage}")
        if model is None:
            self._models.pop(stage, None)
            return
        if model.stage != stage:
            raise ModelError(
                f"model {model.model_id!r} is a stage {model.stage} model, not stage {stage}"
            )
        check_band(model.c_low, model.c_high)
        self._models[stage] = model

    def allowed_stages(self) -> list[int]:
        """Enabled stages at or below ``max_stage``, cheapest first."""
        return sorted(s for s in self._models if s <= self.config.max_stage)

    def run(
        self, image: Image, rois: Sequence[Box] = (), trust_animal: bool = False
    ) -> FrameDecision:
        """Decide every region of ``image`` (the whole frame when ``rois`` is empty).

        With ``trust_animal`` a region still unsure when stage 3 is next is decided an animal
        by the last stage that scored it (``trusted``) and stage 3 is not called for it.
        Raises :class:`ConfigError` when no stage is enabled at or below ``max_stage`` and
        :class:`ModelError` when a model fails.
        """
        stages = self.allowed_stages()
        if not stages:
            raise ConfigError(
                f"no stage model enabled at or below max_stage={self.config.max_stage}"
            )
        height, width = image.shape[:2]
        regions = [r for r in (Box(*b).clipped(width, height) for b in rois) if r.area > 0]
        regions = regions or [Box(0, 0, width, height)]
        paths: list[dict[int, float]] = [{} for _ in regions]
        decided: dict[int, RegionDecision] = {}
        pending = list(range(len(regions)))
        ran: set[int] = set()
        scored: dict[int, tuple[StageModel, RegionResult]] = {}
        night: bool | None = None  # looked at once, when a model has a night band
        check = self.check or next(
            (m for m in self._models.values() if isinstance(m, ResultCheck)), None
        )
        for position, stage in enumerate(stages):
            if stage == 3 and trust_animal:
                for index in [i for i in pending if i in scored]:
                    previous, result = scored[index]
                    decided[index] = RegionDecision(
                        region=regions[index],
                        animal=True,
                        score=result.score,
                        stage=previous.stage,
                        model_id=previous.model_id,
                        boxes=result.boxes,
                        path=paths[index],
                        trusted=True,
                    )
                pending = [i for i in pending if i not in decided]
            if not pending:
                break
            model = self._models[stage]
            c_high = model.c_high
            c_high_night: float | None = getattr(model, "c_high_night", None)
            if c_high_night is not None:
                night = is_night(image) if night is None else night
                c_high = c_high_night if night else c_high
            c_low, c_high = self.config.band(stage, model.c_low, c_high)
            tiles = student_tiles(model, self.config.student_tiles)
            tiled = [
                tiles is not None and tiles.applies(regions[i], width, height) for i in pending
            ]
            asked = [regions[i] for i in pending]
            lend = check if not isinstance(model, ResultCheck) else None
            last = position == len(stages) - 1
            decision = self.config.decision_threshold
            still = []
            with self.measure(STAGE_NAMES[stage]):
                results, best_tiles = self._predict(stage, model, image, asked, tiles, tiled)
                for index, result, tile in zip(pending, results, best_tiles, strict=True):
                    if tiles is not None and tile is not None:
                        verdict = tiles.verdict(result.score, tile.score, c_low, c_high)
                        result = max(result, tile, key=lambda r: r.score)  # the best view
                    else:
                        verdict = band_verdict(result.score, c_low, c_high)
                    if verdict and not result.sure_of(c_high):
                        verdict = None  # sure only of an object too small to see at this input
                    animal = verdict or (verdict is None and last and result.score >= decision)
                    if animal and lend is not None:  # a student's animal: a person, a vehicle?
                        checked = lend.check_result(image, result, result.score)
                        if checked.score < result.score:  # it was one
                            verdict = band_verdict(checked.score, c_low, c_high)
                        result = checked
                    capped = verdict is None and last
                    if capped:  # nowhere left to escalate
                        verdict = result.score >= decision
                    paths[index][stage] = result.score
                    scored[index] = (model, result)
                    if verdict is None:
                        still.append(index)
                        continue
                    decided[index] = RegionDecision(
                        region=regions[index],
                        animal=verdict,
                        score=result.score,
                        stage=stage,
                        model_id=model.model_id,
                        boxes=result.boxes,
                        path=paths[index],
                        capped=capped,
                        others=result.others,
                    )
            ran.add(stage)
            pending = still
        return FrameDecision(tuple(decided[i] for i in range(len(regions))), frozenset(ran))

    def skip(
        self,
        rois: Sequence[Box],
        event_id: int,
        event_ended: bool = False,
        stamp_s: float | None = None,
    ) -> FrameOutcome | None:
        """The outcome of a frame that need not be analysed (its event is settled and no
        re-check is due), counted as skipped; None when the frame must be analysed.

        Callers holding an undecoded frame ask this first; :meth:`process` asks it too.
        """
        if event_id == 0 or self.smoother.due(event_id, stamp_s, rois):
            return None
        state = self.smoother.skip(event_id)
        ended = self.smoother.end(event_id) if event_ended else None
        return FrameOutcome(NOT_ANALYSED, state, False, ended, skipped=True)

    def process(
        self,
        image: Image,
        rois: Sequence[Box],
        event_id: int = 0,
        event_ended: bool = False,
        stamp_s: float | None = None,
    ) -> FrameOutcome:
        """:meth:`run` one frame of motion event ``event_id`` and smooth it over the event.

        ``event_id`` 0 means no event: the frame decides alone. ``stamp_s`` is the frame's
        time (seconds, any origin); without it a settled event is never re-checked and
        stage-3 animals are not trusted.
        """
        if event_id == 0:
            decision = self.run(image, rois)
            return FrameOutcome(decision, None, decision.animal)
        skipped = self.skip(rois, event_id, event_ended, stamp_s)
        if skipped is not None:
            return skipped
        state = self.smoother.state(event_id)
        recheck = state.settled is not None and self.smoother.settle_frames > 0
        decision = self.run(image, rois, self._trusts(state, stamp_s))
        if any(r.animal and r.stage == 3 for r in decision.regions):
            state.stage3_animal_s = stamp_s
        self.smoother.update(event_id, 1.0 if decision.animal else 0.0, stamp_s, rois)
        publish = decision.animal and state.presence >= self.smoother.threshold
        ended = self.smoother.end(event_id) if event_ended else None
        return FrameOutcome(decision, state, publish, ended, recheck=recheck)

    def _trusts(self, state: EventState, stamp_s: float | None) -> bool:
        """Whether ``state``'s event saw stage 3 decide an animal within ``stage3_trust_s``."""
        confirmed = state.stage3_animal_s
        return (
            stamp_s is not None
            and confirmed is not None
            and 0.0 <= stamp_s - confirmed < self.config.stage3_trust_s
        )

    def end_event(self, event_id: int) -> EventState | None:
        """Close an event whose last frame was not analysed; its final state, if it had frames."""
        return self.smoother.end(event_id)

    def _predict(
        self,
        stage: int,
        model: StageModel,
        image: Image,
        regions: list[Box],
        tiles: TileBand | None,
        tiled: list[bool],
    ) -> tuple[list[RegionResult], list[RegionResult | None]]:
        """``model``'s results for ``regions``, and for those ``tiled`` the best tile's."""
        whole = Box(0, 0, int(image.shape[1]), int(image.shape[0]))
        full_frame = stage == 3 and self.config.stage3_input == "frame" and regions != [whole]
        asked = [whole] if full_frame else regions
        if stage == 3:
            results = predict_views(
                model, image, asked, self.config.stage3_flip, self.config.stage3_tiles
            )
        elif tiles is not None and any(tiled):
            plain = [r for r, t in zip(asked, tiled, strict=True) if not t]
            answers = iter(model.predict(image, plain) if plain else [])
            pairs = [
                predict_tiled(model, image, r, tiles) if t else (next(answers), None)
                for r, t in zip(asked, tiled, strict=True)
            ]
            return [p[0] for p in pairs], [p[1] for p in pairs]
        else:
            results = model.predict(image, asked)
        if len(results) != (1 if full_frame else len(regions)):
            raise ModelError(
                f"model {model.model_id!r} answered {len(results)} results for "
                f"{1 if full_frame else len(regions)} regions"
            )
        if full_frame:
            results = [_match(results[0], region) for region in regions]
        return results, [None] * len(results)


class StageLatency:
    """Mean wall time per call of each stage, for the diagnostics."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def add(self, stage: str, seconds: float) -> float:
        """One call of ``stage`` took ``seconds``: the stage's mean in milliseconds."""
        self.calls[stage] += 1
        self.seconds[stage] += seconds
        return 1000 * self.seconds[stage] / self.calls[stage]


def _match(frame_result: RegionResult, region: Box) -> RegionResult:
    """A full-frame detector result seen from one region: the boxes (animals, people and
    vehicles) that overlap it."""
    others = tuple(o for o in frame_result.others if o.box.intersection(region) > 0)
    if not frame_result.boxes:  # a classifier, or only people: the frame score is all there is
        return RegionResult(region, frame_result.score, (), others)
    boxes = tuple(b for b in frame_result.boxes if b.box.intersection(region) > 0)
    return RegionResult(region, max((b.score for b in boxes), default=0.0), boxes, others)


def band_verdict(score: float, c_low: float, c_high: float) -> bool | None:
    """A stage's verdict from its band: animal at or above ``c_high``, background below
    ``c_low``, ``None`` (unsure) in between."""
    return None if c_low <= score < c_high else score >= c_high


def decides_animal(score: float, c_low: float, c_high: float, threshold: float) -> bool:
    """The last allowed stage's verdict: :func:`band_verdict`, and where that is unsure
    (nowhere left to escalate) ``threshold`` decides."""
    verdict = band_verdict(score, c_low, c_high)
    return score >= threshold if verdict is None else verdict
