"""Cascade detector configuration: the ``cascade_detector`` node's parameters, validated once.

The model ids name entries of the manifest (``default`` takes the manifest's default model for
that stage, ``""`` disables the stage); each model's confidence band comes from the manifest
unless ``stageN_c_low`` / ``stageN_c_high`` override it. ``max_stage`` is the power manager's
lever: the highest
stage the cascade may call. A region whose score stays inside a model's uncertain band at the
last allowed stage is decided by ``decision_threshold``. Frames of one motion event are smoothed
with an exponential average of their per-frame presence, and an event whose frames agree
settles: its later frames are only re-checked now and then (see
:class:`~wildcam.cascade.runner.EventSmoother`).
"""

from __future__ import annotations

from dataclasses import dataclass

from wildcam.errors import ConfigError
from wildcam.params import check_ranges, param, power_profile_param

__all__ = ["DEFAULT_MODEL", "GRAPH_OPTIMIZATIONS", "STAGE3_INPUTS", "CascadeConfig"]

DEFAULT_MODEL = "default"
"""Model id meaning "the manifest's default model for this stage"."""

GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
STAGE3_INPUTS = ("frame", "region")


@dataclass(frozen=True)
class CascadeConfig:
    """The cascade detector's parameters (ROS parameters of the ``cascade_detector`` node)."""

    manifest: str = param(
        "",
        "Model manifest JSON; '' = the package's models/manifest.json "
        "(live: reloads every stage).",
    )
    stage1_model: str = param(
        DEFAULT_MODEL,
        "Stage 1 (tiny ROI classifier) model id in the "
        "manifest; 'default' = the manifest's default, '' disables the "
        "stage (live; a file that fails its manifest check is refused).",
    )
    stage2_model: str = param(
        DEFAULT_MODEL,
        "Stage 2 model id (default: the coarse look, the large model at 320; medium_int8: the "
        "medium student); 'default' or '' as for stage1_model (live).",
    )
    stage3_model: str = param(
        DEFAULT_MODEL,
        "Stage 3 (large detector) model id; 'default' or '' as for stage1_model (live).",
    )
    max_stage: int = param(
        3,
        "Highest stage the cascade may call (live; the power manager lowers it to save energy).",
        min=1,
        max=3,
    )
    stage1_c_low: float = param(
        -1.0,
        "Override of the stage 1 model's c_low (below: "
        "confident background); -1 keeps the manifest's.",
        min=-1.0,
        max=1.0,
    )
    stage1_c_high: float = param(
        -1.0,
        "Override of the stage 1 model's c_high (from here: "
        "confident animal); -1 keeps the manifest's.",
        min=-1.0,
        max=1.0,
    )
    stage2_c_low: float = param(
        -1.0, "Override of the stage 2 model's c_low; -1 keeps the manifest's.", min=-1.0, max=1.0
    )
    stage2_c_high: float = param(
        -1.0, "Override of the stage 2 model's c_high; -1 keeps the manifest's.", min=-1.0, max=1.0
    )
    stage3_c_low: float = param(
        -1.0, "Override of the stage 3 model's c_low; -1 keeps the manifest's.", min=-1.0, max=1.0
    )
    stage3_c_high: float = param(
        -1.0, "Override of the stage 3 model's c_high; -1 keeps the manifest's.", min=-1.0, max=1.0
    )
    decision_threshold: float = param(
        0.5,
        "Score at or above which a region still inside its model's uncertain band at the "
        "last allowed stage counts as an animal.",
        min=0.0,
        max=1.0,
    )
    stage3_input: str = param(
        "frame",
        "What the large model sees: the whole frame once, or each still-unsure region.",
        choices=STAGE3_INPUTS,
    )
    stage3_flip: bool = param(
        False,
        "Test-time flip: the large model also sees the mirrored frame or region and "
        "the two scores are averaged (two calls per view; see bench/results/cascade.json for "
        "energy per image).",
    )
    stage3_tiles: bool = param(
        False,
        "SAHI-style tiles: the large model also sees the 2x2 overlapping tiles of the "
        "frame or region at native resolution (small, distant animals); the best score and "
        "the merged boxes count (five calls per view).",
    )
    people_vehicles: bool = param(
        True,
        "People and vehicles: when a stage decides an animal, the manifest's stage-0 "
        "detector (COCO classes) looks at the frame (a detector's animal; and closer around "
        "a box too small there to tell) or at the area around the region (a student's); an "
        "animal box that a person or vehicle box covers "
        "is that person or vehicle, not an animal, and people seen in the region are "
        "pixelated in the images sent (blur_people). No effect when the manifest has no "
        "stage-0 detector.",
    )
    student_tiles: bool = param(
        False,
        "Students on tiles: on a whole frame (a still) large enough, stages 1 and 2 also score "
        "the grid of overlapping tiles their manifest entry gives; the frame counts against "
        "its own band (night band on grey frames), the best tile against the tile band chosen "
        "on labelled tiles (frame or a tile confidently an animal: animal; frame and every "
        "tile confidently background: background; else escalate). Off: on the calib frames it "
        "did not lower the stage-3 share without losing recall (models/README.md).",
    )
    smoothing_alpha: float = param(
        0.4,
        "Weight of the newest frame in the exponential average of per-frame presence "
        "(1 animal, 0 background) over one motion event, starting from 0; 0.4 needs two "
        "agreeing frames, 1 lets every frame decide alone.",
        min=0.05,
        max=1.0,
    )
    presence_threshold: float = param(
        0.5,
        "Smoothed presence at or above which a motion event (and its frames) count as an animal.",
        min=0.0,
        max=1.0,
    )
    settle_frames: int = param(
        3,
        "Analysed frames in a row that must agree (with each other and the smoothed "
        "presence) for a motion event to settle: its later frames are not analysed except a "
        "re-check every recheck_s; 0 analyses every frame.",
        min=0,
        max=100,
    )
    recheck_s: float = param(
        2.0,
        "Seconds of frame time between re-checks of a settled event (a re-check that "
        "disagrees un-settles it); 0 never re-checks. An event settled on background is also "
        "re-checked at once when motion shows up outside the regions it was checked on.",
        min=0.0,
        max=600.0,
    )
    stage3_trust_s: float = param(
        1.0,
        "Seconds of frame time after stage 3 found an animal in a motion event during "
        "which regions of that event still unsure below stage 3 count as animals without "
        "calling stage 3; 0 always calls stage 3.",
        min=0.0,
        max=600.0,
    )
    attach_full_frame: bool = param(
        False, "Put a JPEG of the whole frame in DetectionArray.full_frame (live)."
    )
    blur_people: bool = param(
        True,
        "Pixelate the people the people-and-vehicles check found in the thumbnail and full "
        "frame before they are published (and so uploaded); false sends them as taken.",
    )
    jpeg_quality: int = param(
        85, "JPEG quality of thumbnails and attached full frames.", min=10, max=100
    )
    onnx_threads: int = param(
        1,
        "ONNX Runtime intra-op threads per model; 0 = one per core (live: reloads the models).",
        min=0,
        max=16,
    )
    graph_optimization: str = param(
        "all",
        "ONNX Runtime graph optimisation level (live: reloads).",
        choices=GRAPH_OPTIMIZATIONS,
    )
    execution_provider: str = param(
        "CPUExecutionProvider",
        "ONNX Runtime execution provider; one this host's onnxruntime offers (live: reloads).",
    )
    onnx_mem_arena: bool = param(
        False,
        "Keep ONNX Runtime's CPU memory arena: tensors freed after a run stay reserved, "
        "so each session holds its peak (the large detector's tens of MB) between runs; "
        "results are the same (live: reloads).",
    )
    onnx_mem_pattern: bool = param(
        False,
        "Let ONNX Runtime preallocate one planned block for all of a run's tensors "
        "(its default: fewer allocations per run, more memory held); results are the same "
        "(live: reloads).",
    )
    stage3_lazy: bool = param(
        True,
        "Create the stage 3 session only when a region first needs it and drop it "
        "while max_stage < 3 or after stage3_idle_unload_s unused (the small board's memory); "
        "its file is checked when configured (at start-up its sha256 only). Decisions are the "
        "same; false loads it at start (live: reloads stage 3).",
    )
    stage3_idle_unload_s: float = param(
        # 0 by default: each reload is one more session creation, metered as stage-3 energy
        # (bench/memory.py records its time as stage3_load_ms). A Pi Zero 2 W wants ~60 s.
        0.0,
        "With stage3_lazy: wall seconds without a stage 3 call after which its session "
        "is dropped until the next need (memory back between events, one session creation "
        "per reload); 0 keeps it once loaded, until max_stage < 3 (live).",
        min=0.0,
        max=86400.0,
    )
    power_profile: str = power_profile_param()
    frame_buffer: int = param(
        30,
        "Full frames held while their motion event has not arrived.",
        min=1,
        max=1000,
        read_only=True,
    )
    pre_event_s: float = param(
        1.5,
        "Full frames stamped up to this long before an event's "
        "start (the camera's pre-event buffer) belong to that event.",
        min=0.0,
        max=60.0,
        read_only=True,
    )

    def __post_init__(self) -> None:
        check_ranges(self)

    def band(self, stage: int, c_low: float, c_high: float) -> tuple[float, float]:
        """The band of ``stage`` given its model's ``[c_low, c_high)`` and the overrides.

        An override below 0 keeps the model's bound; ``c_high`` is raised to ``c_low`` if an
        override would put it below.
        """
        self.model_id(stage)  # checks the stage number
        low: float = getattr(self, f"stage{stage}_c_low")
        high: float = getattr(self, f"stage{stage}_c_high")
        low = c_low if low < 0 else low
        high = c_high if high < 0 else high
        return low, max(high, low)

    def model_id(self, stage: int) -> str:
        """The configured model id of ``stage`` (1..3)."""
        if stage not in (1, 2, 3):
            raise ConfigError(f"stage must be 1, 2 or 3, got {stage}")
        value: str = getattr(self, f"stage{stage}_model")
        return value
