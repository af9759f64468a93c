"""``make models``: teacher, students, int8, pruning, manifest and model card, in one seeded run.

    python -m wildcam.training.build --data ../shared/data --wheel build/zamba/zamba-2.7.2-*.whl \
        --out models --work build/models-work

Writes ``large_{fp32,int8}.onnx``, ``medium_{fp32,int8}.onnx``, ``tiny_{fp32,int8}.onnx``,
``manifest.json`` and ``README.md`` (the model card) into ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from wildcam.cascade.base import ScoredBox
from wildcam.cascade.manifest import FORMAT, VERSION, InputSpec, Manifest, ModelEntry
from wildcam.cascade.onnx_models import normalise
from wildcam.cascade.scores import (
    bands,
    cross_validated_platt,
    expected_calibration_error,
    map_band,
    platt,
)
from wildcam.training import teacher as teach
from wildcam.training.common import (
    count_macs,
    count_params,
    export_onnx,
    seed_everything,
    sha256_file,
)
from wildcam.training.crops import CONTEXT, CropSet, build_crops, teacher_to_target
from wildcam.training.data import Frame, load_frames
from wildcam.training.modelcard import write_model_card
from wildcam.training.onnx_tools import latency_ms, quantize_int8, session
from wildcam.training.students import MEAN, MEDIUM, STD, TINY, Student, predict, prune, train

__all__ = ["main"]

MIT = "MIT"
CALIB_CROPS = 250
"""Training crops that calibrate the students' int8 activations."""
STUDENT_PROVENANCE = (
    "trained by wildcam.training (make models) on crops of the real frames in "
    "shared/data (ENA24, zamba and animl-py examples, bgslibrary clips; MIT) "
    "and the synthetic scene, distilled from the stage-3 teacher "
    "(MegaDetector-Lite, zamba, MIT)"
)


def _frame_animals(frames: Sequence[Frame], labeller: teach.Teacher) -> list[list[ScoredBox]]:
    """Each frame's animal boxes with soft targets 0..1: known truth first, else the teacher."""
    out = []
    for f in frames:
        found = [b for b in labeller.label(f).boxes if b.score >= 0.1]
        targets = [ScoredBox(b.box, teacher_to_target(b.score, teach.PRESENT)) for b in found]
        if f.animal is False:
            targets = []
        elif f.boxes:
            targets = [ScoredBox(b, 1.0) for b in f.boxes]
        elif f.animal and targets:  # an animal is known to be there: the teacher's best box is it
            best = max(targets, key=lambda b: b.score)
            targets = [
                ScoredBox(b.box, max(b.score, 0.8) if b is best else b.score) for b in targets
            ]
        out.append(targets)
    return out


def _metrics(scores: np.ndarray, truth: np.ndarray, c_low: float, c_high: float) -> dict[str, Any]:
    m = teach.presence_metrics(scores.tolist(), truth.tolist(), 0.5)
    m["average_precision"] = teach.average_precision(scores.tolist(), truth.tolist())
    confident = (scores < c_low) | (scores >= c_high)
    right = ((scores >= c_high) & truth) | ((scores < c_low) & ~truth)
    m["confident_fraction"] = round(float(confident.mean()), 4)
    m["confident_accuracy"] = round(float(right[confident].mean()) if confident.any() else 1.0, 4)
    return m


def _student_record(
    model_id: str,
    path: Path,
    stage: int,
    model: Student,
    precision: str,
    c_low: float,
    c_high: float,
) -> dict[str, Any]:
    size = model.arch.size
    outputs = [{"name": "logit", "shape": ["N", 1]}]
    if model.arch.box_head:
        outputs.append({"name": "box", "shape": ["N", 4]})
    return {
        "id": model_id,
        "file": path.name,
        "sha256": sha256_file(path),
        "stage": stage,
        "kind": "classifier_box" if model.arch.box_head else "classifier",
        "precision": precision,
        "input": {
            "name": "image",
            "shape": ["N", 3, size, size],
            "layout": "NCHW",
            "color": "RGB",
            "scale": 1 / 255,
            "mean": [MEAN] * 3,
            "std": [STD] * 3,
            "resize": "square_crop",
            "context": CONTEXT,
            "pad_value": 0,
        },
        "outputs": outputs,
        "decoding": "sigmoid_logit_box" if model.arch.box_head else "sigmoid_logit",
        "classes": ["animal"],
        "c_low": c_low,
        "c_high": c_high,
    }


def _inputs(crops: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Stored crops resized to ``spec``'s input and normalised (as the runtime does)."""
    size = spec.size[0]
    return normalise(
        [
            c if c.shape[0] == size else cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA)
            for c in crops
        ],
        spec,
    )


def _onnx_scores(path: Path, spec: InputSpec, crops: np.ndarray) -> np.ndarray:
    sess = session(path, 2)
    logits = [
        sess.run(["logit"], {"image": _inputs(crops[i : i + 64], spec)})[0][:, 0]
        for i in range(0, len(crops), 64)
    ]
    return 1 / (1 + np.exp(-np.concatenate(logits)))


