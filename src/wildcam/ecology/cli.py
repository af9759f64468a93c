"""``wildcam detect`` (the cascade over a folder, a video or a bag -> MegaDetector batch JSON)
and the gateway store export behind ``wildcam gateway export``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from wildcam.ecology.megadetector import MIN_CONF
from wildcam.errors import InputError, WildcamError, as_input_error

__all__ = ["export_store", "register", "run_detect", "run_exports"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``detect`` subcommand."""
    p = sub.add_parser(
        "detect",
        help="run the cascade over a folder of images/videos, a video "
        "or a bag; write MegaDetector batch-output JSON (Timelapse, AddaxAI)",
    )
    p.add_argument(
        "input",
        type=Path,
        help="image folder (searched recursively), video, image, or rosbag2 bag",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("detections.json"),
        help="output JSON (default: %(default)s)",
    )
    p.add_argument("--manifest", default="", help="model manifest (default: the package's)")
    p.add_argument(
        "--max-stage",
        type=int,
        default=3,
        choices=(1, 2, 3),
        help="last cascade stage to run (default: %(default)s)",
    )
    p.add_argument(
        "--decision-threshold",
        type=float,
        default=0.5,
        help="score at which a region inside a stage's uncertain band is an animal "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--min-conf",
        type=float,
        default=MIN_CONF,
        help="leave out boxes scored below this (default: %(default)s)",
    )
    p.add_argument(
        "--every",
        type=int,
        default=0,
        help="analyse every Nth video frame (default 0: about one per second)",
    )
    p.add_argument("--topic", default="", help="bag: only this image topic")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per model")
    p.add_argument(
        "--student-tiles",
        action="store_true",
        help="stages 1 and 2 also score a grid of tiles of each large frame (see the "
        "cascade's student_tiles parameter)",
    )
    p.add_argument(
        "--no-people-vehicles",
        dest="people_vehicles",
        action="store_false",
        help="skip the people-and-vehicles check (the boxes stay 'animal' and no 'person' or "
        "'vehicle' detection is written; the cascade's people_vehicles parameter)",
    )
    p.set_defaults(func=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    """Run the cascade as the arguments say; 0 on success, 2 on bad input."""
    from wildcam.cascade.config import CascadeConfig
    from wildcam.cascade.loader import load_stages, manifest_path
    from wildcam.ecology.detect import Detector, manifest_digest
    from wildcam.ecology.megadetector import write_batch_output

    with as_input_error():
        config = CascadeConfig(
            manifest=args.manifest,
            max_stage=args.max_stage,
            decision_threshold=args.decision_threshold,
            onnx_threads=args.threads,
            student_tiles=args.student_tiles,
            people_vehicles=args.people_vehicles,
        )
        models = {s: m for s, m in load_stages(config).items() if m is not None}
        detector = Detector(
            models,
            config,
            manifest_digest(manifest_path(config)),
            min_conf=args.min_conf,
            video_every=max(args.every, 0),
        )
        doc = detector.run(args.input, args.topic)
        write_batch_output(args.out, doc)
    images = doc["images"]
    failed = sum(1 for i in images if i.get("failure"))
    boxes = sum(len(i["detections"] or ()) for i in images)
    print(
        f"{len(images)} file(s), {failed} unreadable, {boxes} box(es) >= {args.min_conf}; "
        f"detector {doc['info']['detector']}\nwrote {args.out}"
    )
    return 0


def _since_ns(text: str) -> int:
    """ISO 8601 date or time (UTC unless it names a zone) -> ns; 0 for ''."""
    if not text:
        return 0
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        raise InputError(f"--since {text!r} is not an ISO 8601 date or time") from err
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1e9)


def export_store(
    store_dir: Path,
    out: Path,
    specs: Path,
    since: str = "",
    device: str = "",
    md_json: str = "",
    hard: str = "",
    location: str = "",
    title: str = "wildcam camera-trap detections",
    contributors: Sequence[str] = (),
    manifest: str = "",
) -> list[str]:
    """Export a gateway store (read offline; a running gateway may share it): the Camtrap DP
    package in ``out``, optionally MegaDetector JSON and hard examples. Lines to print."""
    from wildcam.cascade.manifest import Manifest, default_manifest_path
    from wildcam.ecology.export import ExportOptions, hard_examples, md_output, write_camtrap
    from wildcam.ecology.frames import collect
    from wildcam.ecology.megadetector import write_batch_output
    from wildcam.gateway.store import GatewayStore
    from wildcam.gateway.verdicts import VerdictStore

    if not (store_dir / "gateway.db").is_file():
        raise InputError(f"{store_dir} is not a gateway store (no gateway.db)")
    try:
        models = Manifest.load(manifest or default_manifest_path())
        hashes = {e.model_id: e.sha256 for e in models.entries.values()}
    except WildcamError:
        hashes = {}
    options = ExportOptions(
        title=title, contributors=contributors, location=location, model_hashes=hashes
    )
    store, verdicts = GatewayStore(store_dir), VerdictStore(store_dir)
    try:
        frames = collect(store, _since_ns(since), device)
        reviewed = verdicts.all()
        path = write_camtrap(out, frames, reviewed, options, specs, store.blob)
        tables = {
            t: sum(1 for _ in (out / f"{t}.csv").open(encoding="utf-8")) - 1
            for t in ("deployments", "media", "observations")
        }
        lines = [
            f"wrote {path} ({', '.join(f'{n} {t}' for t, n in tables.items())}; "
            f"{len(reviewed)} reviewed event(s))"
        ]
        if md_json:
            write_batch_output(Path(md_json), md_output(frames, options))
            lines.append(f"wrote {md_json} (MegaDetector batch output, files relative to {out})")
        if hard:
            rows = hard_examples(Path(hard), frames, reviewed, store.blob)
            lines.append(f"wrote {hard}/labels.csv ({rows} labelled rows)")
    finally:
        store.close()
        verdicts.close()
    return lines


def run_exports(out: Path, store_dir: Path, location: str = "") -> list[str]:
    """``wildcam run``'s exports of its gateway store: ``<out>/camtrap-dp/`` (validated) and
    ``<out>/detections.json``; lines to print (a reason instead when they cannot be made)."""
    import shutil

    from wildcam.ecology.camtrap import specs_dir, validate_package

    specs = specs_dir()
    if specs is None:
        return [
            "camtrap-dp: skipped, the Camtrap DP 1.0.2 specification is not found (set "
            "WILDCAM_SPECS)"
        ]
    shutil.rmtree(out / "camtrap-dp", ignore_errors=True)
    try:
        lines = export_store(
            store_dir,
            out / "camtrap-dp",
            specs,
            location=location,
            md_json=str(out / "detections.json"),
        )
    except WildcamError as err:
        return [f"camtrap-dp: not written: {err}"]
    problems = validate_package(out / "camtrap-dp", specs)
    lines += [f"camtrap-dp: INVALID: {p}" for p in problems[:10]] or [
        "camtrap-dp: valid Camtrap DP 1.0.2"
    ]
    return lines
