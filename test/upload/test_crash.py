"""kill -9 of the uploader at random moments during active upload: every item stored before
the kill reaches the gateway exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

from wildcam.gateway import Gateway
from wildcam.upload.queue import DurableQueue

# The crash harness and its worker live with the uploader benchmark, which runs them too.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from upload_crash import run_trials, verify  # type: ignore[import-not-found]

TRIALS = 10


def test_kill9_during_upload_loses_and_duplicates_nothing(
    tmp_path: Path, gateway: Gateway, token_file: Path
) -> None:
    report = run_trials(tmp_path / "queue", gateway.url, token_file, TRIALS, seed=1)
    report = verify(report, gateway.store.items(limit=100000), TRIALS)
    assert report.killed_with_queue == TRIALS  # each worker really was killed mid-run
    assert len(report.stored) >= TRIALS
    assert report.lost == []
    assert report.duplicates == []
    assert report.unexpected == []
    queue = DurableQueue(tmp_path / "queue", 10**9, 3600)
    assert queue.check() == [] and queue.stats().depth == 0
    assert gateway.store.counters()["stored"] >= len(report.stored)
