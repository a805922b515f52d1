"""One upscaling job as the CLI describes it (`UpscaleJob`), its progress and its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vsrup.interface.method import MethodOptions


@dataclass
class UpscaleJob:
    """Everything one run needs; the CLI maps its options onto these fields one to one."""

    input: Path
    output: Path
    method: str = "lanczos"
    scale: float | None = 2
    width: int | None = None
    height: int | None = None
    options: MethodOptions = field(default_factory=MethodOptions)
    encode: object | None = None  # vsrup.video.writer.EncodeSettings
    frames: str | None = None  # "A:B"
    start: float | None = None
    duration: float | None = None
    ignore_errors: bool = False
    overwrite: bool = False
    device: str = "auto"
    dtype: str = "auto"
    batch: int | None = None
    color_fix: str = "none"  # none | adain | wavelet
    #: Temporal-consistency stage: auto (learned per-frame methods) | on | off.
    temporal: str = "auto"
    offload: str = "none"  # none | model | sequential
    vram: float | None = None  # GB budget that chooses the spatial tile
    compile: bool = False
    tile: int | None = None  # spatial tile override (input pixels)
    #: Encode through the resume store's segments (an interrupted job continues).
    checkpoint: bool = True
    #: Require an unfinished job to continue (an error names what differs when none matches).
    resume: bool = False
    work_dir: Path | None = None
    #: Frames per resume segment (None: by the method's speed, `segment_frames`).
    segment_frames: int | None = None
    #: Whole-video methods: cut into independent shots at hard scene changes.
    scene_cuts: bool = False
    #: Frame rate given to an image sequence (24 when None); videos keep their timestamps.
    fps: float | None = None


@dataclass
class Progress:
    #: Frames finished; fractional while a long window computes (steps × tiles).
    done: float
    total: int
    elapsed_s: float

    @property
    def fps(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.done or not self.total:
            return None
        return (self.total - self.done) / self.fps if self.fps else None


@dataclass
class JobResult:
    input: Path
    output: Path
    frames: int
    width: int
    height: int
    seconds: float
    decode_errors: int = 0
    warnings: list[str] = field(default_factory=list)
    #: Seconds per engine stage (`vsrup.util.timing.STAGES` names: method, decode_wait, blend,
    #: temporal, encode), from the StageTimer calls `vsrup bench` records.
    timings: dict[str, float] = field(default_factory=dict)


ProgressFn = Callable[[Progress], None]
WarnFn = Callable[[str], None]
