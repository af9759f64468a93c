"""The ``wildcam bag`` command: ``record``, ``play``, ``info`` and ``generate``.

:func:`register` adds the command to the project's CLI (``wildcam.cli``); ``python -m
wildcam.bags`` runs the same subcommands on their own. Handlers return an exit code: 0 on
success; a :class:`~wildcam.errors.WildcamError` (a bad bag, a bad setting) goes to
``wildcam.cli.main``, which prints it and exits with its code. The record and play handlers
need the ROS environment of :func:`wildcam.rosenv.ros_environment` in ``os.environ`` (the CLIs
apply it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from wildcam.bags.storage import DEFAULT_STORAGE, STORAGES
from wildcam.errors import InputError
from wildcam.types import PRESET_NAMES

__all__ = ["register"]

_STORAGES = tuple(sorted(STORAGES))


def _record(args: argparse.Namespace) -> int:
    """Record topics until the duration, the message limit, or SIGINT/SIGTERM."""
    from wildcam.bags.record import record

    if bool(args.all) == bool(args.topics):
        raise InputError("name topics to record, or pass --all (not both)")
    output = (
        Path(args.output)
        if args.output
        else Path(dt.datetime.now().strftime("rosbag2_%Y_%m_%d-%H_%M_%S"))
    )

    def ready(_node: object) -> None:
        print(f"recording to {output} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    result = record(
        output,
        None if args.all else list(args.topics),
        storage=args.storage,
        duration_s=args.duration,
        max_messages=args.max_messages,
        on_ready=ready,
    )
    for topic, count in sorted(result.counts.items()):
        print(f"{topic}: {count} messages [{result.types[topic]}]")
    print(f"wrote {result.message_count} messages to {result.path}")
    return 0


def _play(args: argparse.Namespace) -> int:
    """Play a bag back onto the graph."""
    from wildcam.bags.play import ACK_TIMEOUT_S, play

    if args.wait_for_all_acked is None:
        args.wait_for_all_acked = ACK_TIMEOUT_S
    result = play(
        Path(args.bag),
        rate=args.rate,
        loop=args.loop,
        topics=args.topics,
        start_offset_s=args.start_offset,
        clock=args.clock,
        wait_for_subscribers_s=args.wait_for_subscribers,
        wait_for_all_acked_s=args.wait_for_all_acked,
    )
    print(
        f"published {result.published} messages"
        + (f" in {result.loops} complete loops" if args.loop else "")
        + (" (interrupted)" if result.interrupted else "")
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    """Print what a bag holds."""
    from wildcam.bags.info import info

    print(info(Path(args.bag), verify=not args.no_verify, check=args.check))
    return 0


def _generate(args: argparse.Namespace) -> int:
    """Write a synthetic-scene bag and its ground truth."""
    import dataclasses

    from wildcam.bags.generate import generate
    from wildcam.camera.presets import scene_preset

    scene = scene_preset(args.preset, args.seed, args.duration)
    changes = {
        name: value
        for name, value in (("width", args.width), ("height", args.height), ("fps", args.fps))
        if value is not None
    }
    if changes:
        try:
            scene = dataclasses.replace(scene, **changes)
        except TypeError as err:
            raise InputError(str(err)) from err
    result = generate(
        Path(args.output),
        scene,
        storage=args.storage,
        full_frames=args.full_frames,
        reduce_factor=args.reduce_factor,
        ground_truth=Path(args.ground_truth) if args.ground_truth else None,
    )
    print(
        f"wrote {result.frames} frames ({result.message_count} messages) to {result.path}; "
        f"ground truth in {result.ground_truth}"
    )
    return 0


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bag`` command, with its subcommands, to ``subparsers``."""
    bag = subparsers.add_parser(
        "bag",
        help="record, play, inspect and generate rosbag2 bags",
        description="Record, play, inspect and generate rosbag2 bags.",
    )
    sub = bag.add_subparsers(dest="bag_command", required=True, metavar="SUBCOMMAND")

    rec = sub.add_parser("record", help="record live topics into a bag")
    rec.add_argument("topics", nargs="*", help="topics to record")
    rec.add_argument("--all", "-a", action="store_true", help="record every topic discovered")
    rec.add_argument(
        "-o", "--output", help="bag directory to create (default: rosbag2_<date>-<time>)"
    )
    rec.add_argument(
        "--storage",
        choices=_STORAGES,
        default=DEFAULT_STORAGE,
        help=f"storage plugin (default {DEFAULT_STORAGE}, as ros2 bag)",
    )
    rec.add_argument(
        "--duration", type=_positive_float, default=None, help="stop after this many seconds"
    )
    rec.add_argument(
        "--max-messages",
        type=_positive_int,
        default=None,
        help="stop after this many messages in all",
    )
    rec.set_defaults(func=_record)

    ply = sub.add_parser("play", help="publish a bag's messages with their recorded timing")
    ply.add_argument("bag", help="bag directory (or .db3/.mcap file)")
    ply.add_argument("--rate", type=_positive_float, default=1.0, help="speed factor")
    ply.add_argument("--loop", action="store_true", help="repeat until interrupted")
    ply.add_argument("--topics", nargs="+", default=None, help="play only these topics")
    ply.add_argument(
        "--start-offset",
        type=float,
        default=0.0,
        help="skip this many seconds from the start of the bag",
    )
    ply.add_argument("--clock", action="store_true", help="publish the bag time on /clock")
    ply.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for a subscriber on every topic first",
    )
    ply.add_argument(
        "--wait-for-all-acked",
        type=float,
        default=None,
        metavar="SECONDS",
        help="at the end, wait up to this long for reliable subscribers to "
        "acknowledge the last messages (default 3.5; 0: do not wait)",
    )
    ply.set_defaults(func=_play)

    inf = sub.add_parser("info", help="print a bag's storage, duration and topics")
    inf.add_argument("bag", help="bag directory (or .db3/.mcap file)")
    inf.add_argument(
        "--no-verify",
        action="store_true",
        help="trust the metadata; skip checking the storage files",
    )
    inf.add_argument(
        "--check",
        action="store_true",
        help="also check every byte: MCAP chunk CRCs, every sqlite3 row decodes",
    )
    inf.set_defaults(func=_info)

    gen = sub.add_parser(
        "generate", help="write a bag of the synthetic scene and its ground truth"
    )
    gen.add_argument("-o", "--output", required=True, help="bag directory to create")
    gen.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="default",
        help="synthetic scene (default: a short clip with animal visits)",
    )
    gen.add_argument(
        "--seed", type=int, default=0, help="random seed of the scene (same seed, same scene)"
    )
    gen.add_argument(
        "--duration",
        type=_positive_float,
        default=None,
        help="scene seconds (default: the preset's)",
    )
    gen.add_argument("--width", type=_positive_int, default=None, help="full-frame width")
    gen.add_argument("--height", type=_positive_int, default=None, help="full-frame height")
    gen.add_argument("--fps", type=_positive_float, default=None, help="frames per second")
    gen.add_argument(
        "--full-frames", action="store_true", help="also write camera/image_raw (bgr8)"
    )
    gen.add_argument(
        "--reduce-factor",
        type=_positive_int,
        default=4,
        help="camera/small/image_raw is the frame reduced by this factor",
    )
    gen.add_argument(
        "--storage",
        choices=_STORAGES,
        default=DEFAULT_STORAGE,
        help=f"storage plugin (default {DEFAULT_STORAGE}, as ros2 bag)",
    )
    gen.add_argument(
        "--ground-truth",
        default=None,
        help="ground-truth JSON path (default: <output>/ground_truth.json)",
    )
    gen.set_defaults(func=_generate)
