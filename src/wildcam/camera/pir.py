"""A passive-infrared (PIR) sensor watching the synthetic scene: which visits it notices, when its
output goes high and low, and why it misses the others. Seeded; pure.

A PIR sees a moving body warmer (or colder) than the background across its zones. The model:

* **range**: an animal farther than the detection range is out of reach. The scene has no
  distances, so the sprite's height (a fraction of the frame) stands for it: below
  ``min_size`` the animal is too far (a small animal close by is small too: it has little
  radiating surface, the same effect);
* **heat contrast**: ``SPECIES_HEAT`` (body against background at night) times a daytime loss
  (sun-warmed ground approaches body temperature: ``1 - day_loss * daylight``); below
  ``min_contrast`` it is missed;
* **probability**: a visit in range with enough contrast is noticed with ``probability``
  (seeded per visit).

The output is high from ``latency_s`` after the animal is first in view until it leaves.
ASSUMPTION (all constants): a lens of ~10-12 m range and ~0.3 s response is the usual
datasheet figure of trail-camera PIRs (HC-SR501 class: up to 7 m, 0.3-5 s); the species heat
factors and the daytime loss are illustrative. Measure on the trap: log the PIR line next to
the camera's frames and count the visits it misses by species and hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wildcam.camera.scene import Interval, SceneConfig, daylight

__all__ = ["SPECIES_HEAT", "PirModel", "PirOutcome", "pir_outcomes"]

SPECIES_HEAT = {"deer": 1.0, "fox": 0.8, "bird": 0.25}
"""Heat contrast of each sprite kind against a night background (ASSUMPTION: a large mammal 1,
a fox's thick fur less, a small bird's insulated body little)."""


@dataclass(frozen=True)
class PirModel:
    """The PIR's settings (see the module docstring for what each stands for)."""

    min_size: float = 0.1
    min_contrast: float = 0.3
    day_loss: float = 0.5
    probability: float = 0.9
    latency_s: float = 0.3


@dataclass(frozen=True)
class PirOutcome:
    """One visit as the PIR saw it: ``on_s``/``off_s`` when noticed, else why it was missed."""

    visit: int
    species: str
    noticed: bool
    on_s: float
    off_s: float
    contrast: float
    reason: str


def pir_outcomes(
    scene: SceneConfig, spans: Sequence[Interval | None], model: PirModel = PirModel()
) -> tuple[PirOutcome, ...]:
    """The PIR's view of each visit of ``scene``; ``spans[k]`` is when visit ``k`` is in view
    (the ground truth's event; None: never in view)."""
    rng = np.random.default_rng([scene.seed, 11])
    out = []
    for k, (visit, span) in enumerate(zip(scene.visits, spans, strict=True)):
        draw = float(rng.random())  # one draw per visit, used or not: seeds stay aligned
        start = span.start_s if span is not None else visit.start_s
        light = (
            daylight(scene.day_start + start / scene.day_length_s) if scene.day_length_s else 0.0
        )
        contrast = SPECIES_HEAT.get(visit.species, 1.0) * (1.0 - model.day_loss * light)
        if span is None:
            reason = "never in view"
        elif visit.size < model.min_size:
            reason = f"out of range (size {visit.size:.2f} < {model.min_size:.2f})"
        elif contrast < model.min_contrast:
            reason = f"low heat contrast ({contrast:.2f} < {model.min_contrast:.2f})"
        elif draw >= model.probability:
            reason = f"not noticed (detection probability {model.probability:.2f})"
        else:
            reason = ""
        on = start + model.latency_s
        off = span.end_s if span is not None else visit.end_s
        out.append(
            PirOutcome(
                k, visit.species, not reason and on < off, on, off, contrast, reason or "noticed"
            )
        )
    return tuple(out)