def _student(
    name: str,
    stage: int,
    model: Student,
    train_set: CropSet,
    calib_set: CropSet,
    test_set: CropSet,
    out: Path,
    seed: int,
    log: Any,
) -> list[dict[str, Any]]:
    """Export fp32, quantise int8, measure both; return their manifest records.

    Each band is chosen on the ``calib`` crops, and so is each score calibration (Platt
    scaling, kept only if it lowers the ECE in a cross-validation over the ``calib`` groups;
    the band is mapped through it, so the decisions stay those of the raw band); the figures
    are the ``test`` crops' (metrics on the raw score, ECE raw and calibrated)."""
    size = model.arch.size
    fp32 = out / f"{name}_fp32.onnx"
    int8 = out / f"{name}_int8.onnx"
    outputs = ["logit", "box"] if model.arch.box_head else ["logit"]
    export_onnx(model, (1, 3, size, size), fp32, "image", outputs, dynamic_batch=True)
    rng = np.random.default_rng(seed)
    pick = rng.choice(
        len(train_set.images), size=min(CALIB_CROPS, len(train_set.images)), replace=False
    )
    spec = ModelEntry.from_dict(_student_record(name, fp32, stage, model, "fp32", 0, 1)).input
    calib = [_inputs(train_set.images[i : i + 1], spec) for i in np.sort(pick)]
    quantize_int8(fp32, int8, "image", calib, exclude_markers=("logit", "box"))
    calib_truth = calib_set.labels >= 0.5
    truth = test_set.labels >= 0.5
    records = []
    x = _inputs(test_set.images[:1], spec)
    for precision, path in (("fp32", fp32), ("int8", int8)):
        rec = _student_record(f"{name}_{precision}", path, stage, model, precision, 0.0, 1.0)
        calib_scores = _onnx_scores(path, spec, calib_set.images)
        c_low, c_high = bands(calib_scores, calib_truth)
        chosen_on = f"calib crops: {len(calib_truth)}, {int(calib_truth.sum())} with an animal"
        check = cross_validated_platt(calib_scores, calib_truth, calib_set.groups.tolist())
        a, b = (round(v, 5) for v in check.scaling)  # as written: the band is mapped by these
        rec["build_band"] = [c_low, c_high]  # raw, as for the large model (calibrate)
        rec["c_low"], rec["c_high"] = map_band((c_low, c_high), a, b)
        rec["band_chosen_on"] = chosen_on
        scores = _onnx_scores(path, spec, test_set.images)
        rec["calibration"] = {
            "a": a,
            "b": b,
            "prior": 0.5,
            "fitted_on": chosen_on,
            "checked_on": f"calib crops, {check.folds}-fold cross-validation by frame group",
            "fitted_a": round(check.a, 5),
            "fitted_b": round(check.b, 5),
            "ece_raw": round(check.ece_raw, 4),
            "ece_fitted": round(check.ece_fitted, 4),
            "kept": check.kept,
            "test_ece_raw": round(expected_calibration_error(scores, truth), 4),
            "test_ece": round(expected_calibration_error(platt(scores, a, b), truth), 4),
        }
        sess = session(path, 1)
        rec["metrics"] = _metrics(scores, truth, c_low, c_high)
        rec["latency_ms"] = latency_ms(
            functools.partial(sess.run, None, {"image": x}), repeats=200, warmup=20
        )
        rec["eval_scores"] = scores
        records.append(rec)
        log(
            f"{name} {precision}: {rec['metrics']} band [{c_low}, {c_high}) {rec['latency_ms']} ms"
        )
    for rec in records:
        rec["params"] = count_params(model)
        rec["macs"] = count_macs(model, (1, 3, size, size))
        rec["file_bytes"] = (out / rec["file"]).stat().st_size
    return records


