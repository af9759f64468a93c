"""``wildcam eval``: the cascade on labelled still images, as a table and a JSON report."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from wildcam.cascade.config import STAGE3_INPUTS, CascadeConfig
from wildcam.cascade.evaluate import (
    CoreWatts,
    EnergyFn,
    EvalReport,
    LabelledImage,
    evaluate,
    load_coco,
    load_csv,
)
from wildcam.errors import ConfigError, InputError, as_input_error

__all__ = ["print_report", "register", "run_eval"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand."""
    p = sub.add_parser(
        "eval",
        help="precision/recall, stage use, latency and energy of the cascade on labelled images",
    )
    p.add_argument(
        "--images",
        type=Path,
        default=None,
        help="folder the label paths are relative to (default: the labels' folder)",
    )
    p.add_argument("--labels", type=Path, help="CSV with columns path,animal[,x,y,w,h]")
    p.add_argument(
        "--coco",
        type=Path,
        help="COCO detection JSON (annotated image = animal; boxes give box AP@0.5)",
    )
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument(
        "--md-json",
        type=Path,
        help="write the cascade's per-image boxes here as "
        "MegaDetector batch output (paths relative to the images' folder)",
    )
    p.add_argument("--manifest", default="", help="model manifest (default: the package's)")
    for stage in (1, 2, 3):
        p.add_argument(
            f"--stage{stage}",
            default="default",
            help=f"stage {stage} model id ('' disables the stage)",
        )
    p.add_argument(
        "--max-stage",
        type=int,
        default=3,
        choices=(1, 2, 3),
        help="highest stage an unsure image may escalate to (default 3)",
    )
    p.add_argument(
        "--band",
        nargs=3,
        action="append",
        default=[],
        metavar=("STAGE", "C_LOW", "C_HIGH"),
        help="override a stage's confidence band (-1 keeps the manifest's bound)",
    )
    p.add_argument(
        "--decision-threshold",
        type=float,
        default=0.5,
        help="an image whose final animal score is at least this is called animal (default 0.5)",
    )
    p.add_argument(
        "--stage3-input",
        default="frame",
        choices=STAGE3_INPUTS,
        help="what the last stage sees: the whole frame or the motion region",
    )
    p.add_argument(
        "--stage3-flip",
        action="store_true",
        help="test-time flip: stage 3 also sees the mirrored image (2 calls)",
    )
    p.add_argument(
        "--stage3-tiles",
        action="store_true",
        help="stage 3 also sees 2x2 overlapping tiles at native resolution (5 calls)",
    )
    p.add_argument(
        "--student-tiles",
        action="store_true",
        help="stages 1 and 2 also score a grid of tiles of each large image; the best tile "
        "counts against their tile band (the cascade's student_tiles parameter)",
    )
    p.add_argument(
        "--no-people-vehicles",
        dest="people_vehicles",
        action="store_false",
        help="skip the people-and-vehicles check of stage 3's animals (the cascade's "
        "people_vehicles parameter)",
    )
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per model")
    p.add_argument(
        "--power-profile", default="rpi4b", help="device power profile for the energy model"
    )
    p.add_argument(
        "--watts-per-core",
        type=float,
        default=None,
        help="energy model without a profile: busy-core watts (the rpi4b profile's "
        "active_core_w for a Pi 4B) times host CPU seconds",
    )
    p.set_defaults(func=run_eval)


def _energy(args: argparse.Namespace) -> tuple[EnergyFn, str]:
    if args.watts_per_core is not None:
        return CoreWatts(args.watts_per_core), f"{args.watts_per_core} W per busy core"
    from wildcam.power.profile import load_profile

    profile = load_profile(args.power_profile)
    return (
        lambda _stage, cpu_s: profile.cpu_joules(cpu_s)
    ), f"profile {profile.name} ({profile.active_core_w} W/core x {profile.slowdown} slowdown)"


