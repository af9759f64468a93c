"""Camtrap DP 1.0.2: the official example round-trips through our writer and stays valid;
the validator (frictionless + the profile, offline) finds broken packages."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from wildcam.ecology.camtrap import (
    TABLES,
    read_package,
    table_fields,
    validate_package,
    write_package,
)


def test_the_official_example_is_valid(camtrap_specs: Path) -> None:
    assert validate_package(camtrap_specs / "example", camtrap_specs) == []


def test_the_official_example_round_trips(camtrap_specs: Path, tmp_path: Path) -> None:
    example = read_package(camtrap_specs / "example")
    assert all(example.tables[t] for t in TABLES)
    out = tmp_path / "copy"
    write_package(out, example, {t: table_fields(camtrap_specs, t) for t in TABLES})
    shutil.copytree(camtrap_specs / "example" / "media", out / "media")
    assert validate_package(out, camtrap_specs) == []
    again = read_package(out)
    assert again.tables == example.tables
    kept = {k: v for k, v in example.metadata.items() if k != "resources"}
    assert {k: v for k, v in again.metadata.items() if k != "resources"} == kept
    assert [r["name"] for r in again.metadata["resources"]] == [
        r["name"] for r in example.metadata["resources"]
    ]


def _rewrite(path: Path, column: str, value: str) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0][column] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_broken_packages_are_found(camtrap_specs: Path, tmp_path: Path) -> None:
    cases = {
        "observations.csv:observationType": ("observations.csv", "observationType", "dragon"),
        "media.csv:timestamp": ("media.csv", "timestamp", "yesterday"),
        "media.csv:deploymentID": ("media.csv", "deploymentID", "no-such-deployment"),
        "deployments.csv:latitude": ("deployments.csv", "latitude", ""),
    }
    for name, (table, column, value) in cases.items():
        copy = tmp_path / name.replace(":", "-")
        shutil.copytree(camtrap_specs / "example", copy, ignore=shutil.ignore_patterns("media"))
        _rewrite(copy / table, column, value)
        assert validate_package(copy, camtrap_specs), name
    copy = tmp_path / "no-project"
    shutil.copytree(camtrap_specs / "example", copy, ignore=shutil.ignore_patterns("media"))
    descriptor = json.loads((copy / "datapackage.json").read_text())
    del descriptor["project"]
    (copy / "datapackage.json").write_text(json.dumps(descriptor))
    assert any("project" in p for p in validate_package(copy, camtrap_specs))
