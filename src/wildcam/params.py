"""Parameters declared once: a frozen dataclass whose fields carry range and description.

A config class lists each setting with :func:`param`; :func:`param_specs` reads them back for the
ROS layer (which declares every one with a descriptor) and the README, and :func:`build_config`
validates a mapping of values into the frozen dataclass, raising :class:`ConfigError` that names
the field and its range. Live parameter changes go through the same validation. A field may carry
its unit (shown in its description) and may be a setting of the class only, not a node
parameter (``node=False``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from wildcam.errors import ConfigError

__all__ = [
    "DEFAULT_PROFILE",
    "ParamSpec",
    "build_config",
    "check_ranges",
    "param",
    "param_metadata",
    "param_specs",
    "parse_assignments",
    "power_profile_dir",
    "power_profile_names",
    "power_profile_param",
]

T = TypeVar("T")
_KEY = "wildcam.param"


@dataclass(frozen=True)
class ParamSpec:
    """What a parameter is: name, Python type, default, range, choices, description."""

    name: str
    type: type
    default: Any
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False
    unit: str = ""
    node: bool = True  # declared as a node parameter (else a setting of the class only)
    parsed: bool = False  # a string parameter whose text form the class parses itself

    def range_text(self) -> str:
        """The admissible values, for error messages and docs."""
        if self.choices:
            return " | ".join(self.choices)
        if self.min is not None or self.max is not None:
            return (
                f"[{self.min if self.min is not None else '-inf'}, "
                f"{self.max if self.max is not None else 'inf'}]"
            )
        return ""


def param_metadata(
    description: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    read_only: bool = False,
    unit: str = "",
    node: bool = True,
    text_default: str | None = None,
) -> dict[str, Any]:
    """The field metadata :func:`param` attaches (for classes that add metadata of their own).

    ``unit`` is appended to the description (``"... [grey levels]"``). ``text_default`` marks a
    field whose parameter is a string the class parses itself (e.g. polygons); it is that
    parameter's default.
    """
    return {
        _KEY: {
            "description": f"{description} [{unit}]" if unit else description,
            "min": min,
            "max": max,
            "choices": choices,
            "read_only": read_only,
            "unit": unit,
            "node": node,
            "text_default": text_default,
        }
    }


def param(
    default: Any,
    description: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    read_only: bool = False,
    unit: str = "",
    node: bool = True,
    text_default: str | None = None,
) -> Any:
    """A dataclass field that is also a declared parameter (see :func:`param_metadata`)."""
    return dataclasses.field(
        default=default,
        metadata=param_metadata(
            description,
            min=min,
            max=max,
            choices=choices,
            read_only=read_only,
            unit=unit,
            node=node,
            text_default=text_default,
        ),
    )


DEFAULT_PROFILE = "rpi4b"
"""The device power profile of every node unless its ``power_profile`` parameter names another."""


def power_profile_dir() -> Path:
    """``config/power_profiles`` of the package (:mod:`wildcam.power.profile` loads them)."""
    from wildcam.rosenv import config_dir

    return config_dir() / "power_profiles"


def power_profile_names() -> tuple[str, ...]:
    """The device power profiles shipped in :func:`power_profile_dir`, sorted."""
    try:
        return tuple(sorted(p.stem for p in power_profile_dir().glob("*.yaml")))
    except FileNotFoundError:
        return (DEFAULT_PROFILE,)


def power_profile_param() -> Any:
    """The ``power_profile`` field every node's config class declares."""
    return param(
        DEFAULT_PROFILE,
        "Device power profile of the energy reports (config/power_profiles/<name>.yaml; live).",
        choices=power_profile_names(),
    )


def param_specs(cls: type, every: bool = False) -> tuple[ParamSpec, ...]:
    """The node parameters of config class ``cls`` (``every``: also its settings that are no
    node parameter), in declaration order."""
    hints = get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata.get(_KEY) or {})
        if not meta or not (every or meta["node"]):
            continue
        text_default = meta.pop("text_default")
        if text_default is not None:
            specs.append(
                ParamSpec(name=f.name, type=str, default=text_default, parsed=True, **meta)
            )
        else:
            specs.append(ParamSpec(name=f.name, type=hints[f.name], default=f.default, **meta))
    return tuple(specs)


def check_ranges(config: object) -> None:
    """Raise :class:`ConfigError` if a field of ``config`` is not of its type or outside its
    declared range; an int given for a float, or a whole float for an int, is converted."""
    for spec in param_specs(type(config), every=True):
        if spec.parsed:  # the class parses and checks its text form itself
            continue
        value: Any = getattr(config, spec.name)
        if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
            object.__setattr__(config, spec.name, value)
        elif spec.type is int and isinstance(value, float) and value.is_integer():
            value = int(value)
            object.__setattr__(config, spec.name, value)
        if not _of_type(value, spec.type):
            raise ConfigError(
                f"{spec.name} must be {spec.type.__name__}, got {type(value).__name__} {value!r}"
            )
        if spec.type is float and math.isnan(value):
            raise ConfigError(f"{spec.name} must be a number, got nan")
        if spec.choices and value not in spec.choices:
            raise ConfigError(f"{spec.name}={value!r} is not one of {spec.range_text()}")
        if (spec.min is not None and value < spec.min) or (
            spec.max is not None and value > spec.max
        ):
            raise ConfigError(f"{spec.name}={value!r} is outside {spec.range_text()}")


def _of_type(value: Any, kind: type) -> bool:
    """Whether ``value`` is a ``kind`` (a bool is no int here)."""
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def build_config(
    cls: type[T], values: Mapping[str, Any] | None = None, base: T | None = None
) -> T:
    """Validate ``values`` (over ``base`` or the defaults) into a frozen ``cls`` instance.

    Unknown names are rejected. Classes may add cross-field checks in ``__post_init__``; they are
    expected to call :func:`check_ranges` there, so direct construction is validated too.
    """
    values = dict(values or {})
    known = {s.name for s in param_specs(cls, every=True)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown} for {cls.__name__}")
    try:
        if base is not None:
            return dataclasses.replace(base, **values)  # type: ignore[type-var]
        return cls(**values)
    except TypeError as err:
        raise ConfigError(str(err)) from err


def parse_assignments(items: Iterable[str], flag: str = "--param") -> dict[str, dict[str, Any]]:
    """``node.param=value`` words of a command line, by node.

    The node is what comes before the first dot (parameter names may hold dots); the value is
    read as a YAML scalar, as ``ros2 param set`` reads it (``true``, ``3``, ``0.5``, text).
    Raises :class:`ConfigError` naming the word that is not of that form.
    """
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        node, dot, name = key.partition(".")
        if not (sep and dot and node and name):
            raise ConfigError(f"{flag} {item!r}: expected node.param=value")
        value = yaml.safe_load(text)
        out.setdefault(node, {})[name] = (
            value if isinstance(value, (bool, int, float, str)) else text
        )
    return out
