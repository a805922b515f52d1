"""A job's plan: output size and native scale, batch, spatial tile, resume segments, the
temporal stage, and the engine settings (`stream_options`) and output-changing settings
(`job_settings`) that follow from them. A distributed run's workers plan exactly the same way."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from vsrup.engine.job import UpscaleJob
from vsrup.errors import UsageError
from vsrup.interface.method import MethodSpec

#: Memory for one batch of output frames (float32); sets the batch size for window-1 methods.
BATCH_BYTES = 192 * 1024 * 1024
MAX_BATCH = 16


def target_size(w: int, h: int, scale: float | None, width: int | None, height: int | None):
    """Output (width, height): from a scale, or from --width/--height keeping the aspect.

    A side derived from the other is rounded to an even number (like ffmpeg's `-2`), so
    4:2:0 output needs no padding."""
    if width and height:
        return width, height
    if width:
        return width, max(round(h * width / w / 2) * 2, 2)
    if height:
        return max(round(w * height / h / 2) * 2, 2), height
    if not scale or scale <= 0:
        raise UsageError("--scale must be positive")
    return max(round(w * scale), 1), max(round(h * scale), 1)


def native_scale(spec: MethodSpec, ratio: float) -> int:
    """The method scale to run: the requested one when native, else the smallest native
    scale at least as large (downscaling afterwards keeps detail), else the largest."""
    want = max(math.ceil(ratio - 1e-9), 1)
    if spec.any_scale:
        return want
    bigger = [s for s in sorted(spec.scales) if s >= ratio - 1e-9]
    return bigger[0] if bigger else max(spec.scales)


def plan_output(
    spec: MethodSpec, w: int, h: int, job: UpscaleJob, rotation: int = 0
) -> tuple[int, int, int]:
    """(native scale, output width, output height) of the stored frame. --width/--height
    mean the displayed picture, so a 90°-rotated video swaps them."""
    want_w, want_h = (job.height, job.width) if rotation % 180 == 90 else (job.width, job.height)
    out_w, out_h = target_size(w, h, job.scale, want_w, want_h)
    ratio = max(out_w / w, out_h / h)
    return native_scale(spec, ratio), out_w, out_h


def batch_size(spec: MethodSpec, out_w: int, out_h: int, requested: int | None) -> int:
    if requested:
        return requested
    del spec  # temporal methods buffer their own window; the decode batch is independent
    per_frame = out_w * out_h * 3 * 4
    return max(1, min(MAX_BATCH, BATCH_BYTES // max(per_frame, 1)))


def aligned_batch(batch: int, segment: int) -> int:
    """The largest batch ≤ `batch` that divides the segment length, so no batch of frames
    straddles two segments: a segment rendered alone (a resumed run, a distributed worker)
    then computes no frame of its neighbours' batches."""
    return max(b for b in range(1, max(batch, 1) + 1) if segment % b == 0)


#: Tile advice (input pixels, for 24 GB) for methods whose spec gives none: the side `--vram`
#: scales for them.
UNTILED_ADVICE = 768


def spatial_tile(spec: MethodSpec, job: UpscaleJob) -> int | None:
    """--tile, else the spec's advice scaled to the --vram budget (advice assumes 24 GB);
    every method gets a starting tile from --vram, those without advice from UNTILED_ADVICE.
    None: start with the whole frame (the OOM fallback halves from there)."""
    if job.tile:
        return job.tile
    if not job.vram:
        return spec.tile
    from vsrup.engine.runtime import tile_for_vram

    advice = spec.tile if spec.tile is not None else UNTILED_ADVICE
    return tile_for_vram(advice, job.vram, multiple=spec.size_multiple)


#: Frames per resume segment by method kind: long for fast methods (an encoder restart per
#: segment costs a little), short for slow ones (an interruption loses at most one segment).
SEGMENT_FRAMES = {"classical": 240, "learned": 48, "diffusion": 16}


def segment_frames(spec: MethodSpec, job: UpscaleJob) -> int:
    if job.segment_frames is not None:
        if job.segment_frames < 1:
            raise UsageError("--segment-frames must be at least 1")
        return job.segment_frames
    return SEGMENT_FRAMES.get(spec.kind, 48)


def segment_config(job: UpscaleJob):  # noqa: ANN201
    """The official motion segmentation, plus scene-change cuts with --scene-cuts."""
    from vsrup.engine.segment import SegmentConfig

    return SegmentConfig(scene_threshold=0.3) if job.scene_cuts else SegmentConfig()


def temporal_config(job: UpscaleJob, spec: MethodSpec):  # noqa: ANN201
    """The temporal stage's settings when it runs for this job, else None."""
    from vsrup.engine.temporal_config import TemporalConfig, wants_temporal

    return TemporalConfig() if wants_temporal(job.temporal, spec) else None


def _settings_of(config) -> dict | None:  # noqa: ANN001
    return dataclasses.asdict(config) if config is not None else None


def job_settings(
    job: UpscaleJob, spec: MethodSpec, runtime, out_w: int, out_h: int, bits: int, scale: int
):  # noqa: ANN001, ANN201
    """Everything that changes the output frames: the key of the job's work directory
    (`scale`: the native scale the method runs at)."""
    o = job.options
    return {
        "method": spec.id,
        "size": [out_w, out_h],
        "scale": scale,
        "steps": o.steps,
        "seed": o.seed,
        "prompt": o.prompt,
        "negative_prompt": o.negative_prompt,
        "synthetic_weights": o.synthetic_weights,
        "variant": o.variant,
        "extra": o.extra,
        "range": [job.frames, job.start, job.duration],
        "color_fix": job.color_fix,
        "temporal": _settings_of(temporal_config(job, spec)),
        "device": runtime.device,
        "dtype": runtime.dtype_name,
        "tile": job.tile,
        "vram": job.vram,
        "window": o.window,
        "scene_cuts": job.scene_cuts,
        "bits": bits,
        # Only when given, so the keys of runs without --weights stay what they were.
        **({"weights": str(o.weights)} if o.weights is not None else {}),
    }


def stream_options(job: UpscaleJob, spec: MethodSpec, out_w: int, out_h: int, bits: int,
                   **callbacks: Any):  # noqa: ANN201  # fmt: skip
    """The engine settings of a job: the same for one process and for a distributed run's
    workers, so both compute the same frames."""
    from vsrup.engine.scheduler import StreamOptions

    return StreamOptions(
        color_fix=job.color_fix,
        # --batch as given; the automatic batch divides the segment length
        batch=job.batch
        or aligned_batch(batch_size(spec, out_w, out_h, None), segment_frames(spec, job)),
        bits=bits,
        tile=spatial_tile(spec, job),
        out_size=(out_h, out_w),
        temporal=temporal_config(job, spec),
        window=job.options.window,
        shots=job.scene_cuts,
        segment_config=segment_config(job),
        **callbacks,
    )
