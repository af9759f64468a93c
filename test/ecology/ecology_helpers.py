"""Ecology test helpers: the MegaDetector project's validator (test-only, ``make test``
installs it into build/md-validator) and the Camtrap DP specification (../shared/specs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


REPO = Path(__file__).resolve().parents[2]
MD_VALIDATOR = REPO / "build" / "md-validator"

_VALIDATE = """
import json, sys
from megadetector.postprocessing.validate_batch_results import (
    ValidateBatchResultsOptions, validate_batch_results)
options = ValidateBatchResultsOptions()
options.check_image_existence = len(sys.argv) > 2
options.relative_path_base = sys.argv[2] if len(sys.argv) > 2 else None
print(json.dumps(validate_batch_results(sys.argv[1], options)["validation_results"],
                 default=dict))
"""


def md_validate(path: Path, image_base: Path | None = None) -> dict[str, Any]:
    """The MegaDetector project's validator's verdict on ``path`` (errors, warnings)."""
    if not (MD_VALIDATOR / ".installed").is_file():
        pytest.skip("the megadetector validator is not installed in build/md-validator "
                    "(make test-extras installs it from PyPI)")
    env = {**os.environ, "PYTHONPATH": str(MD_VALIDATOR)}
    args = [sys.executable, "-c", _VALIDATE, str(path)] + ([str(image_base)] if image_base else [])
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
