"""From a :class:`CascadeConfig` to loaded stage models: manifest, ids, runtime options.

``stageN_model`` names a manifest entry (``default``: the manifest's default for the stage, if any,
``""``: the stage is disabled). Every file is checked by
:func:`wildcam.cascade.onnx_models.load_model` (sha256, inputs, outputs) before it is used, so
a bad file raises :class:`ModelError` and whoever holds the previous model keeps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wildcam.cascade.base import STAGES, LabelledBox, StageModel
from wildcam.cascade.config import DEFAULT_MODEL, CascadeConfig
from wildcam.cascade.lazy import LazyModel, check_model
from wildcam.cascade.manifest import (
    ANIMAL_DETECTOR,
    OBJECTS_STAGE,
    Manifest,
    ModelEntry,
    default_manifest_path,
)
from wildcam.cascade.objects import (
    MATCH_IOU,
    ObjectDetector,
    PeopleVehicles,
    load_objects,
    looking_at,
)
from wildcam.cascade.onnx_models import RuntimeOptions, load_model
from wildcam.errors import ModelError
from wildcam.types import Image

__all__ = [
    "LAZY_STAGE",
    "RELOAD_ALL",
    "last_frame",
    "load_stages",
    "manifest_path",
    "people_vehicles_check",
    "resolve",
    "runtime_options",
    "stages_to_reload",
    "takes_people_vehicles_check",
]

RELOAD_ALL = (
    "manifest",
    "onnx_threads",
    "graph_optimization",
    "execution_provider",
    "onnx_mem_arena",
    "onnx_mem_pattern",
)
"""Settings whose change reloads every stage."""
LAZY_STAGE = 3
"""The stage ``stage3_lazy`` loads on first need (the large detector)."""


def manifest_path(config: CascadeConfig) -> Path:
    """The manifest the config names (the package's when ``manifest`` is empty)."""
    return Path(config.manifest).expanduser() if config.manifest else default_manifest_path()


def runtime_options(config: CascadeConfig) -> RuntimeOptions:
    """ONNX Runtime session settings of the config (ConfigError if the provider is missing)."""
    return RuntimeOptions(
        threads=config.onnx_threads,
        graph_optimization=config.graph_optimization,
        execution_provider=config.execution_provider,
        mem_arena=config.onnx_mem_arena,
        mem_pattern=config.onnx_mem_pattern,
    )


def resolve(manifest: Manifest, stage: int, model_id: str) -> ModelEntry | None:
    """The entry ``model_id`` names for ``stage``; ModelError if it is wrong.

    None means the stage is disabled: ``model_id`` is empty, or ``default`` and the manifest
    names no default for the stage.
    """
    if not model_id or (model_id == DEFAULT_MODEL and stage not in manifest.defaults):
        return None
    entry = manifest.default_for(stage) if model_id == DEFAULT_MODEL else manifest.entry(model_id)
    if entry.stage != stage:
        raise ModelError(
            f"model {entry.model_id!r} is a stage {entry.stage} model; "
            f"it cannot serve stage {stage}"
        )
    return entry


def stages_to_reload(old: CascadeConfig, new: CascadeConfig) -> set[int]:
    """The stages whose model must be (re)loaded when ``old`` becomes ``new``."""
    if any(getattr(old, k) != getattr(new, k) for k in RELOAD_ALL):
        return set(STAGES)
    if old.people_vehicles != new.people_vehicles:  # it wraps every detector stage
        return set(STAGES)
    lazy = {LAZY_STAGE} if old.stage3_lazy != new.stage3_lazy else set()
    return lazy | {s for s in STAGES if old.model_id(s) != new.model_id(s)}


def load_stages(
    config: CascadeConfig, stages: set[int] | None = None, *, check_lazy_io: bool = True
) -> dict[int, StageModel | None]:
    """Load the configured model of each of ``stages`` (all by default); None = disabled.

    With ``stage3_lazy`` stage 3's file is checked now (its sha256; also its inputs and outputs
    with ``check_lazy_io``) and its session created on first use (a
    :class:`~wildcam.cascade.lazy.LazyModel`). Raises :class:`ModelError` for a missing/bad
    manifest or model file, :class:`ConfigError` for unusable runtime options; nothing is
    returned half-loaded.
    """
    wanted = set(STAGES) if stages is None else stages
    manifest = Manifest.load(manifest_path(config))
    options = runtime_options(config)
    checked: Callable[[StageModel], StageModel] | None = None  # one detector for all
    out: dict[int, StageModel | None] = {}
    for stage in sorted(wanted):
        entry = resolve(manifest, stage, config.model_id(stage))
        model: StageModel | None
        if entry is None:
            model = None
        elif stage == LAZY_STAGE and config.stage3_lazy:
            check_model(entry, manifest.directory, options, io=check_lazy_io)
            model = LazyModel(entry, manifest.directory, options)
        else:
            model = load_model(entry, manifest.directory, options)
        wrap = entry is not None and takes_people_vehicles_check(entry)
        if model is not None and wrap and config.people_vehicles:
            checked = checked or people_vehicles_check(
                manifest, options, config.stage3_lazy, check_lazy_io
            )
            model = checked(model)
        out[stage] = model
    return out


def takes_people_vehicles_check(entry: ModelEntry) -> bool:
    """Whether stage model ``entry`` gets the people-and-vehicles check: the animal detectors
    (the large model, the coarse look) fire on people and cars."""
    return entry.decoding == ANIMAL_DETECTOR


def people_vehicles_check(
    manifest: Manifest,
    options: RuntimeOptions | None = None,
    lazy: bool = False,
    check_lazy_io: bool = True,
) -> Callable[[StageModel], StageModel]:
    """A function that gives a detector stage model the manifest's people-and-vehicles check
    (:class:`~wildcam.cascade.objects.PeopleVehicles`, which the runner also lends to the
    students' animals), one stage-0 detector shared by every model it wraps; it returns the
    model itself when the manifest has no stage-0 detector.
    With ``lazy`` the detector's file is checked now (as the lazy stage 3's,
    ``check_lazy_io``) and its session created on the first frame that needs it."""
    if OBJECTS_STAGE not in manifest.defaults:
        return lambda model: model
    entry = manifest.default_for(OBJECTS_STAGE)
    options = options or RuntimeOptions()
    match = float(entry.info.get("match_iou", MATCH_IOU))
    if lazy:
        check_model(entry, manifest.directory, options, io=check_lazy_io)
        loaded: list[ObjectDetector] = []

        def detect(image: Image) -> list[LabelledBox]:
            if not loaded:
                loaded.append(load_objects(entry, manifest.directory, options))
            return loaded[0].detect(image)

    else:
        detect = load_objects(entry, manifest.directory, options).detect
    once = last_frame(detect)
    look = looking_at(detect, entry.input.context)
    side = entry.input.size[1]
    return lambda model: PeopleVehicles(
        model, once, entry.c_high, match, entry.model_id, look, side
    )


def last_frame(
    detect: Callable[[Image], list[LabelledBox]],
) -> Callable[[Image], list[LabelledBox]]:
    """``detect`` answering again from memory for the frame it saw last: a frame the coarse
    look checked and sent on to the large model is not checked twice. A frame is the same
    when it has the same shape and the same bytes at every 4th pixel of every 4th row."""
    last: list[tuple[bytes, list[LabelledBox]]] = []

    def detect_once(image: Image) -> list[LabelledBox]:
        key = hashlib.blake2b(repr(image.shape).encode())
        key.update(np.ascontiguousarray(image[::4, ::4]).data)
        digest = key.digest()
        if not last or last[0][0] != digest:
            last[:] = [(digest, detect(image))]
        return list(last[0][1])

    return detect_once
