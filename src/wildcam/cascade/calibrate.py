"""Calibrate the large model's scores on real frames: Platt scaling, its band mapped along.

    python -m wildcam.cascade.calibrate --data ../shared/data --manifest models/manifest.json

The large model's raw score on each real camera-trap frame (the whole frame as the region, as
``wildcam eval`` and ``bench/cascade.py`` see a still) is fitted with Platt scaling (a
temperature and a bias on the logit, :func:`wildcam.cascade.scores.fit_platt`), both classes
weighted equally, and kept only where it generalises (below): a calibrated score of 0.7 means
70 % for a 50 % prior of an animal. Its threshold from ``make models`` (kept as ``build_band``)
is mapped through the same monotone scaling, so the cascade decides exactly as before and only
the score changes meaning. (A threshold chosen afresh on the calibrated frames, and student
bands chosen on the 26 whole ``calib`` frames, were tried: with 12 camera-trap animals there a
3 %-miss ``c_low`` is one frame's score, and they lost recall.) The result goes into the
manifest (``calibration``, ``c_low``, ``c_high``); the model files are not touched.

Frames: the large model was trained elsewhere (MegaDetector-Lite), so the camera-trap frames of
the ``train`` groups fit its scaling and those of the ``calib`` groups decide whether it is kept
(it must lower their ECE); the ``test`` groups (:mod:`wildcam.cascade.splits`) never do. See
:data:`FIT_ROLE` for the coarse look and the students.

Night band of the students (:func:`has_night_band`): on infrared frames the large model
misses animals the students find (MegaDetector's own documentation: small models lose most at
night), so each student gets a ``c_high_night`` from the whole infrared frames of the ``train``
and ``calib`` groups, by the same rule as its band (:func:`wildcam.cascade.scores.bands`: from it
up at least 95 % are animals), with :data:`NIGHT_SUPPORT` frames at least (there are only about 30
such frames). The runner uses it on infrared frames, grey or tinted but one colour all over
(:func:`wildcam.cascade.light.is_night`).

Students on tiles (:func:`student_tiles`, the cascade's ``student_tiles``): each tile of the
``calib`` frames large enough for a grid of :data:`TILE_LAYOUTS` is labelled by the frame's
boxes (:func:`frame_boxes`: the known truth boxes, else the teacher's;
:func:`wildcam.cascade.views.tile_label`: animal when it holds at least half of an animal's
box, empty when it touches no box, else left out), so the empty parts of real camera-trap
stills count as the empty views they are. Each student's tile band is chosen by the same rule
on those tiles (with fewer than :data:`TILE_SUPPORT` tiles of either class, no band: ``[0, 1)``,
always unsure); the grid is chosen on the ``train`` and ``calib`` frames (the cascade with it:
the lowest stage-3 share that keeps the recall without tiles); and whether it should be on is
decided on the ``calib`` frames alone (a lower stage-3 share without losing recall). The verdict
goes into the manifest (``student_tiles``); :class:`~wildcam.cascade.config.CascadeConfig`'s
default must follow it.

The students' own score calibration is fitted in ``make models`` (on the ``calib`` crops,
:mod:`wildcam.training.build`); the night and tile bands here are chosen on their raw scores and
mapped through it (:func:`wildcam.cascade.scores.map_band`), so they decide as raw bands would.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wildcam.cascade.base import StageModel
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.evaluate import evaluate, read_image
from wildcam.cascade.light import is_night
from wildcam.cascade.manifest import ANIMAL_DETECTOR, Manifest, ModelEntry
from wildcam.cascade.onnx_models import RuntimeOptions, load_model
from wildcam.cascade.realdata import RealItem, real_items
from wildcam.cascade.scores import (
    bands,
    expected_calibration_error,
    fit_platt,
    map_band,
    platt,
)
from wildcam.cascade.splits import HELD_BACK_SOURCES
from wildcam.cascade.views import TileBand, grid_tiles, tile_label
from wildcam.errors import InputError
from wildcam.types import Box, Image

__all__ = [
    "NIGHT_STAGES",
    "TILE_LAYOUTS",
    "calibrate_manifest",
    "calibrated",
    "card_section",
    "frame_boxes",
    "has_night_band",
    "main",
    "night_band",
    "pick_layout",
    "student_tiles",
    "whole_frame_scores",
    "write_card_section",
]

FIT_ROLE, CHECK_ROLE = "train", "calib"
"""The frames that fit a detector's scaling and those that check it. The models calibrated here
(:func:`calibrated`) are the animal detectors, the large model and the coarse look (stage 2's
default, :mod:`wildcam.training.coarse`), which never trained on these frames. The students'
whole-frame scores carry almost no information on the 26 ``calib`` frames (fitted slopes
0.13-0.17, the medium model's negative): they work on region crops, so they are calibrated in
``make models``, on the ``calib`` groups' crops."""


def calibrated(model: dict[str, Any]) -> bool:
    """Whether the manifest record ``model`` is calibrated here (a detector)."""
    return bool(model["decoding"] == ANIMAL_DETECTOR)


def has_night_band(model: dict[str, Any]) -> bool:
    """Whether the manifest record ``model`` gets a night band here (a student)."""
    return model["stage"] in NIGHT_STAGES and not calibrated(model)


NIGHT_STAGES = {1, 2}
NIGHT_ROLES = ("train", "calib")
NIGHT_SUPPORT = 10
"""The stages whose students are given a night band, the roles whose grey frames choose it, and
the fewest frames at or above it (the build's bands ask 20 crops; the two roles hold 28 grey
frames, 14 animals)."""


def _raw_model(entry: ModelEntry, directory: Path) -> StageModel:
    """``entry``'s model giving raw scores (its calibration left out)."""
    return load_model(
        dataclasses.replace(entry, calibration=(1.0, 0.0)), directory, RuntimeOptions(threads=1)
    )


def _raw_scores(entry: ModelEntry, directory: Path, items: Sequence[RealItem]) -> np.ndarray:
    return whole_frame_scores(_raw_model(entry, directory), items)


def whole_frame_scores(model: StageModel, items: Sequence[RealItem]) -> np.ndarray:
    """``model``'s score of each item's whole frame; :class:`InputError` if one is unreadable."""
    out = []
    for real in items:
        image = read_image(real.item.path)
        if image is None:
            raise InputError(f"calibration frame {real.item.path} is unreadable")
        out.append(model.predict(image, [Box(0, 0, image.shape[1], image.shape[0])])[0].score)
    return np.asarray(out, np.float64)


def calibrate_entry(
    entry: ModelEntry, directory: Path, items: Sequence[RealItem]
) -> dict[str, Any]:
    """The fields ``calibration``, ``c_low`` and ``c_high`` of ``entry``: Platt scaling fitted
    on the ``train`` frames, kept only if it lowers the ECE on the ``calib`` frames it never
    saw (else the raw score stays, ``a`` 1 and ``b`` 0, and the record says why)."""
    fit_on = [i for i in items if i.role == FIT_ROLE]
    check_on = [i for i in items if i.role == CHECK_ROLE]
    fit_truth = np.asarray([i.item.animal for i in fit_on], bool)
    check_truth = np.asarray([i.item.animal for i in check_on], bool)
    fit_raw = _raw_scores(entry, directory, fit_on)
    check_raw = _raw_scores(entry, directory, check_on)
    a, b = fit_platt(fit_raw, fit_truth)
    ece_raw = expected_calibration_error(check_raw, check_truth)
    ece_fitted = expected_calibration_error(platt(check_raw, a, b), check_truth)
    kept = ece_fitted < ece_raw
    if not kept:
        a, b = 1.0, 0.0
    band = entry.info.get("build_band", (entry.c_low, entry.c_high))
    c_low, c_high = (
        round(float(platt([v], a, b)[0]), 4) if 0.0 < v < 1.0 else float(v) for v in band
    )
    return {
        "calibration": {
            "a": round(a, 5),
            "b": round(b, 5),
            "prior": 0.5,
            "fitted_on": _described(FIT_ROLE, fit_truth),
            "checked_on": _described(CHECK_ROLE, check_truth),
            "ece_raw": round(ece_raw, 4),
            "ece_fitted": round(ece_fitted, 4),
            "kept": kept,
        },
        "c_low": c_low,
        "c_high": c_high,
    }


def night_band(entry: ModelEntry, directory: Path, items: Sequence[RealItem]) -> dict[str, Any]:
    """The fields ``c_high_night`` and ``night_band`` of a student's ``entry``: its band's
    ``c_high`` chosen on its raw scores of the infrared (:func:`is_night`) whole frames of the
    :data:`NIGHT_ROLES` groups and mapped through its calibration; never below its ``c_low``."""
    night = [
        i
        for i in items
        if i.role in NIGHT_ROLES
        and (image := read_image(i.item.path)) is not None
        and is_night(image)
    ]
    truth = np.asarray([i.item.animal for i in night], bool)
    _, c_high = bands(_raw_scores(entry, directory, night), truth, support=NIGHT_SUPPORT)
    [c_high] = map_band([c_high], *entry.calibration)
    return {
        "c_high_night": max(c_high, entry.c_low),
        "night_band": {
            "fitted_on": f"{'+'.join(NIGHT_ROLES)} infrared frames: {len(truth)} "
            f"frames, {int(truth.sum())} animals",
            "support": NIGHT_SUPPORT,
        },
    }


TILE_LAYOUTS = ((2, 2), (3, 2), (3, 3))
"""The tile grids (columns x rows) tried for the students on whole frames."""
TILE_SUPPORT = NIGHT_SUPPORT
"""The fewest ``calib`` tiles of each class (animal, empty) a tile band is chosen on, and the
fewest from its ``c_high`` up."""
TEACHER_SEEN = 0.1
"""The teacher's boxes from this raw score up mark a tile as touched (the build's crops take
the teacher's boxes from the same score, ``wildcam.training.build``)."""


def frame_boxes(
    real: RealItem, image: Image, teacher: StageModel, present: float
) -> tuple[list[Box], list[Box]] | None:
    """The animal boxes of a labelled frame and every box marked on it (animals and the
    teacher's weaker boxes): an empty frame has none; a frame with known boxes has those (and
    the teacher's); otherwise the teacher's boxes from its presence threshold ``present`` (raw
    score) are the animals, or its best box from :data:`TEACHER_SEEN` if none reaches it (an
    animal is known to be there, as the build labels crops). ``None`` when an animal frame has
    no box at all (its tiles cannot be labelled)."""
    if not real.item.animal:
        return [], []
    whole = Box(0, 0, image.shape[1], image.shape[0])
    found = teacher.predict(image, [whole])[0].boxes
    seen = [b.box for b in found if b.score >= TEACHER_SEEN]
    if real.item.boxes:
        return list(real.item.boxes), seen
    animals = [b.box for b in found if b.score >= present]
    if not animals and seen:
        animals = [max(found, key=lambda b: b.score).box]  # the best box is at least seen
    return (animals, seen) if animals else None


@dataclasses.dataclass(frozen=True)
class _Labelled:
    """A ``calib`` frame and its boxes (:func:`frame_boxes`)."""

    image: Image
    animals: list[Box]
    seen: list[Box]


def _labelled_frames(manifest: Manifest, items: Sequence[RealItem]) -> list[_Labelled]:
    """The ``calib`` frames whose tiles can be labelled (the teacher: the large fp32 model,
    raw scores, at its build threshold)."""
    entry = manifest.entries.get("large_fp32") or manifest.default_for(3)
    present = float(entry.info.get("build_band", (entry.c_low, entry.c_high))[1])
    teacher = _raw_model(entry, manifest.directory)
    out = []
    for real in items:
        image = read_image(real.item.path) if real.role == "calib" else None
        boxes = None if image is None else frame_boxes(real, image, teacher, present)
        if image is not None and boxes is not None:
            out.append(_Labelled(image, *boxes))
    return out


def tile_band(
    entry: ModelEntry, directory: Path, frames: Sequence[_Labelled], layout: tuple[int, int]
) -> tuple[TileBand, str]:
    """``entry``'s band for ``layout``'s tiles, chosen on its raw scores of the labelled tiles
    of ``frames`` (those whose tiles are at least its input size) and mapped through its
    calibration; and what it was chosen on."""
    model = _raw_model(entry, directory)
    band = TileBand(*layout, 0.0, 1.0, min(entry.input.size))
    scores: list[float] = []
    truth: list[bool] = []
    used = 0
    for frame in frames:
        whole = Box(0, 0, frame.image.shape[1], frame.image.shape[0])
        if not band.applies(whole, whole.w, whole.h):
            continue
        used += 1
        pairs = [(t, tile_label(t, frame.animals, frame.seen)) for t in grid_tiles(whole, *layout)]
        kept = [(t, label) for t, label in pairs if label is not None]
        if kept:
            scores += [r.score for r in model.predict(frame.image, [t for t, _ in kept])]
            truth += [bool(label) for _, label in kept]
    t = np.asarray(truth, bool)
    chosen_on = f"calib: {len(t)} tiles ({int(t.sum())} animal) of {used} frames"
    if min(int(t.sum()), int((~t).sum())) < TILE_SUPPORT:
        return band, chosen_on + f" (fewer than {TILE_SUPPORT} of a class: no band)"
    c_low, c_high = map_band(
        bands(np.asarray(scores), t, support=TILE_SUPPORT), *entry.calibration
    )
    return dataclasses.replace(band, c_low=c_low, c_high=c_high), chosen_on


def _cascade_figures(
    models: dict[int, Any], items: Sequence[RealItem], tiles: bool
) -> dict[str, float]:
    row = evaluate([i.item for i in items], models, CascadeConfig(student_tiles=tiles)).row(
        "cascade"
    )
    return {
        "stage3_share": round(row.fraction_reaching(3), 4),
        "recall": round(row.recall, 4),
        "precision": round(row.precision, 4),
    }


def pick_layout(baseline: dict[str, float], figures: dict[str, dict[str, float]]) -> str:
    """The layout with the lowest stage-3 share among those keeping ``baseline``'s recall;
    if none does, the one with the highest recall (then the lowest share)."""
    keeping = [k for k, f in figures.items() if f["recall"] >= baseline["recall"]]
    if keeping:
        return min(keeping, key=lambda k: figures[k]["stage3_share"])
    return max(figures, key=lambda k: (figures[k]["recall"], -figures[k]["stage3_share"]))


def student_tiles(
    manifest: Manifest, items: Sequence[RealItem], log: Any = print
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each default student's ``tiles`` record, and the verdict (manifest ``student_tiles``)."""
    options = RuntimeOptions(threads=1)
    entries = {s: manifest.default_for(s) for s in (1, 2, 3)}
    students = [s for s in (1, 2) if entries[s].decoding != ANIMAL_DETECTOR]
    frames = _labelled_frames(manifest, items)
    chosen_on: dict[str, dict[int, tuple[TileBand, str]]] = {}
    for cols, rows in TILE_LAYOUTS:
        chosen_on[f"{cols}x{rows}"] = {
            s: tile_band(entries[s], manifest.directory, frames, (cols, rows)) for s in students
        }

    def models(layout: str | None) -> dict[int, Any]:
        return {
            s: load_model(
                dataclasses.replace(
                    e, tiles=chosen_on[layout][s][0] if layout and s in students else None
                ),
                manifest.directory,
                options,
            )
            for s, e in entries.items()
        }

    fit = [i for i in items if i.role in ("train", "calib")]
    check = [i for i in items if i.role == "calib"]
    baseline = _cascade_figures(models(None), fit, False)
    figures = {k: _cascade_figures(models(k), fit, True) for k in chosen_on}
    layout = pick_layout(baseline, figures)
    off, on = (_cascade_figures(models(layout), check, t) for t in (False, True))
    verdict = {
        "layout": layout,
        "train_calib": {"off": baseline, **figures},
        "calib": {"off": off, "on": on},
        "on": on["stage3_share"] < off["stage3_share"] and on["recall"] >= off["recall"],
    }
    log(f"student tiles: {verdict}")
    records = {
        entries[s].model_id: {
            "layout": [band.cols, band.rows],
            "c_low": band.c_low,
            "c_high": band.c_high,
            "chosen_on": text,
        }
        for s, (band, text) in chosen_on[layout].items()
    }
    return records, verdict


def _described(role: str, truth: np.ndarray) -> str:
    return f"{role}: {len(truth)} frames, {int(truth.sum())} animals"


CARD_START, CARD_END = "<!-- calibration:start -->", "<!-- calibration:end -->"


def card_section(record: dict[str, Any], held_back: Sequence[str]) -> str:
    """The model card's section on the real-frame calibration and the held-back split."""
    lines = [
        CARD_START,
        "## Calibration on real frames",
        "",
        (
            "Written by `python -m wildcam.cascade.calibrate` (the last step of "
            "`make models`). The detectors' (the large model's and the coarse look's) raw "
            "score on whole real camera-trap frames they never trained on is Platt-scaled, "
            "`p = sigmoid(a * logit(raw) + b)` (temperature "
            "`1/a`), both classes weighted equally, so `p` is the probability of an animal for "
            "a 50 % prior. The scaling is fitted on the `train` split's frames and kept only if "
            "it lowers the ECE (expected calibration error, 10 bins, classes weighted equally) "
            "on the `calib` split's frames, which it never saw; otherwise the raw score stays "
            "(a = 1, b = 0). The band chosen on raw scores (the large model's threshold, the "
            "teacher's presence threshold; the coarse look's band, see its section) is "
            "mapped through the same monotone scaling, so the model decides as before; only its "
            "score now reads as a probability. Nothing is fitted on the held-back `test` split. "
            "The students are calibrated in `make models` on the `calib` groups' crops (see "
            '"Score calibration of the students" above; on whole frames their scores carry '
            "too little information to fit); their night and tile bands below are chosen on "
            "their raw scores and mapped through that scaling, so they decide as raw bands "
            "would."
        ),
        "",
        "| id | fitted on | checked on | a | b | ECE on the check, raw -> fitted | kept | band |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in record["models"]:
        if not calibrated(model):
            continue
        c = model["calibration"]
        lines.append(
            f"| `{model['id']}` | {c['fitted_on']} | {c['checked_on']} | {c['a']} | {c['b']} | "
            f"{c['ece_raw']} -> {c['ece_fitted']} | {'yes' if c['kept'] else 'no'} | "
            f"[{model['c_low']}, {model['c_high']}) |"
        )
    lines += [
        "",
        (
            "Night band of the students: on infrared frames the large model misses "
            "animals the students find, so each student's `c_high` on infrared frames "
            "(`c_high_night`, used by the runner when the frame is one colour all over: grey, or "
            "an infrared camera's tint) is chosen by the same "
            "rule as its band (from it up at least 95 % are animals, at least "
            f"{NIGHT_SUPPORT} frames; raw scores, mapped) on the whole infrared frames of the "
            f"{' and '.join(f'`{r}`' for r in NIGHT_ROLES)} splits. These are few (most empty "
            "ones are from a road seen from above by day, grey asphalt that is one colour all "
            "over), so the band is a coarse estimate."
        ),
        "",
        "| id | chosen on | band by day | `c_high_night` |",
        "|---|---|---|---|",
    ]
    for model in record["models"]:
        if has_night_band(model) and "night_band" in model:
            lines.append(
                f"| `{model['id']}` | {model['night_band']['fitted_on']} | "
                f"[{round(model['c_low'], 4)}, {round(model['c_high'], 4)}) | "
                f"{round(model['c_high_night'], 4)} |"
            )
    lines += _tiles_lines(record)
    lines += [
        "",
        f"Held back (`test` split, {len(held_back)} files or clips, never trained or "
        "tuned on; `wildcam.cascade.splits`): " + ", ".join(f"`{g}`" for g in held_back) + ".",
        CARD_END,
    ]
    return "\n".join(lines) + "\n"


def _tiles_lines(record: dict[str, Any]) -> list[str]:
    verdict = record.get("student_tiles")
    if verdict is None:
        return []
    lines = [
        "",
        (
            "Students on tiles (the cascade's `student_tiles`): on a whole frame whose tiles "
            "are at least a student's input size, the student scores the frame and a grid of "
            "overlapping tiles; the frame counts against its own band (on grey frames its "
            "night band), the best tile against a tile band: animal if the frame or a tile is "
            "confidently an animal, background if the frame and every tile are confidently "
            "background, else escalate. The tile band is chosen on labelled tiles of the "
            "`calib` frames: a tile is an animal when it holds at least half of an animal's "
            "box (the truth boxes where the data has them, else the teacher's, large fp32, "
            f"from its threshold), empty when it touches no box (teacher boxes from "
            f"{TEACHER_SEEN} included), else left out; the empty parts of the camera-trap "
            "stills are real empty camera-trap views. Same rule as above (below `c_low` at "
            "most 3 % of the animal tiles, from `c_high` up at least 95 % animals, at least "
            f"{TILE_SUPPORT} tiles of each class and above `c_high`; raw scores, mapped "
            "through the student's calibration). The grid is chosen on the `train` and `calib` "
            "frames (the lowest stage-3 share that keeps the recall without tiles); whether it "
            "is on by default, on the `calib` frames alone (lower stage-3 share, no recall "
            "lost). Cascade figures (every frame one still):"
        ),
        "",
        "| frames | tiles | stage-3 share | recall | precision |",
        "|---|---|---|---|---|",
    ]
    for frames, figures in (
        ("train + calib", verdict["train_calib"]),
        ("calib", {"off": verdict["calib"]["off"], verdict["layout"]: verdict["calib"]["on"]}),
    ):
        lines += [
            f"| {frames} | {name} | {f['stage3_share']} | {f['recall']} | {f['precision']} |"
            for name, f in figures.items()
        ]
    lines += [
        "",
        f"Grid chosen: {verdict['layout']}; on by default: {'yes' if verdict['on'] else 'no'}.",
        "",
        "| id | grid | tile band | chosen on |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{m['id']}` | {m['tiles']['layout'][0]}x{m['tiles']['layout'][1]} | "
        f"[{round(m['tiles']['c_low'], 4)}, {round(m['tiles']['c_high'], 4)}) | "
        f"{m['tiles']['chosen_on']} |"
        for m in record["models"]
        if "tiles" in m
    ]
    return lines


def write_card_section(card: Path, section: str) -> None:
    """Put ``section`` into the model card, replacing an earlier one: its first and last lines
    are its markers (HTML comments)."""
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    lines = section.rstrip("\n").splitlines()
    start, end = lines[0], lines[-1]
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    card.write_text(text, encoding="utf-8")


def calibrate_manifest(path: Path, data: Path, log: Any = print) -> dict[str, Any]:
    """Fit every model of the manifest at ``path`` on the real frames; rewrite the manifest
    and the calibration section of the model card (``README.md`` beside it)."""
    manifest = Manifest.load(path)
    record = json.loads(path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        items = real_items(data, Path(tmp))
        for model in record["models"]:
            if has_night_band(model):
                fields = night_band(manifest.entry(model["id"]), manifest.directory, items)
                model.update(fields)
                log(f"{model['id']}: {fields}")
            if not calibrated(model):
                continue
            fields = calibrate_entry(manifest.entry(model["id"]), manifest.directory, items)
            # the band make models chose on training crops, kept for comparison (bench)
            model.setdefault("build_band", [model["c_low"], model["c_high"]])
            model.update(fields)
            log(f"{model['id']}: {fields}")
        path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        # the students' tiles, with the bands and calibration just written
        tiles, record["student_tiles"] = student_tiles(Manifest.load(path), items, log)
        for model in record["models"]:
            model.pop("tiles", None)
            if model["id"] in tiles:
                model["tiles"] = tiles[model["id"]]
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    Manifest.load(path)  # the file just written parses
    held_back = [f"{source}*" for source in HELD_BACK_SOURCES] + sorted(
        {i.group for i in items if i.role == "test" and not i.group.startswith(HELD_BACK_SOURCES)}
    )
    write_card_section(path.parent / "README.md", card_section(record, held_back))
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the real-data folder")
    parser.add_argument("--manifest", type=Path, required=True)
    args = parser.parse_args(argv)
    if not (args.data / "camera_traps").is_dir():
        raise SystemExit(f"{args.data} holds no camera_traps/ folder")
    calibrate_manifest(args.manifest, args.data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
