"""``python -m wildcam.bags SUBCOMMAND ...``: the ``wildcam bag`` tools on their own."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from wildcam.cli import main as wildcam_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``argv`` as ``wildcam bag`` arguments (same errors and exit codes)."""
    return wildcam_main(["bag", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
