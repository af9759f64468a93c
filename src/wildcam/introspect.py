"""What ``wildcam param`` and ``wildcam topic`` print, in the ``ros2 param`` / ``ros2 topic``
formats (no rclpy here; :mod:`wildcam.ros.introspect` does the ROS calls).

``param list`` prints ``/node:`` then two-space indented names; ``param get`` prints ``Double
value is: 10.0``; ``param dump`` prints the ``/**/node: ros__parameters:`` YAML that
``--params-file`` reads; ``topic hz`` prints ``average rate`` with min, max, standard deviation
and window, every second.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from wildcam.errors import InputError, WildcamError

__all__ = [
    "dump_yaml",
    "full_name",
    "hz_text",
    "list_text",
    "parse_value",
    "register",
    "value_text",
]


def full_name(node: str) -> str:
    """``camera_driver`` or ``/camera_driver`` -> ``/camera_driver`` (as ``ros2`` names it)."""
    if not node or node.strip("/") == "":
        raise InputError(f"{node!r} is no node name")
    return node if node.startswith("/") else "/" + node


def list_text(params: Mapping[str, Sequence[str]], header: bool = True) -> str:
    """``ros2 param list``: each node (full name) and its parameter names, sorted."""
    lines: list[str] = []
    for node in sorted(params):
        if header:
            lines.append(f"{node}:")
        lines += [f"  {name}" for name in sorted(params[node])]
    return "\n".join(lines)


_KIND = {bool: "Boolean", int: "Integer", float: "Double", str: "String"}


def value_text(value: Any) -> str:
    """``ros2 param get``: ``Double value is: 10.0`` (arrays: ``... array value is: [...]``)."""
    if isinstance(value, (list, tuple)):
        kind = _KIND.get(type(value[0]), "Byte") if value else "Byte"
        return f"{kind} array value is: {list(value)}"
    scalar = _KIND.get(type(value))
    if scalar is None:
        return "Parameter not set."
    return f"{scalar} value is: {value}"


def parse_value(text: str) -> bool | int | float | str:
    """A ``param set`` value read as a YAML scalar, as ``ros2 param set`` reads it."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float, str)) else text


def dump_yaml(nodes: Mapping[str, Mapping[str, Any]]) -> str:
    """``param dump``: ``/**/<node>: ros__parameters: {...}`` for each node, the form
    ``--params-file`` (and ``wildcam bringup --params-file``) reads; names sorted."""
    data = {
        f"/**/{node.strip('/').rsplit('/', 1)[-1]}": {
            "ros__parameters": {name: values[name] for name in sorted(values)}
        }
        for node, values in nodes.items()
    }
    return yaml.safe_dump(data, sort_keys=False)


def hz_text(stamps: Iterable[float]) -> str | None:
    """``ros2 topic hz``'s two lines for the arrival times ``stamps`` (seconds), or None when
    fewer than two messages arrived."""
    times = sorted(stamps)
    if len(times) < 2:
        return None
    gaps = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(gaps) / len(gaps)
    std = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    rate = 1.0 / mean if mean > 0 else math.inf
    return (
        f"average rate: {rate:.3f}\n\tmin: {min(gaps):.3f}s max: {max(gaps):.3f}s "
        f"std dev: {std:.5f}s window: {len(times)}"
    )


def _param(args: argparse.Namespace) -> int:
    from wildcam.ros.introspect import open_introspector

    with open_introspector(args.timeout) as tool:
        if args.param_command == "get":
            print(value_text(tool.get_params(args.node, [args.name])[args.name]))
        elif args.param_command == "set":
            tool.set_param(args.node, args.name, args.value)
            print("Set parameter successful")
        else:
            nodes = [full_name(args.node)] if args.node else tool.node_names()
            names: dict[str, list[str]] = {}
            for node in nodes:
                try:
                    names[node] = tool.list_params(node)
                except WildcamError as err:
                    if args.node:
                        raise
                    print(f"wildcam param: {node} skipped: {err}", file=sys.stderr)
            nodes = list(names)
            if args.param_command == "list":
                print(list_text(names, header=not args.node))
            else:
                print(dump_yaml({n: tool.get_params(n, names[n]) for n in nodes}), end="")
    return 0


