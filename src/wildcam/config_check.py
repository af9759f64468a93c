"""The whole configuration checked before anything starts (no rclpy).

``wildcam run``, ``wildcam bringup`` and the nodes read parameters from YAML files (the
``/**/node: ros__parameters:`` form ``--params-file`` reads) and from ``--param node.name=value``
words. :func:`check_sources` checks every node name, parameter name, type and range in them
against the node table and each node's config class, then each node's merged values against the
class's cross-field checks. The first mistake is one :class:`ConfigError` line naming where it
was (file or ``--param``), the node, the parameter and what is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from wildcam.errors import ConfigError
from wildcam.graph import NODES, NodeSpec
from wildcam.params import ParamSpec, build_config, param_specs

__all__ = [
    "QOS_OVERRIDES",
    "ROS_BUILTIN",
    "check_node_names",
    "check_sources",
    "check_values",
    "read_params_file",
]

Values = dict[str, dict[str, Any]]  # node -> {parameter: value}

ROS_BUILTIN = {"use_sim_time": bool, "start_type_description_service": bool}
"""Parameters rclpy declares on every node."""
QOS_OVERRIDES = "qos_overrides"
"""Prefix of the QoS override parameters (``qos_overrides./topic.publisher.depth``): rclpy
declares and checks them when the publisher or subscription is made (``wildcam.ros.qos``)."""


def _ros_owned(name: str) -> bool:
    """Whether rclpy, not wildcam's config dataclasses, declares parameter ``name``."""
    return name in ROS_BUILTIN or name.split(".", 1)[0] == QOS_OVERRIDES


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_node_names(names: Iterable[str], where: str, nodes: Sequence[NodeSpec] = NODES) -> None:
    """Raise :class:`ConfigError` for a name that is no node of the table."""
    known = [n.name for n in nodes]
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{where}: no node {name!r}{_suggest(name, known)}; nodes: {', '.join(known)}"
            )


def _node_of(key: str) -> str | None:
    """The node a YAML section applies to (``/**/camera_driver``, ``/ns/camera_driver``,
    ``camera_driver``); None for a wildcard section (``/**``) that applies to every node."""
    last = key.rstrip("/").rsplit("/", 1)[-1]
    return None if last in ("", "*", "**") else last


def read_params_file(path: Path) -> list[tuple[str | None, dict[str, Any]]]:
    """The sections of a parameters YAML as (node or None for every node, values)."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected '/**/<node>: ros__parameters: {{...}}' sections")
    sections = []
    for key, body in data.items():
        values = body.get("ros__parameters") if isinstance(body, dict) else None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: section {key!r} has no 'ros__parameters' mapping")
        sections.append((_node_of(str(key)), values))
    return sections


def _type_ok(spec_type: type, value: Any) -> bool:
    if spec_type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if spec_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, spec_type)


def _allowed(spec: ParamSpec) -> str:
    text = spec.range_text()
    return f"{spec.type.__name__} in {text}" if text else spec.type.__name__


def check_values(node: NodeSpec, values: Mapping[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` for an unknown parameter or a value of the wrong type or range.

    Numbers are checked against the declared range here; cross-field rules afterwards, on the
    merged values (:func:`check_sources`).
    """
    specs = {s.name: s for s in param_specs(node.config_type())}
    for name, value in values.items():
        if _ros_owned(name):
            if name in ROS_BUILTIN and not isinstance(value, ROS_BUILTIN[name]):
                raise ConfigError(f"{where}: {node.name}.{name}={value!r}: allowed: bool")
            continue
        spec = specs.get(name)
        if spec is None:
            raise ConfigError(
                f"{where}: {node.name} has no parameter {name!r}{_suggest(name, specs)}"
            )
        bad = not _type_ok(spec.type, value)
        if not bad and spec.choices:
            bad = value not in spec.choices
        elif not bad and spec.type in (int, float):
            bad = (spec.min is not None and value < spec.min) or (
                spec.max is not None and value > spec.max
            )
        if bad:
            raise ConfigError(f"{where}: {node.name}.{name}={value!r}: allowed: {_allowed(spec)}")


def check_sources(
    files: Sequence[Path] = (),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    nodes: Sequence[NodeSpec] = NODES,
    flag: str = "--param",
) -> Values:
    """Check parameters files (in order) then ``params`` (node -> values from ``flag``) for
    ``nodes``; return the merged values per node (only what the sources set)."""
    by_name = {n.name: n for n in NODES}
    selected = {n.name for n in nodes}
    merged: Values = {}
    origins: dict[str, list[str]] = {}  # node -> the sources that set its values
    layers: list[tuple[str, str | None, Mapping[str, Any]]] = [
        (str(path), node, values) for path in files for node, values in read_params_file(path)
    ]
    layers += [(flag, node, values) for node, values in (params or {}).items()]
    for where, node_name, values in layers:
        if node_name is None:  # a wildcard section: each name must belong to some node
            for name, value in values.items():
                owners = [
                    n
                    for n in nodes
                    if _ros_owned(name) or name in {s.name for s in param_specs(n.config_type())}
                ]
                if not owners:
                    raise ConfigError(f"{where}: no node declares parameter {name!r}")
                for owner in owners:
                    check_values(owner, {name: value}, where)
                    merged.setdefault(owner.name, {})[name] = value
                    origins.setdefault(owner.name, []).append(where)
            continue
        check_node_names([node_name], where)
        check_values(by_name[node_name], values, where)
        if node_name in selected:
            merged.setdefault(node_name, {}).update(values)
            origins.setdefault(node_name, []).append(where)
    for node_name, values in merged.items():
        spec = by_name[node_name]
        try:
            build_config(
                spec.config_type(), {k: v for k, v in values.items() if not _ros_owned(k)}
            )
        except ConfigError as err:
            where = ", ".join(dict.fromkeys(origins[node_name]))
            raise ConfigError(f"{where}: {node_name}: {err}") from err
    return merged
