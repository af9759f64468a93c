"""A stage model whose ONNX Runtime session exists only while it is needed (the small board).

The large detector's session is most of the cascade's memory, and most motion events never
reach stage 3. :class:`LazyModel` answers a stage's ``model_id``, ``stage`` and band from its
manifest entry alone, so the cascade treats it like a loaded model; the session is created on
the first :meth:`~LazyModel.predict` and dropped again by :meth:`~LazyModel.unload` (when the
power manager caps the cascade below the stage, or after a quiet spell). A lazy stage decides
exactly what an eagerly loaded one decides: the same file, the same session settings.

The file is checked when the model is configured (:func:`check_model`: sha256, then a
throw-away session's inputs and outputs against the entry), so a bad file is refused at once;
at start-up only its sha256 is (the session is what a lazy start saves). Loading reads and
hashes the bytes again and checks inputs and outputs, so a file replaced on disk since fails
its first use with :class:`~wildcam.errors.ModelError` instead of running.
"""

from __future__ import annotations

import ctypes
import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from wildcam.cascade.base import RegionResult
from wildcam.cascade.manifest import ModelEntry
from wildcam.cascade.onnx_models import (
    OnnxClassifier,
    OnnxDetector,
    RuntimeOptions,
    load_model,
    open_session,
    read_checked,
)
from wildcam.types import Box, Image

__all__ = ["LazyModel", "check_model", "lazy_of", "release_memory"]


def release_memory() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``; else nothing).

    A dropped session's memory is free to the process but still counted in its RSS until the
    allocator returns it.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols: libc's, on Linux
    except (OSError, AttributeError):  # not glibc
        pass


def check_model(
    entry: ModelEntry, manifest_dir: Path, options: RuntimeOptions, io: bool = True
) -> None:
    """Check ``entry``'s file as :func:`load_model` does, keeping nothing loaded.

    Without ``io`` only its sha256 is checked (a start-up that should not pay for a session);
    with it a throw-away session, without graph optimisation or preallocation (neither changes
    what is checked), compares inputs and outputs with the entry. Raises
    :class:`~wildcam.errors.ModelError` if the file is bad.
    """
    if not io:
        read_checked(entry, manifest_dir)
        return
    cheap = dataclasses.replace(
        options, graph_optimization="disable", mem_arena=False, mem_pattern=False
    )
    open_session(entry, manifest_dir, cheap)
    release_memory()


class LazyModel:
    """A checked stage model loaded on first use and droppable at any time.

    ``loads`` counts sessions created; ``last_used`` is the ``clock`` time of the last
    :meth:`predict` (None before the first).
    """

    def __init__(
        self,
        entry: ModelEntry,
        manifest_dir: Path,
        options: RuntimeOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entry = entry
        self.model_id = entry.model_id
        self.stage = entry.stage
        self.c_low = entry.c_low
        self.c_high = entry.c_high
        self.c_high_night = entry.c_high_night
        self.tiles = entry.tiles
        self._dir = Path(manifest_dir)
        self._options = options
        self._clock = clock
        self._model: OnnxClassifier | OnnxDetector | None = None
        self.loads = 0
        self.last_used: float | None = None

    @property
    def loaded(self) -> bool:
        """Whether the session is in memory now."""
        return self._model is not None

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        """Score each region of ``image``, creating the session first if it is not loaded."""
        if self._model is None:
            self._model = load_model(self.entry, self._dir, self._options)
            self.loads += 1
        self.last_used = self._clock()
        results = self._model.predict(image, regions)
        if not self._options.mem_arena:
            release_memory()  # the run's tensors: tens of MB for the detector, freed but held
        return results

    def unload(self) -> bool:
        """Drop the session and return its memory; whether one was loaded."""
        if self._model is None:
            return False
        self._model = None
        release_memory()
        return True

    def idle_for(self) -> float:
        """Seconds since the last :meth:`predict` (0 when it never ran)."""
        return 0.0 if self.last_used is None else self._clock() - self.last_used

    def unload_unneeded(self, max_stage: int, idle_unload_s: float) -> bool:
        """Drop the session when the cascade may not call this stage (``max_stage`` below it)
        or it went ``idle_unload_s`` seconds unused (0: never for idleness); whether it did."""
        if max_stage < self.stage or 0 < idle_unload_s <= self.idle_for():
            return self.unload()
        return False


def lazy_of(model: object) -> LazyModel | None:
    """The :class:`LazyModel` that serves ``model`` (itself, or the large model a wrapper such
    as the people-and-vehicles check holds in ``model``); ``None`` when it is eager."""
    inner = getattr(model, "model", model)
    return inner if isinstance(inner, LazyModel) else None
