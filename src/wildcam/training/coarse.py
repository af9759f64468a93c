"""Stage 2, the coarse look: the large model at a quarter of its pixels, before the full look.

A step of ``make models``, after the build and before :mod:`wildcam.cascade.calibrate`. The same
MegaDetector-Lite checkpoint as stage 3, exported at :data:`COARSE_SIZE` (half the side: a
quarter of the MACs) and quantised to int8 like the large model, goes into the manifest as a
stage-2 model, ``coarse_int8``, and becomes the stage's default; the medium student stays in
the manifest (``stage2_model: medium_int8``).

Why: on real day frames the students are rarely sure (they were distilled on a few dozen
camera-trap stills), so nearly every day frame reached the full 640 look. MegaDetector-Lite was
trained on millions of camera-trap images and is already sure of most large, clear animals and
of most empty views at 320; only the frames it is unsure of go on to 640.

Its band is chosen on its own raw scores of the real whole frames of the ``train`` and ``calib``
groups by the students' rule (:func:`wildcam.cascade.scores.bands`: below ``c_low`` at most 3 %
of the animals, from ``c_high`` up at least 95 % animals, at least :data:`SUPPORT` frames);
:mod:`wildcam.cascade.calibrate` then fits its score calibration and maps the band through it,
as for the large model. The held-back ``test`` groups are never used here.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wildcam.cascade.calibrate import whole_frame_scores, write_card_section
from wildcam.cascade.manifest import Manifest, ModelEntry
from wildcam.cascade.onnx_models import OnnxDetector
from wildcam.cascade.realdata import real_items
from wildcam.cascade.scores import bands
from wildcam.training import teacher as teach
from wildcam.training.common import count_macs, count_params, export_onnx, sha256_file
from wildcam.training.data import load_frames
from wildcam.training.onnx_tools import latency_ms, quantize_int8, session
from wildcam.training.yolox import load_megadetector_lite

__all__ = [
    "COARSE_SIZE",
    "MODEL_ID",
    "STAGE",
    "SUPPORT",
    "SURE_SIDE_PX",
    "build_coarse",
    "card_section",
]

COARSE_SIZE = 320
"""Input side of the coarse look: half the large model's 640, a quarter of its MACs."""
SURE_SIDE_PX = 16
"""The shortest box side (input pixels) the coarse look may be sure of: two cells of YOLOX's
finest grid (stride 8). A smaller object, a sign post or a distant animal, is seen too coarsely
to decide at this input; it goes on to the full look, where it is twice as large
(:meth:`wildcam.cascade.base.RegionResult.sure_of`)."""
STAGE = 2
MODEL_ID = "coarse_int8"
SUPPORT = 20
"""Fewest frames from ``c_high`` up (as the students' bands in ``make models``)."""
BAND_ROLES = ("train", "calib")