def _topic(args: argparse.Namespace) -> int:
    from wildcam.ros.introspect import message_to_data, open_introspector

    with open_introspector(args.timeout) as tool:
        if args.topic_command == "list":
            for name, types in tool.topics():
                print(f"{name} [{', '.join(types)}]" if args.show_types else name)
            return 0
        if args.topic_command == "echo":

            def write(msg: Any) -> None:
                print(
                    yaml.safe_dump(message_to_data(msg), sort_keys=False), end="---\n", flush=True
                )

            tool.echo(args.topic_name, args.message_type, 1 if args.once else args.times, write)
            return 0
        received = tool.hz(
            args.topic_name,
            args.message_type,
            args.window,
            args.duration,
            lambda text: print(text, flush=True),
        )
        if received < 2:
            print("no new messages", flush=True)
    return 0


def register(sub: Any) -> None:
    """Add ``param`` and ``topic`` to the ``wildcam`` subcommands."""
    timeout = argparse.ArgumentParser(add_help=False)
    timeout.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds to wait for discovery and for each answer (default 5)",
    )
    param = sub.add_parser(
        "param",
        help="list, get, set and dump node parameters (as ros2 param does)",
        description="Node parameters, as ros2 param: list, get, set, dump.",
    )
    psub = param.add_subparsers(dest="param_command", required=True, metavar="SUBCOMMAND")
    p = psub.add_parser(
        "list", parents=[timeout], help="parameter names of a node (default: of every node)"
    )
    p.add_argument("node", nargs="?", default="", help="node name, e.g. /camera_driver")
    p = psub.add_parser("get", parents=[timeout], help="print one parameter's value")
    p.add_argument("node", help="node name, e.g. /camera_driver")
    p.add_argument("name", help="parameter name")
    p = psub.add_parser(
        "set",
        parents=[timeout],
        help="set one parameter (the node checks it and says why it refuses)",
    )
    p.add_argument("node", help="node name, e.g. /camera_driver")
    p.add_argument("name", help="parameter name")
    p.add_argument("value", help="the value, read as YAML: true, 3, 0.5, text")
    p = psub.add_parser(
        "dump",
        parents=[timeout],
        help="print the parameters as the YAML --params-file reads (default: of every node)",
    )
    p.add_argument("node", nargs="?", default="", help="node name, e.g. /camera_driver")
    param.set_defaults(func=_param)

    topic = sub.add_parser(
        "topic",
        help="list, echo and measure the rate of topics (as ros2 topic does)",
        description="Topics, as ros2 topic: list, echo, hz.",
    )
    tsub = topic.add_subparsers(dest="topic_command", required=True, metavar="SUBCOMMAND")
    t = tsub.add_parser("list", parents=[timeout], help="every topic seen")
    t.add_argument("-t", "--show-types", action="store_true", help="print each topic's type")
    for verb, text in (
        ("echo", "print the messages of a topic as YAML"),
        ("hz", "print the rate a topic is published at, every second"),
    ):
        t = tsub.add_parser(verb, parents=[timeout], help=text)
        t.add_argument("topic_name", help="topic name, e.g. /camera/camera_info")
        t.add_argument(
            "message_type",
            nargs="?",
            default="",
            help="message type, e.g. sensor_msgs/msg/CameraInfo (default: the "
            "type the graph publishes it with)",
        )
        if verb == "echo":
            t.add_argument("--once", action="store_true", help="print one message and exit")
            t.add_argument(
                "--times",
                type=int,
                default=None,
                help="print this many messages and exit (default: until Ctrl-C)",
            )
        else:
            t.add_argument(
                "--window",
                "-w",
                type=int,
                default=10000,
                help="messages the rate is computed over (default 10000)",
            )
            t.add_argument(
                "--duration",
                type=float,
                default=None,
                help="stop after this many seconds (default: until Ctrl-C)",
            )
    topic.set_defaults(func=_topic)
