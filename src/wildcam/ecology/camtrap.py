"""Camera Trap Data Package (Camtrap DP 1.0.2, TDWG): write, read and validate offline.

A package is a folder with ``datapackage.json`` and three CSV tables, ``deployments.csv``,
``media.csv`` and ``observations.csv``, whose columns are the fields of the standard's table
schemas in their order. :func:`write_package` writes rows (dicts keyed by field name) and the
package metadata; :func:`read_package` reads a package back (the official example included);
:func:`validate_package` checks one against the profile and the table schemas in a local copy
of the specification (``specs_dir``: ``camtrap-dp-profile.json`` and
``<table>-table-schema.json``), offline: the descriptor against the profile's Camtrap DP part
with ``jsonschema`` (its remote ``$ref``s, the Frictionless data-package schema and the GeoJSON
schema, are not fetched: frictionless checks the data-package part itself), the tables with
``frictionless`` (types, formats, required fields, enums, unique and foreign keys).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.errors import InputError, StorageError

__all__ = [
    "PROFILE_URL",
    "TABLES",
    "CamtrapPackage",
    "read_package",
    "schema_url",
    "specs_dir",
    "table_fields",
    "validate_package",
    "write_package",
]

VERSION = "1.0.2"
PROFILE_URL = (
    f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/camtrap-dp-profile.json"
)
TABLES = ("deployments", "media", "observations")


def schema_url(table: str) -> str:
    """The published URL of ``table``'s schema (what a package's resource names)."""
    return f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{table}-table-schema.json"


def specs_dir() -> Path | None:
    """The local Camtrap DP 1.0.2 specification: ``$WILDCAM_SPECS/camtrap-dp-1.0.2`` or
    ``../shared/specs/camtrap-dp-1.0.2`` beside the source checkout or the working
    directory; None if absent."""
    roots = [Path(os.environ["WILDCAM_SPECS"])] if os.environ.get("WILDCAM_SPECS") else []
    roots += [
        Path(__file__).resolve().parents[3].parent / "shared" / "specs",
        Path.cwd().parent / "shared" / "specs",
    ]
    for root in roots:
        if (root / f"camtrap-dp-{VERSION}" / "camtrap-dp-profile.json").is_file():
            return root / f"camtrap-dp-{VERSION}"
    return None


def table_fields(specs: Path, table: str) -> list[str]:
    """The field names of ``table`` in the schema's order."""
    schema = _load_json(specs / f"{table}-table-schema.json")
    return [f["name"] for f in schema["fields"]]


@dataclass
class CamtrapPackage:
    """Package metadata and the rows of its three tables."""

    metadata: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {path}: {err}") from err


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_package(
    directory: Path, package: CamtrapPackage, fields: Mapping[str, Sequence[str]]
) -> Path:
    """Write ``package`` into ``directory`` (``fields``: each table's columns, in order).

    The descriptor keeps the package's extra resources and points its three tables at the
    published schemas. Returns the descriptor's path.
    """
    descriptor = dict(package.metadata)
    others = [r for r in descriptor.get("resources", []) if r.get("name") not in TABLES]
    descriptor["resources"] = [
        {
            "name": t,
            "path": f"{t}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": schema_url(t),
        }
        for t in TABLES
    ] + others
    descriptor["profile"] = PROFILE_URL
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            columns = list(fields[table])
            with (directory / f"{table}.csv").open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(columns)
                for row in package.tables.get(table, []):
                    unknown = set(row) - set(columns)
                    if unknown:
                        raise InputError(f"{table}: fields not in the schema: {sorted(unknown)}")
                    writer.writerow([_cell(row.get(c)) for c in columns])
        path = directory / "datapackage.json"
        path.write_text(
            json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as err:
        raise StorageError(f"cannot write the package in {directory}: {err}") from err
    return path


def read_package(directory: Path) -> CamtrapPackage:
    """The metadata and table rows (text cells; empty cells left out) of a package."""
    metadata = _load_json(directory / "datapackage.json")
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        try:
            with (directory / f"{table}.csv").open(newline="", encoding="utf-8") as fh:
                tables[table] = [
                    {k: v for k, v in row.items() if v != ""} for row in csv.DictReader(fh)
                ]
        except (OSError, csv.Error, UnicodeDecodeError) as err:
            raise InputError(f"cannot read {directory / table}.csv: {err}") from err
    return CamtrapPackage(metadata, tables)


def _offline_profile(specs: Path) -> dict[str, Any]:
    """The profile's Camtrap DP part with its remote ``$ref``s dropped (see module doc)."""
    profile = _load_json(specs / "camtrap-dp-profile.json")
    part = next(p for p in profile["allOf"] if "$ref" not in p)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: strip(v)
                for k, v in node.items()
                if not (k == "$ref" and str(v).startswith("http"))
            }
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return {"$schema": profile.get("$schema"), "$defs": profile.get("$defs", {}), **strip(part)}


def validate_package(directory: Path, specs: Path) -> list[str]:
    """Problems of the package in ``directory`` against the spec in ``specs`` (empty: valid)."""
    import frictionless
    import jsonschema

    descriptor = _load_json(directory / "datapackage.json")
    problems = [
        f"datapackage.json: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in sorted(
            jsonschema.Draft7Validator(_offline_profile(specs)).iter_errors(descriptor),
            key=lambda e: list(map(str, e.absolute_path)),
        )
    ]
    if descriptor.get("profile") != PROFILE_URL:
        problems.append(
            f"datapackage.json: profile is {descriptor.get('profile')!r}, not {PROFILE_URL}"
        )
    local = dict(descriptor)
    local.pop("profile", None)  # the remote profile URL is checked above, not fetched
    resources = []
    for resource in descriptor.get("resources", []):
        name = resource.get("name")
        if name not in TABLES:
            continue
        if resource.get("schema") != schema_url(name):
            problems.append(f"resource {name}: schema is not {schema_url(name)}")
        resources.append({**resource, "schema": _load_json(specs / f"{name}-table-schema.json")})
    missing = set(TABLES) - {r["name"] for r in resources}
    problems += [f"resource {name} is missing" for name in sorted(missing)]
    local["resources"] = resources
    try:
        package = frictionless.Package(local, basepath=str(directory))
        report = package.validate()
    except frictionless.FrictionlessException as err:
        return [*problems, f"frictionless: {err}"]
    for task in report.tasks:
        for error in task.errors:
            problems.append(f"{task.name}: {error.message}")
    problems += [f"package: {error.message}" for error in report.errors]
    return problems
