"""Declare a config dataclass as ROS parameters once, and keep it validated when they change.

Every field made with :func:`wildcam.params.param` becomes a parameter with a descriptor
(description, integer/floating-point range, read-only). A ``set_parameters`` call is checked
against the same dataclass validation as start-up, so an out-of-range or inconsistent value is
refused with the reason through the parameter service, and the node sees only valid configs.
A node whose check needs I/O (the cascade loading its model files) gives a ``prepare`` hook: it
runs inside the parameter call, may refuse the change, and what it prepared is committed just
before ``on_change``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from wildcam.errors import WildcamError
from wildcam.params import ParamSpec, build_config, param_specs

__all__ = ["ParameterBinding", "descriptor"]

T = TypeVar("T")

_TYPES: dict[type, int] = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` for one parameter spec."""
    desc = ParameterDescriptor(
        name=spec.name,
        type=_TYPES[spec.type],
        read_only=spec.read_only,
        description=spec.description,
        additional_constraints=f"one of {spec.range_text()}" if spec.choices else "",
    )
    if spec.type is int and spec.min is not None and spec.max is not None:
        desc.integer_range = [
            IntegerRange(from_value=int(spec.min), to_value=int(spec.max), step=0)
        ]
    elif spec.type is float and spec.min is not None and spec.max is not None:
        desc.floating_point_range = [
            FloatingPointRange(from_value=float(spec.min), to_value=float(spec.max), step=0.0)
        ]
    return desc


Commit = Callable[[], None]


class ParameterBinding(Generic[T]):
    """The parameters of one config class on one node.

    ``config`` is always the current validated config. ``prepare(old, new)``, when given, runs
    while a ``set_parameters`` call is checked, after the values passed validation: it does the
    checks that need I/O and raises a :class:`~wildcam.errors.WildcamError` to refuse the change
    (its message is the reason), or returns what to commit once the change is accepted (or
    None). ``on_change(old, new)`` runs after an accepted ``set_parameters``, after that commit;
    it should not raise (exceptions are logged, not propagated).
    """

    def __init__(
        self,
        node: Node,
        cls: type[T],
        on_change: Callable[[T, T], None] | None = None,
        prepare: Callable[[T, T], Commit | None] | None = None,
    ) -> None:
        self._node = node
        self._cls = cls
        self._specs = {s.name: s for s in param_specs(cls)}
        self._on_change = on_change
        self._prepare = prepare
        self._prepared: tuple[T, Commit] | None = None
        values = {}
        for spec in self._specs.values():
            declared = node.declare_parameter(spec.name, spec.default, descriptor(spec))
            values[spec.name] = declared.value
        self.config: T = build_config(cls, values)
        node.add_on_set_parameters_callback(self._validate)
        node.add_post_set_parameters_callback(self._apply)

    def _changes(self, params: list[Parameter]) -> dict[str, Any]:
        return {p.name: p.value for p in params if p.name in self._specs}

    def _validate(self, params: list[Parameter]) -> SetParametersResult:
        changes = self._changes(params)
        if not changes:
            return SetParametersResult(successful=True)
        try:
            new = build_config(self._cls, changes, base=self.config)
            commit = self._prepare(self.config, new) if self._prepare is not None else None
        except WildcamError as err:
            return SetParametersResult(successful=False, reason=str(err))
        self._prepared = (new, commit) if commit is not None else None
        return SetParametersResult(successful=True)

    def _apply(self, params: list[Parameter]) -> None:
        changes = self._changes(params)
        if not changes:
            return
        old = self.config
        self.config = build_config(self._cls, changes, base=old)
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == self.config:
            prepared[1]()
        if self._on_change is not None:
            try:
                self._on_change(old, self.config)
            except Exception as err:  # noqa: BLE001 - a callback must never take the node down
                self._node.get_logger().error(
                    f"applying parameters {sorted(changes)} failed: {err}"
                )
