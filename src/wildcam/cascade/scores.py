"""Score calibration arithmetic: Platt scaling, expected calibration error, confidence bands.

Pure numpy. A model's raw score ``s`` becomes ``sigmoid(a * logit(s) + b)``: ``1 / a`` is the
temperature of temperature scaling and ``b`` moves the point where the score means 50 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildcam.cascade.splits import stable_bucket

__all__ = [
    "PlattCheck",
    "bands",
    "cross_validated_platt",
    "expected_calibration_error",
    "fit_platt",
    "logit",
    "map_band",
    "platt",
]

Floats = npt.NDArray[np.float64]
EPS = 1e-6


def logit(p: npt.ArrayLike) -> Floats:
    """``log(p / (1 - p))`` with ``p`` kept inside ``[EPS, 1 - EPS]``."""
    q = np.clip(np.asarray(p, np.float64), EPS, 1.0 - EPS)
    return np.log(q / (1.0 - q))


def platt(scores: npt.ArrayLike, a: float, b: float) -> Floats:
    """``sigmoid(a * logit(scores) + b)``; the scores unchanged for ``(1, 0)``."""
    s = np.asarray(scores, np.float64)
    if (a, b) == (1.0, 0.0):
        return s
    return 1.0 / (1.0 + np.exp(-np.clip(a * logit(s) + b, -60.0, 60.0)))


def _weights(truth: Floats, balanced: bool) -> Floats:
    pos = float(truth.sum())
    if not balanced:
        return np.full(truth.size, 1.0 / truth.size)
    return np.where(truth > 0, 0.5 / max(pos, 1.0), 0.5 / max(truth.size - pos, 1.0))


def fit_platt(
    scores: npt.ArrayLike,
    truth: npt.ArrayLike,
    balanced: bool = True,
    l2: float = 1e-2,
    steps: int = 100,
) -> tuple[float, float]:
    """``(a, b)`` minimising the (class-balanced) log loss of :func:`platt` on the samples.

    Damped Newton steps on the two parameters with a small L2 pull towards ``(1, 0)`` (the raw
    score), so a tiny or separable set gives finite values. ``balanced`` weighs both classes
    equally: the calibrated score is then the probability for a 50 % prior of an animal.
    """
    x = logit(scores)
    y = np.asarray(truth, np.float64)
    if x.shape != y.shape or x.size == 0:
        raise ValueError("scores and truth must be non-empty and of one length")
    if float(y.sum()) in (0.0, float(y.size)):
        raise ValueError("calibration needs samples of both classes")
    w = _weights(y, balanced)
    features = np.stack([x, np.ones_like(x)], axis=1)
    prior = np.array([1.0, 0.0])

    def loss(theta: Floats) -> float:
        z = features @ theta
        return float(w @ (np.logaddexp(0.0, z) - y * z)) + l2 / 2 * float(
            np.sum((theta - prior) ** 2)
        )

    theta = prior.copy()
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(features @ theta, -60.0, 60.0)))
        grad = features.T @ (w * (p - y)) + l2 * (theta - prior)
        hess = (features * (w * p * (1 - p))[:, None]).T @ features + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale, before = 1.0, loss(theta)
        while loss(theta - scale * step) > before and scale > 1e-4:
            scale /= 2
        theta = theta - scale * step
        if float(np.abs(scale * step).max()) < 1e-9:
            break
    return float(theta[0]), float(theta[1])


def expected_calibration_error(
    probs: npt.ArrayLike, truth: npt.ArrayLike, bins: int = 10, balanced: bool = True
) -> float:
    """ECE: the weighted mean, over ``bins`` equal-width bins of the score, of
    ``|share of animals - mean score|`` (Guo et al. 2017, "On Calibration of Modern Neural
    Networks"). ``balanced`` weighs both classes equally (the 50 % prior the calibration
    targets); otherwise every sample counts once."""
    p = np.asarray(probs, np.float64)
    y = np.asarray(truth, np.float64)
    if p.size == 0:
        return float("nan")
    w = _weights(y, balanced)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for k in range(bins):
        inside = index == k
        if inside.any():
            mass = float(w[inside].sum())
            share = float(w[inside] @ y[inside]) / mass
            total += mass * abs(share - float(w[inside] @ p[inside]) / mass)
    return total / float(w.sum())


def bands(
    scores: npt.ArrayLike,
    truth: npt.ArrayLike,
    miss: float = 0.03,
    precision: float = 0.95,
    support: int = 20,
) -> tuple[float, float]:
    """The confidence band ``[c_low, c_high)`` from scores and truth not trained on.

    ``c_low``: at most ``miss`` of the animals score below it. ``c_high``: the lowest threshold
    from which up at least ``precision`` of the (at least ``support``) samples are animals; 1.0
    (never confident) if there is none.
    """
    s = np.asarray(scores, np.float64)
    t = np.asarray(truth, bool)
    pos = np.sort(s[t])
    c_low = float(pos[int(np.floor(miss * len(pos)))]) if len(pos) else 0.5
    order = np.argsort(-s, kind="stable")
    hits = np.cumsum(t[order])
    count = np.arange(1, len(order) + 1)
    ok = (count >= support) & (hits >= precision * count)
    c_high = round(float(s[order][np.flatnonzero(ok)[-1]]), 3) if ok.any() else 1.0
    return min(round(c_low, 3), c_high), c_high


def map_band(values: Sequence[float], a: float, b: float) -> list[float]:
    """Band edges mapped through :func:`platt` (monotone, so a score's side of each edge is
    unchanged); 0.0 and 1.0 (never / always unsure) stay as they are. Not rounded: a rounded
    edge could move a score to its other side."""
    return [float(platt([v], a, b)[0]) if 0.0 < v < 1.0 else float(v) for v in values]


@dataclass(frozen=True)
class PlattCheck:
    """A Platt scaling fitted on all samples, and whether it generalised: ``ece_raw`` is the
    raw scores' ECE, ``ece_fitted`` that of the out-of-fold scaled scores (each fold scaled by
    the fit on the other folds); ``kept`` when it is lower (and the slope positive)."""

    a: float
    b: float
    ece_raw: float
    ece_fitted: float
    folds: int

    @property
    def kept(self) -> bool:
        return self.a > 0.0 and self.ece_fitted < self.ece_raw

    @property
    def scaling(self) -> tuple[float, float]:
        """``(a, b)`` when kept, else the identity ``(1, 0)``."""
        return (self.a, self.b) if self.kept else (1.0, 0.0)


def cross_validated_platt(
    scores: npt.ArrayLike, truth: npt.ArrayLike, groups: Sequence[str], folds: int = 5
) -> PlattCheck:
    """Platt scaling of ``scores`` checked by ``folds``-fold cross-validation over ``groups``
    (samples of one group, e.g. the crops of one frame or clip, stay in one fold, by a stable
    hash). Both ECEs weigh the classes equally. A fold whose training part lacks a class is
    left unscaled."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(truth, bool)
    fold = np.asarray([stable_bucket(g, folds) for g in groups])
    if fold.shape != s.shape:
        raise ValueError("scores and groups must be of one length")
    out_of_fold = s.copy()
    for k in range(folds):
        held = fold == k
        rest = ~held
        if held.any() and 0 < int(y[rest].sum()) < int(rest.sum()):
            out_of_fold[held] = platt(s[held], *fit_platt(s[rest], y[rest]))
    a, b = fit_platt(s, y)
    return PlattCheck(
        a=a,
        b=b,
        ece_raw=expected_calibration_error(s, y),
        ece_fitted=expected_calibration_error(out_of_fold, y),
        folds=folds,
    )