def run(
    data: Path,
    wheel: Path,
    out: Path,
    work: Path,
    seed: int,
    epochs: tuple[int, int, int],
    log: Any = None,
) -> dict[str, Any]:
    t0 = time.monotonic()
    if log is None:

        def log(line: str) -> None:
            print(f"[{time.monotonic() - t0:6.0f} s] {line}", flush=True)

    seed_everything(seed)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    frames = load_frames(data, seed)
    log(
        f"{len(frames)} frames ({sum(f.role == 'calib' for f in frames)} calib, "
        f"{sum(f.role == 'test' for f in frames)} test)"
    )

    large, labeller = teach.build_teacher(wheel, frames, work, out, log)
    animals = _frame_animals(frames, labeller)
    crops = build_crops(frames, animals, teach.PRESENT, seed)
    train_set, calib_set, test_set = (crops.subset(r) for r in ("train", "calib", "test"))
    log(
        "crops: "
        + ", ".join(
            f"{len(c.labels)} {r} ({int((c.labels >= 0.5).sum())} animal)"
            for r, c in (("train", train_set), ("calib", calib_set), ("test", test_set))
        )
        + f"; {time.monotonic() - t0:.0f} s"
    )

    e_tiny, e_medium, e_tune = epochs
    seed_everything(seed)
    tiny = train(Student(TINY), train_set, e_tiny, seed, log=lambda s: log("tiny" + s))
    tiny_records = _student("tiny", 1, tiny, train_set, calib_set, test_set, out, seed, log)
    log(f"tiny done; {time.monotonic() - t0:.0f} s")

    seed_everything(seed)
    medium = train(Student(MEDIUM), train_set, e_medium, seed, log=lambda s: log("medium" + s))
    truth = test_set.labels >= 0.5
    before = predict(medium, test_set.images)
    pruning: dict[str, Any] = {
        "keep": 0.5,
        "before": {
            "params": count_params(medium),
            "macs": count_macs(medium, (1, 3, MEDIUM.size, MEDIUM.size)),
            **_metrics(before, truth, 0.5, 0.5),
        },
    }
    slim = prune(medium, 0.5)
    pruned_raw = predict(slim, test_set.images)
    pruning["after_prune_no_tuning"] = _metrics(pruned_raw, truth, 0.5, 0.5)
    seed_everything(seed)
    slim = train(slim, train_set, e_tune, seed + 1, lr=1e-3, log=lambda s: log("pruned" + s))
    after = predict(slim, test_set.images)
    pruning["after"] = {
        "params": count_params(slim),
        "macs": count_macs(slim, (1, 3, MEDIUM.size, MEDIUM.size)),
        "widths": slim.widths,
        "widths_before": medium.widths,
        **_metrics(after, truth, 0.5, 0.5),
    }
    log(f"pruning: {pruning}")
    medium_records = _student("medium", 2, slim, train_set, calib_set, test_set, out, seed, log)
    log(f"medium done; {time.monotonic() - t0:.0f} s")

    large_records = _large_records(large, out)
    records = large_records + medium_records + tiny_records
    for rec in records:
        rec["provenance"] = teach.PROVENANCE if rec["stage"] == 3 else STUDENT_PROVENANCE
        rec["licence"] = MIT
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "defaults": {"1": "tiny_int8", "2": "medium_int8", "3": "large_int8"},
        "models": [{k: v for k, v in r.items() if k != "eval_scores"} for r in records],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    Manifest.load(out / "manifest.json")  # the file just written parses
    summary = {
        "seed": seed,
        "epochs": list(epochs),
        "frames": len(frames),
        "calibration": {"frames": teach.CALIB_FRAMES, "crops": CALIB_CROPS},
        "crops": {
            "train": len(train_set.labels),
            "calib": len(calib_set.labels),
            "test": len(test_set.labels),
            "train_animal": int((train_set.labels >= 0.5).sum()),
            "calib_animal": int((calib_set.labels >= 0.5).sum()),
            "test_animal": int((test_set.labels >= 0.5).sum()),
            "kinds": {
                str(k): int(n)
                for k, n in zip(*np.unique(crops.kinds, return_counts=True), strict=True)
            },
        },
        "teacher": {k: v for k, v in large.items() if not k.startswith("eval_")},
        "pruning": pruning,
        "build_seconds": round(time.monotonic() - t0),
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    write_model_card(out / "README.md", manifest, summary)
    log(f"wrote {out}/manifest.json and README.md in {time.monotonic() - t0:.0f} s")
    return summary


def _large_records(large: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    size = large["chosen_size"]
    truth = np.asarray(large["eval_truth"])
    records = []
    for precision in ("fp32", "int8"):
        path = out / f"large_{precision}.onnx"
        scores = np.asarray(large[f"eval_scores_{precision}"])
        # the last stage decides: one threshold, nothing left unsure
        rec = teach.detector_record(
            f"large_{precision}",
            path.name,
            sha256_file(path),
            size,
            precision,
            teach.PRESENT,
            teach.PRESENT,
        )
        rec["metrics"] = _metrics(scores, truth, teach.PRESENT, teach.PRESENT)
        rec["metrics"].update(
            teach.presence_metrics(scores.tolist(), truth.tolist(), teach.PRESENT)
        )
        rec["latency_ms"] = large[f"{precision}_ms"]
        rec["params"] = large["params"]
        rec["macs"] = large["sizes"][size]["macs"]
        rec["file_bytes"] = path.stat().st_size
        records.append(rec)
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--work", type=Path, default=Path("build/models-work"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--epochs", type=int, nargs=3, default=(30, 12, 6), metavar=("TINY", "MEDIUM", "FINETUNE")
    )
    args = parser.parse_args(argv)
    run(args.data, args.wheel, args.out, args.work, args.seed, tuple(args.epochs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
