"""``wildcam`` command line: run the demo, bring up the graph, bag tools, docs."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wildcam.errors import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, InputError, WildcamError
from wildcam.logs import to_terminal
from wildcam.rosenv import ros_environment
from wildcam.types import PRESET_NAMES, SOURCE_KINDS

__all__ = ["CORE_COMMANDS", "PLUGINS", "build_parser", "checked_apart", "main"]

CORE_COMMANDS = ("run", "bringup", "docs")
"""Subcommands defined here."""
PLUGINS = (
    "wildcam.cascade.cli",
    "wildcam.ecology.cli",
    "wildcam.gateway.cli",
    "wildcam.power.cli",
    "wildcam.power.wake.cli",
    "wildcam.service",
    "wildcam.introspect",
    "wildcam.bags.cli",
    "wildcam.report.cli",
)
"""Modules whose ``register(subparsers)`` adds the other subcommands (eval, detect, gateway,
power-sim, lifetime, rtc-sleep, install-service, param, topic, bag, report)."""


def checked_apart(files: Sequence[Path], specs: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """:func:`wildcam.config_check.check_sources` run in a short-lived child process: the
    config classes import OpenCV and numpy, which the supervisor (resident for months) should
    not hold. Its :class:`~wildcam.errors.ConfigError` is raised here."""
    import multiprocessing

    from wildcam.config_check import check_sources

    with multiprocessing.get_context("fork").Pool(1) as pool:
        values: dict[str, dict[str, Any]] = pool.apply(
            check_sources, (list(files),), {"nodes": list(specs)}
        )
    return values


def _bringup(args: argparse.Namespace) -> int:
    import time

    from wildcam.bringup import (
        Supervisor,
        default_params_file,
        own_queue_params,
        run_composed,
        select,
    )
    from wildcam.upload.config import default_state_dir

    specs = select(args.nodes, args.with_nodes)
    params = Path(args.params_file) if args.params_file else default_params_file()
    files = [params]
    values = checked_apart(files, specs)  # everything checked before anything starts
    if any(s.name == "uploader" for s in specs):
        state = default_state_dir() / "bringup" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        queue = own_queue_params(values, state)
        if queue is not None:
            files.append(queue)
            logging.getLogger("wildcam.bringup").info(
                f"upload queue: {state / 'queue'} (this bringup's own; set uploader.queue_dir "
                "to choose one)"
            )
    if args.composed:
        code = run_composed(specs, files, args.namespace, args.use_sim_time)
        return EXIT_USAGE if code == EXIT_CONFIG else code
    supervisor = Supervisor(
        specs,
        files,
        namespace=args.namespace,
        use_sim_time=args.use_sim_time,
        max_restarts=args.max_restarts,
        backoff_s=args.backoff,
        log_level=args.log_level,
    )
    return supervisor.run(args.duration)


def _run(args: argparse.Namespace) -> int:
    from wildcam.run.main import run
    from wildcam.run.plan import RunOptions

    fields = {f.name for f in dataclasses.fields(RunOptions)}
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    for name in ("params", "with_nodes"):
        if name in given:
            given[name] = tuple(given[name])
    return run(RunOptions(**given))


def _docs(args: argparse.Namespace) -> int:
    import yaml

    from wildcam.docs import default_parameters, node_tables, update_readme

    if args.yaml:
        print(yaml.safe_dump(default_parameters(), sort_keys=False), end="")
    elif args.write:
        if not Path(args.write).is_file():
            raise InputError(f"{args.write} not found")
        changed = update_readme(Path(args.write))
        print(f"{args.write}: {'updated' if changed else 'already up to date'}")
    else:
        print(node_tables())
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand; of the core ones only when ``command`` is one.

    The subcommands of :data:`PLUGINS` import their package to register, so a core command
    (``wildcam bringup`` supervising a trap for months) leaves them unimported.
    """
    parser = argparse.ArgumentParser(
        prog="wildcam",
        description="wildcam command line: run the demo, bring up the graph, "
        "inspect and set parameters and topics, bag tools, reports, docs. Exit codes: 0 "
        "success, 1 the run failed, 2 bad input or configuration.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    # The run's defaults are RunOptions' (wildcam.run.plan): every flag is None unless given;
    # each dest is the RunOptions field it sets.
    run = sub.add_parser(
        "run",
        help="the whole graph on a compressed synthetic day (or a real "
        "source), recorded, with a live progress line and out/report.html",
    )
    run.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="synthetic scene: day (24 h compressed, the default), default (a "
        "short clip), empty (no animals), nuisance (moving vegetation, no animals)",
    )
    run.add_argument(
        "--seed", type=int, help="random seed of the synthetic scene (same seed, same scene)"
    )
    run.add_argument(
        "--speed",
        type=float,
        help="scene seconds per wall second (the camera runs at speed × scene fps)",
    )
    run.add_argument(
        "--duration",
        type=float,
        dest="duration_s",
        metavar="DURATION",
        help="scene seconds to play (default: the whole scene); with a real "
        "source, wall seconds to run (default 60)",
    )
    run.add_argument(
        "--day-length",
        type=float,
        dest="day_length_s",
        metavar="DAY_LENGTH",
        help="scene seconds the day preset compresses 24 h into (default 240)",
    )
    run.add_argument("--out", type=Path, help="where the bag, logs and report go")
    run.add_argument(
        "--source",
        choices=SOURCE_KINDS,
        help="camera source; file/folder/device play --uri (no ground truth)",
    )
    run.add_argument("--uri", help="video file, image folder or V4L2 device")
    run.add_argument("--gateway-url", help="a remote gateway (default: start one on 127.0.0.1)")
    run.add_argument("--token-file", help="the remote gateway's bearer token file")
    run.add_argument(
        "--param",
        action="append",
        dest="params",
        metavar="NODE.NAME=VALUE",
        help="set a node parameter (repeatable), e.g. power_source.backend=sysfs",
    )
    run.add_argument(
        "--keep-gateway",
        action="store_true",
        default=None,
        help="keep the local gateway serving the review page after the run, until Ctrl-C",
    )
    run.add_argument(
        "--with",
        dest="with_nodes",
        action="append",
        metavar="NODE",
        help="also start this on-request node (repeatable), e.g. mqtt_bridge with "
        "--param mqtt_bridge.broker_host=... (the run plays the scene's PIR itself)",
    )
    run.set_defaults(func=_run)

    bring = sub.add_parser("bringup", help="start the node table's graph (as ros2 launch would)")
    bring.add_argument(
        "--params-file", default="", help="parameters YAML (default: the package's)"
    )
    bring.add_argument(
        "--namespace", default="", help="ROS namespace of every node (default: none)"
    )
    bring.add_argument(
        "--use-sim-time",
        action="store_true",
        help="nodes follow /clock (start sim_clock too, or play a bag with --clock)",
    )
    bring.add_argument(
        "--composed",
        action="store_true",
        help="all nodes in one process on one SingleThreadedExecutor",
    )
    bring.add_argument(
        "--nodes",
        nargs="*",
        help="start only these nodes of the table (default: "
        "all but the on-request ones: sim_clock, pir_trigger, mqtt_bridge)",
    )
    bring.add_argument(
        "--with",
        dest="with_nodes",
        action="append",
        default=[],
        metavar="NODE",
        help="also start this on-request node (repeatable), e.g. pir_trigger or mqtt_bridge",
    )
    bring.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    bring.add_argument(
        "--max-restarts",
        type=int,
        default=5,
        help="respawns of one node within 60 s before giving up (exit 1)",
    )
    bring.add_argument(
        "--backoff",
        type=float,
        default=0.5,
        help="first respawn delay in seconds; doubles per failure, at most 10 s",
    )
    bring.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warn", "error", "fatal"),
        help="the nodes' ROS log level (default: info)",
    )
    bring.set_defaults(func=_bringup)

    docs = sub.add_parser("docs", help="print the node/topic/parameter tables")
    docs.add_argument("--write", metavar="README", help="update the generated section in place")
    docs.add_argument("--yaml", action="store_true", help="print the default parameters file")
    docs.set_defaults(func=_docs)

    if command is None:
        for module in PLUGINS:
            try:
                importlib.import_module(module).register(sub)
            except ImportError:  # bag tools (and the report) need rosbags; the rest works without
                pass
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wildcam`` command.

    Exit codes of every verb: 0 success, 1 the run itself failed, 2 bad input or configuration
    (a :class:`~wildcam.errors.WildcamError` says which: one line on stderr, no traceback; so
    does an ``OSError`` on a named file). Verbs raise; none prints its own errors.
    """
    # Every ROS process started from here (bringup children, bag play/record) stays on this host.
    os.environ.update(ros_environment())
    to_terminal()  # library logs: [part] message
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in CORE_COMMANDS else None).parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # `wildcam bag info ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except WildcamError as err:
        print(f"wildcam {_verb(args)}: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if err.filename is None:
            raise
        # a file named on the command line (--file, --out, --store): bad input
        print(f"wildcam {_verb(args)}: {err.strerror or err}: {err.filename}", file=sys.stderr)
        return EXIT_USAGE
    return code


def _verb(args: argparse.Namespace) -> str:
    """The verb and subcommand run, e.g. ``bag info`` (``bag_command`` holds ``info``)."""
    sub = getattr(args, f"{args.command.replace('-', '_')}_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


if __name__ == "__main__":
    sys.exit(main())
