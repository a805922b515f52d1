"""What `run_stream` is asked to do (`StreamOptions`) and what it reports (`StreamResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vsrup.engine.segment import Segmentation, SegmentConfig
from vsrup.engine.temporal_config import TemporalConfig


@dataclass
class StreamOptions:
    color_fix: str = "none"
    #: Frames per call for per-frame methods (window 1).
    batch: int = 1
    #: Override the method's temporal overlap.
    overlap: int | None = None
    #: `--window N`: override the method's temporal window (frames).
    window: int | None = None
    #: Motion segmentation settings for methods that use segments.
    segment_config: SegmentConfig = field(default_factory=SegmentConfig)
    #: Output bit depth: 8 → uint8 frames, more → uint16.
    bits: int = 8
    #: Spatial tile override (input pixels); None: the spec's advice or the VRAM suggestion.
    tile: int | None = None
    #: Exact output (height, width) when the method's native scale does not give it.
    out_size: tuple[int, int] | None = None
    #: Overlap between spatial tiles (input pixels); None: the spec's.
    tile_overlap: int | None = None
    #: Frames decoded ahead / finished frames waiting for the encoder.
    prefetch: int = 8
    encode_queue: int = 8
    #: Output frames [0, resume_from) are finished already (resume): not computed, not sent.
    resume_from: int = 0
    #: Stop once frames before this index are finished (one segment rendered on its own);
    #: the frames are those a full run gives, since windows are planned the same way.
    stop_at: int | None = None
    #: Temporal-consistency stage for per-frame methods (None: off).
    temporal: TemporalConfig | None = None
    #: Frames finished so far; fractional while a window is being computed.
    on_progress: Callable[[float], None] | None = None
    on_warning: Callable[[str], None] | None = None
    #: Lines for the user that are not warnings (e.g. the prompt a method derived).
    on_info: Callable[[str], None] | None = None
    #: Whole-video methods: start an independent run at every scene-change cut.
    shots: bool = False
    #: Whole-video methods: host RAM for the colour-fix references before they spill to disk.
    spill_bytes: int | None = None


@dataclass
class StreamResult:
    frames: int
    resumed_from: int
    windows_computed: int
    segmentation: Segmentation | None
    timings: dict[str, float]