def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation the arguments describe; 0 on success, 2 on bad input."""
    from wildcam.cascade.loader import load_stages
    from wildcam.cascade.objects import model_ids

    if args.labels is None and args.coco is None:
        raise InputError("give --labels CSV and/or --coco JSON")
    with as_input_error():
        items: list[LabelledImage] = []
        if args.labels is not None:
            items += load_csv(args.labels, args.images)
        if args.coco is not None:
            items += load_coco(args.coco, args.images)
        bands: dict[str, Any] = {}
        for stage, low, high in args.band:
            if stage not in ("1", "2", "3"):
                raise ConfigError(f"--band stage must be 1, 2 or 3, got {stage!r}")
            bands.update({f"stage{stage}_c_low": float(low), f"stage{stage}_c_high": float(high)})
        config = CascadeConfig(
            manifest=args.manifest,
            stage1_model=args.stage1,
            stage2_model=args.stage2,
            stage3_model=args.stage3,
            max_stage=args.max_stage,
            decision_threshold=args.decision_threshold,
            stage3_input=args.stage3_input,
            stage3_flip=args.stage3_flip,
            stage3_tiles=args.stage3_tiles,
            student_tiles=args.student_tiles,
            people_vehicles=args.people_vehicles,
            onnx_threads=args.threads,
            **bands,
        )
        models = {s: m for s, m in load_stages(config).items() if m is not None}
        if not models:
            raise ConfigError("every stage is disabled")
        energy, energy_text = _energy(args)
        report = evaluate(items, models, config, energy)
    report.config["energy_model"] = energy_text
    report.config.update(bands)
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    if args.md_json is not None:
        _write_md(args, report, config, model_ids(models))
        print(f"wrote {args.md_json}")
    return 0


def _write_md(
    args: argparse.Namespace, report: EvalReport, config: CascadeConfig, ids: list[str]
) -> None:
    """The per-image results as MegaDetector batch output, files relative to the images."""
    import dataclasses
    import os

    from wildcam.cascade.loader import manifest_path
    from wildcam.ecology.detect import manifest_digest
    from wildcam.ecology.megadetector import (
        batch_output,
        cascade_detector_info,
        write_batch_output,
    )

    base = args.images or (args.labels or args.coco).parent
    images = [
        dataclasses.replace(i, file=Path(os.path.relpath(i.file, base)).as_posix())
        for i in report.per_image
    ]
    name, metadata = cascade_detector_info(
        ids,
        manifest_digest(manifest_path(config)),
        config.decision_threshold,
    )
    write_batch_output(args.md_json, batch_output(images, name, metadata))


def print_report(report: EvalReport) -> None:
    """The report as a rich table (plain text when piped)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{report.images} images ({report.animals} with an animal), "
        f"{len(report.unreadable)} unreadable; models "
        + ", ".join(f"{s}: {m}" for s, m in sorted(report.models.items()))
    )
    for column in (
        "row",
        "precision",
        "recall",
        "F1",
        "TP/FP/FN/TN",
        "reach 1/2/3",
        "latency ms",
        "energy mJ",
        "AP@0.5",
    ):
        table.add_column(column, justify="left" if column == "row" else "right")
    for row in report.rows:
        d = row.as_dict()
        reach = "/".join(f"{row.fraction_reaching(s):.2f}" for s in (1, 2, 3))
        ap = "-" if row.ap50 is None or math.isnan(row.ap50) else f"{row.ap50:.3f}"
        table.add_row(
            row.name,
            f"{row.precision:.3f}",
            f"{row.recall:.3f}",
            f"{row.f1:.3f}",
            f"{row.tp}/{row.fp}/{row.fn}/{row.tn}",
            reach,
            f"{d['latency_ms']:.2f}",
            f"{d['energy_mj']:.2f}",
            ap,
        )
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
    for path in report.unreadable:
        console.print(f"unreadable: {path}", highlight=False)