def build_coarse(
    manifest_path: Path, data: Path, wheel: Path, work: Path, log: Any = print
) -> dict[str, Any]:
    """Export, quantise and band the coarse look; add it to the manifest as stage 2's default
    and write its model-card section. Returns its record."""
    out = manifest_path.parent
    pth, kwargs = teach.extract_weights(wheel, work / "zamba")
    net = load_megadetector_lite(str(pth), int(kwargs.get("num_classes", 1)))
    shape = (1, 3, COARSE_SIZE, COARSE_SIZE)
    fp32 = work / "coarse_fp32.onnx"  # only the int8 model ships
    export_onnx(net, shape, fp32, "images", ["output"], dynamic_batch=False)
    # the large model's int8 calibration frames, at this size
    calib = teach.calibration_frames(load_frames(data))
    inputs = [teach.model_input(f, COARSE_SIZE) for f in calib]
    int8 = out / f"{MODEL_ID}.onnx"
    quantize_int8(fp32, int8, "images", inputs, exclude_markers=("_preds",))
    rec = teach.detector_record(
        MODEL_ID, int8.name, sha256_file(int8), COARSE_SIZE, "int8", 0.0, 1.0, STAGE
    )
    with tempfile.TemporaryDirectory() as tmp:
        items = [i for i in real_items(data, Path(tmp)) if i.role in BAND_ROLES]
        truth = np.asarray([i.item.animal for i in items], bool)
        detector = OnnxDetector(ModelEntry.from_dict(rec), session(int8, 1))  # raw scores
        scores = whole_frame_scores(detector, items)
    c_low, c_high = bands(scores, truth, support=SUPPORT)
    sure = (scores < c_low) | (scores >= c_high)
    run = functools.partial(session(int8, 1).run, None, {"images": inputs[0]})
    rec.update(
        c_low=c_low,
        c_high=c_high,
        build_band=[c_low, c_high],
        sure_side_px=SURE_SIDE_PX,
        band_chosen_on=(
            f"{'+'.join(BAND_ROLES)} whole real frames: {len(truth)} frames, "
            f"{int(truth.sum())} animals"
        ),
        metrics={  # on the frames the band was chosen on (not held back)
            "average_precision": teach.average_precision(scores.tolist(), truth.tolist()),
            "confident_share": round(float(sure.mean()), 4),
            "accuracy_when_confident": round(
                float(np.mean((scores[sure] >= c_high) == truth[sure])), 4
            ),
        },
        latency_ms=latency_ms(run, repeats=15),
        params=count_params(net),
        macs=count_macs(net, shape),
        file_bytes=int8.stat().st_size,
        provenance=teach.PROVENANCE + f"; exported at {COARSE_SIZE}",
        licence="MIT",
    )
    log(f"{MODEL_ID}: band [{c_low}, {c_high}), {rec['latency_ms']} ms, {rec['metrics']}")
    record = json.loads(manifest_path.read_text(encoding="utf-8"))
    record["models"] = [m for m in record["models"] if m["id"] != MODEL_ID] + [rec]
    record["defaults"][str(STAGE)] = MODEL_ID
    manifest_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    Manifest.load(manifest_path)  # the file just written parses
    write_card_section(out / "README.md", card_section(rec))
    return rec


def card_section(r: dict[str, Any]) -> str:
    """The model card's section on the coarse look."""
    row = (
        f"| `{r['id']}` | {COARSE_SIZE}x{COARSE_SIZE} | {r['params'] / 1e6:.2f} M | "
        f"{r['macs'] / 1e6:.0f} M | {r['file_bytes'] / 1e6:.2f} MB | {r['latency_ms']} ms | "
        f"[{r['build_band'][0]}, {r['build_band'][1]}) | {r['metrics']['average_precision']} | "
        f"{r['metrics']['confident_share']} | {r['metrics']['accuracy_when_confident']} |"
    )
    return f"""<!-- coarse:start -->
## Stage 2: the coarse look (MegaDetector-Lite at {COARSE_SIZE})

Written by `python -m wildcam.training.coarse` (a step of `make models`). On real day frames the
students are rarely sure, so nearly every day frame went on to the large model at 640. The same
MegaDetector-Lite weights at {COARSE_SIZE} (half the side, a quarter of the MACs) are already
sure of most large, clear animals and of most empty views, so stage 2's default is now
`coarse_int8`: only the frames it is unsure of go on to the full look, and those whose only
sure animal is smaller than {SURE_SIDE_PX} input pixels on its shorter side (two cells of the
finest grid: seen too coarsely to decide; twice as large at 640). The medium student stays
in the manifest (`stage2_model: medium_int8`). int8 as the large model (static QDQ, calibrated on
the same {teach.CALIB_FRAMES} `train` frames at this size, the prediction convolutions and the
decoding kept float). On a region it looks, as the large model does, at the region plus context.

| id | input | params | MACs | file | latency | raw band | AP | confident share | accuracy then |
|---|---|---|---|---|---|---|---|---|---|
{row}

Band `[c_low, c_high)`, average precision, the share of frames outside the band and the accuracy
there: on its raw scores of the {r["band_chosen_on"]}; the band by the students' rule
(below `c_low` at most 3 % of the animals, from `c_high` up at least 95 % animals, at least
{SUPPORT} frames); `wildcam.cascade.calibrate` fits its score calibration and maps the band
(see the calibration section). Held-back figures: `bench/cascade.py` (below).
<!-- coarse:end -->
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the real-data folder")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--wheel", type=Path, required=True, help="the zamba wheel")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    if not (args.data / "camera_traps").is_dir():
        raise SystemExit(f"{args.data} holds no camera_traps/ folder")
    build_coarse(args.manifest, args.data, args.wheel, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
