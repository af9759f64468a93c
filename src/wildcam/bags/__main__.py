"""``python -m wildcam.bags SUBCOMMAND ...``: the ``wildcam bag`` tools on their own."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from wildcam.bags.cli import register
from wildcam.rosenv import ros_environment


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` as ``wildcam bag`` arguments and run the subcommand."""
    # Discovery stays on this host; set before anything initialises rclpy.
    os.environ.update(ros_environment())
    parser = argparse.ArgumentParser(prog="python -m wildcam.bags")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bag", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
