"""The gateway's store as Camtrap DP (validated), MegaDetector output and hard examples, with
people's verdicts exported as human observations."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ecology_helpers import (  # type: ignore[import-not-found]
    DEVICE_A,
    cli,
    fill_store,
    md_validate,
)

from wildcam.cascade.evaluate import load_csv
from wildcam.ecology.camtrap import read_package, validate_package
from wildcam.ecology.frames import collect, devices, events, jpeg_size
from wildcam.ecology.megadetector import check_batch_output
from wildcam.errors import InputError
from wildcam.gateway.store import GatewayStore
from wildcam.gateway.verdicts import Verdict, VerdictStore


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    fill_store(directory)
    return directory


def _export(
    capsys: Any, store_dir: Path, out: Path, *extra: str, specs: Path
) -> tuple[int, str, str]:
    return cli(
        capsys,
        "gateway",
        "--store",
        str(store_dir),
        "export",
        "--camtrap-dp",
        str(out),
        "--specs",
        str(specs),
        *extra,
    )


def test_frames_events_and_devices(store_dir: Path) -> None:
    store = GatewayStore(store_dir)
    try:
        frames = collect(store)
    finally:
        store.close()
    assert len(frames) == 5
    full = [f for f in frames if f.full_frame]
    assert len(full) == 2 and all(f.size == (640, 480) for f in full)
    grouped = events(frames)
    assert [(e.device, e.key, len(e.frames)) for e in grouped] == [
        ("trap-a", "e1", 3),
        ("trap-b", "e1", 1),
        ("trap-a", "e2", 1),
    ]
    a = grouped[0]
    assert a.best.full_frame and a.score == pytest.approx(0.9)
    assert a.best.media_box(a.best.detections[0]) == (0.375, 0.375, 0.25, 0.25)  # centre 320,240
    thumb = a.frames[0]  # thumbnail only: its best box is the whole thumbnail
    assert thumb.media_box(thumb.detections[0]) == (0.0, 0.0, 1.0, 1.0)
    status = {d.device: d for d in devices(frames)}
    assert status["trap-a"].frames == 4 and status["trap-a"].status["battery"] == pytest.approx(
        0.7
    )
    assert status["trap-b"].deployment["location"] == "51.2,5.6"


def test_camtrap_export_is_valid_and_carries_the_verdicts(
    store_dir: Path, tmp_path: Path, camtrap_specs: Path, capsys: Any
) -> None:
    verdicts = VerdictStore(store_dir)
    verdicts.put(Verdict("trap-a", "e1", "wrong", reviewer="Ann"))
    verdicts.put(Verdict("trap-b", "e1", "species", "Vulpes vulpes", reviewer="Bob"))
    verdicts.close()
    out, md, hard = tmp_path / "dp", tmp_path / "md.json", tmp_path / "hard"
    code, stdout, stderr = _export(
        capsys,
        store_dir,
        out,
        "--md-json",
        str(md),
        "--hard-examples",
        str(hard),
        specs=camtrap_specs,
    )
    assert code == 0, stdout + stderr
    assert "valid Camtrap DP 1.0.2" in stdout
    assert validate_package(out, camtrap_specs) == []
    package = read_package(out)
    deployments = {d["cameraID"]: d for d in package.tables["deployments"]}
    assert set(deployments) == {"trap-a", "trap-b"}
    a = deployments["trap-a"]
    assert (a["latitude"], a["longitude"], a["coordinateUncertainty"]) == ("51.5", "4.7", "30")
    assert a["cameraModel"] == "Pi Camera 3" and a["setupBy"] == "Ann"
    assert a["deploymentStart"] == "2026-06-21T06:00:00+00:00"
    assert a["deploymentEnd"] == "2026-06-21T07:00:00+00:00"
    media = package.tables["media"]
    assert len(media) == 5 and all(m["captureMethod"] == "activityDetection" for m in media)
    for m in media:
        assert (out / m["filePath"]).is_file() and m["timestamp"].endswith("+00:00")
    assert sum(jpeg_size((out / m["filePath"]).read_bytes()) == (640, 480) for m in media) == 2
    obs = package.tables["observations"]
    level = {o["observationID"]: o for o in obs if o["observationLevel"] == "event"}
    assert level["trap-a-e1"]["observationType"] == "blank"
    assert level["trap-a-e1"]["classificationMethod"] == "human"
    assert level["trap-a-e1"]["classifiedBy"] == "Ann"
    assert level["trap-b-e1"]["scientificName"] == "Vulpes vulpes"
    assert level["trap-b-e1"]["classificationMethod"] == "human"
    machine = level["trap-a-e2"]
    assert machine["classificationMethod"] == "machine" and machine["observationType"] == "animal"
    assert machine["classifiedBy"].startswith("wildcam large_int8 (manifest sha256 ")
    assert float(machine["classificationProbability"]) == pytest.approx(0.55)
    boxes = [o for o in obs if o["observationLevel"] == "media"]
    assert all(o["classificationMethod"] == "machine" for o in boxes)
    full_box = [o for o in boxes if o.get("classificationProbability") == "0.9"]
    assert [(o["bboxX"], o["bboxY"], o["bboxWidth"], o["bboxHeight"]) for o in full_box] == [
        ("0.375", "0.375", "0.25", "0.25")
    ]
    assert json.loads((out / "datapackage.json").read_text())["taxonomic"] == [
        {"scientificName": "Vulpes vulpes"}
    ]

    doc = json.loads(md.read_text())
    assert check_batch_output(doc) == [] and len(doc["images"]) == 5
    assert md_validate(md, out)["errors"] == []

    labels = load_csv(hard / "labels.csv")
    assert len({lab.path for lab in labels}) == 4  # trap-a e1 (3 frames) + trap-b e1
    assert all(lab.path.is_file() for lab in labels)
    wrong = [lab for lab in labels if not lab.animal]
    assert len(wrong) == 3 and all(not lab.boxes for lab in wrong)
    with (hard / "labels.csv").open() as fh:
        fox = [r for r in csv.DictReader(fh) if r["verdict"] == "species"]
    assert fox and all(r["species"] == "Vulpes vulpes" and r["animal"] == "1" for r in fox)


def test_filters_and_refusals(
    store_dir: Path, tmp_path: Path, camtrap_specs: Path, capsys: Any
) -> None:
    code, _, err = _export(
        capsys, store_dir, tmp_path / "b", "--device", "trap-b", specs=camtrap_specs
    )
    assert code == 0, err
    assert {d["cameraID"] for d in read_package(tmp_path / "b").tables["deployments"]} == {
        "trap-b"
    }
    code, _, err = _export(
        capsys, store_dir, tmp_path / "late", "--since", "2026-06-21T06:30:00", specs=camtrap_specs
    )
    assert code == 0, err
    assert len(read_package(tmp_path / "late").tables["media"]) == 1
    for args in (("--since", "tomorrow"), ("--device", "nobody")):
        code, _, err = _export(capsys, store_dir, tmp_path / "x", *args, specs=camtrap_specs)
        assert code == 2 and err.startswith("wildcam gateway export: "), err
    code, _, err = cli(
        capsys,
        "gateway",
        "--store",
        str(tmp_path / "none"),
        "export",
        "--camtrap-dp",
        str(tmp_path / "y"),
        "--specs",
        str(camtrap_specs),
    )
    assert code == 2 and "not a gateway store" in err
    # a subprocess shows what a user sees: the message, exit 2, no traceback
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wildcam.cli",
            "gateway",
            "--store",
            str(store_dir),
            "export",
            "--camtrap-dp",
            str(tmp_path / "z"),
            "--since",
            "tomorrow",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr


def test_a_device_without_location_needs_one(tmp_path: Path) -> None:
    from wildcam.ecology.export import ExportOptions, camtrap_package

    store_dir = tmp_path / "s"
    fill_store(store_dir)
    store = GatewayStore(store_dir)
    frames = [f for f in collect(store) if f.device == DEVICE_A["id"]]
    store.close()
    import dataclasses

    bare = [dataclasses.replace(f, deployment={"id": "trap-a"}) for f in frames]
    with pytest.raises(InputError, match="location"):
        camtrap_package(bare, {}, ExportOptions())
    package, _ = camtrap_package(bare, {}, ExportOptions(location="10,20"))
    assert package.tables["deployments"][0]["latitude"] == 10.0


def test_verdicts_are_checked() -> None:
    for bad in (
        Verdict("d", "e", "maybe"),
        Verdict("d", "e", "species", "  "),
        Verdict("", "e", "correct"),
    ):
        with pytest.raises(InputError):
            bad.check()
