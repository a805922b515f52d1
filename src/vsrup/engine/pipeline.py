"""One upscaling job: probe → decode → plan → method → blend → colour fix → encode → mux.

The stages are separate functions so that each can grow on its own:

1. `open_source`   a VideoReader or ImageSequenceReader over the selected frames
2. `plan_output`   native method scale and exact output size
3. `load_method`   the method instance on its runtime (device, dtype, offload, compile)
4. `vsrup.engine.scheduler.run_stream`: decoding ahead and encoding behind in background
   threads, motion segments, temporal windows with blended overlaps, spatial tiles with the
   OOM fallback, exact-size resize, the temporal-consistency stage (`--temporal`), colour
   fix
5. `open_sink`     a VideoWriter (inside an AtomicOutput) or an ImageSequenceWriter; with the
   resume store (on by default) frames are encoded into segments in the job's directory
   (`vsrup.engine.resume`) and stitched into the sink at the end

Memory stays bounded whatever the video's length; every output frame is written with its
input frame's pts. Progress and warnings are reported through callbacks.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.errors import UsageError
from vsrup.interface.method import Method, MethodOptions, MethodSpec
from vsrup.util.timing import StageTimer, timed_iter

if TYPE_CHECKING:
    import torch

#: Memory for one batch of output frames (float32); sets the batch size for window-1 methods.
BATCH_BYTES = 192 * 1024 * 1024
MAX_BATCH = 16


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
    #: Seconds per engine stage (method, wait_decode, blend_color, store).
    timings: dict[str, float] = field(default_factory=dict)


ProgressFn = Callable[[Progress], None]
WarnFn = Callable[[str], None]


# -- 1. source --------------------------------------------------------------------------------
def open_source(job: UpscaleJob, batch: int, warn: WarnFn):  # noqa: ANN201
    """A reader for a video file or an image sequence, restricted to the chosen frames."""
    from vsrup.video.imageseq import ImageSequenceReader, is_image_sequence
    from vsrup.video.reader import FrameRange, VideoReader

    frange = FrameRange.parse(job.frames, job.start, job.duration)
    kwargs = dict(batch=batch, frame_range=frange, ignore_errors=job.ignore_errors)
    if is_image_sequence(job.input):
        return ImageSequenceReader(job.input, fps=job.fps or 24, on_warning=warn, **kwargs)
    if job.fps is not None:
        raise UsageError("--fps sets the rate of image sequences; a video keeps its own",
                         path=job.input)  # fmt: skip
    return VideoReader(job.input, on_warning=warn, **kwargs)


# -- 2. plan ----------------------------------------------------------------------------------
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


# -- 3. method --------------------------------------------------------------------------------
def resolve_weights(spec: MethodSpec, options: MethodOptions, ids=None):  # noqa: ANN001, ANN201
    """Local weights for the method, or None for synthetic weights / weightless methods.

    `ids` narrows `spec.weights` to the registry ids this run needs (`Method.weights_for`: a
    variant or a native scale), so the weights of variants not asked for need not be installed.
    """
    if options.synthetic_weights or not spec.weights:
        return None
    from vsrup.hub.resolve import resolve_ids

    return resolve_ids(list(ids if ids is not None else spec.weights))


def check_trained_weights(cls: type[Method], path: Path) -> None:
    """`--weights DIR`: only for methods `vsrup train` trains, and DIR must be an export."""
    from vsrup.errors import UsageError, WeightsError

    if cls.own_weights is None:
        raise UsageError(
            f"{cls.spec.id} takes no --weights", hint="trained weights: dgaf, litevsr, simplegvr"
        )
    missing = [n for n in ("config.json", "model.safetensors") if not (path / n).is_file()]
    if missing:
        raise WeightsError(
            f"is not a trained-weights folder (no {' or '.join(missing)})",
            path=path,
            hint="pass RUN_DIR/final as written by vsrup train",
        )


def load_method(job: UpscaleJob, scale: int) -> tuple[Method, MethodSpec, object]:
    from vsrup.engine.runtime import resolve_runtime
    from vsrup.interface import registry

    cls = registry.get(job.method)
    spec = cls.spec
    if job.options.weights is not None:
        check_trained_weights(cls, job.options.weights)
    device = job.device
    if device == "auto" and spec.kind == "classical":
        # A resampler is one libswscale call per frame on the CPU, next to the decoder and
        # the encoder: a GPU round trip of the frames cannot pay for itself.
        device = "cpu"
    runtime = resolve_runtime(
        device,
        job.dtype,
        spec.dtypes,
        offload=job.offload,
        vram_gb=job.vram,
        compile=job.compile,
        seed=job.options.seed,
    )
    # The method sees the native scale it runs at; the job's own options stay as given.
    options = dataclasses.replace(job.options, scale=scale)
    weights = resolve_weights(spec, options, cls.weights_for(options))
    method = cls.from_weights(weights, runtime, options)
    if runtime.offload != "none" or runtime.compile:
        from vsrup.engine.placement import apply_placement

        apply_placement(method, runtime)
    return method, spec, runtime


# -- 4. process -------------------------------------------------------------------------------
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


def segment_config(job: UpscaleJob):  # noqa: ANN201
    """The official motion segmentation, plus scene-change cuts with --scene-cuts."""
    from vsrup.engine.segment import SegmentConfig

    return SegmentConfig(scene_threshold=0.3) if job.scene_cuts else SegmentConfig()


#: Frames per resume segment by method kind: long for fast methods (an encoder restart per
#: segment costs a little), short for slow ones (an interruption loses at most one segment).
SEGMENT_FRAMES = {"classical": 240, "learned": 48, "diffusion": 16}


def segment_frames(spec: MethodSpec, job: UpscaleJob) -> int:
    if job.segment_frames is not None:
        if job.segment_frames < 1:
            raise UsageError("--segment-frames must be at least 1")
        return job.segment_frames
    return SEGMENT_FRAMES.get(spec.kind, 48)


def store_identity(job: UpscaleJob, spec: MethodSpec, settings: dict, sink, out_w: int,  # noqa: ANN001
                   out_h: int):  # noqa: ANN201  # fmt: skip
    """(identity, target): everything that names the job's resume store, and what its
    segments are encoded for (the final writer, or lossless segments for image sequences).
    A distributed run's workers compute it exactly as a single-process run does."""
    from dataclasses import asdict

    from vsrup.engine.resume import input_identity, software_versions

    if hasattr(sink, "packet_encoder"):
        target = sink
        encode = {**asdict(job.encode or _default_encode()), "container": job.output.suffix}
    else:
        from vsrup.video.lossless import LosslessSegments

        target = LosslessSegments(sink, out_w, out_h)
        encode = {"image_sequence": True}
    identity = {
        **input_identity(job.input),
        "method": spec.id,
        "settings": settings,
        "encode": encode,
        "segment_frames": segment_frames(spec, job),
        "versions": software_versions(),
    }
    return identity, target


def open_store(job: UpscaleJob, spec: MethodSpec, settings: dict, sink, out_w: int,  # noqa: ANN001
               out_h: int, warn: WarnFn):  # noqa: ANN201  # fmt: skip
    """The job's resume store and the segments' target (finished segments of an interrupted
    run of the same job are kept: the job continues from them)."""
    from vsrup.engine.resume import ResumeStore

    identity, target = store_identity(job, spec, settings, sink, out_w, out_h)
    if job.resume:
        check_resumable(identity, job.work_dir)
    store = ResumeStore.open(identity, work_root=job.work_dir)
    if store.frames_done:
        warn(f"{job.input}: continuing an interrupted run: {store.frames_done} frames are "
             f"finished ({len(store.prefix())} segments in {store.directory})")  # fmt: skip
    return store, target


def _default_encode():  # noqa: ANN202
    from vsrup.video.writer import EncodeSettings

    return EncodeSettings()


def check_resumable(identity: dict, work_root: Path | None) -> None:
    """`--resume`: an unfinished job with exactly these settings must exist; otherwise say
    which settings differ from the unfinished jobs of the same input."""
    from vsrup.engine.resume import differences, job_key, list_jobs

    jobs = list_jobs(work_root)
    key = job_key(identity)
    # Finished segments, or a whole-video method's sampling state (per-step latents).
    if any(j.key == key and (j.frames_done or (j.directory / "latents").is_dir()) for j in jobs):
        return
    same_input = [j for j in jobs if j.identity.get("input") == identity["input"]]
    if not same_input:
        raise UsageError("--resume: no interrupted run of this input to continue",
                         path=identity["input"], hint="run without --resume to start")  # fmt: skip
    latest = same_input[-1]
    diff = "; ".join(differences(latest.identity, identity)[:4]) or "an unreadable job file"
    raise UsageError(
        f"--resume: the interrupted run of this input used other settings ({diff})",
        path=identity["input"],
        hint="rerun with its settings, or without --resume to start over "
        f"(`vsrup jobs clean` removes its {latest.frames_done} finished frames)",
    )


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


def stream_options(job: UpscaleJob, spec: MethodSpec, out_w: int, out_h: int, bits: int,
                   **callbacks: Any):  # noqa: ANN201  # fmt: skip
    """The engine settings of a job: the same for one process and for a distributed run's
    workers, so both compute the same frames."""
    from vsrup.engine.scheduler import StreamOptions

    return StreamOptions(
        color_fix=job.color_fix,
        batch=batch_size(spec, out_w, out_h, job.batch),
        bits=bits,
        tile=spatial_tile(spec, job),
        out_size=(out_h, out_w),
        temporal=temporal_config(job, spec),
        window=job.options.window,
        shots=job.scene_cuts,
        segment_config=segment_config(job),
        **callbacks,
    )


def frames_of(reader) -> Iterator[tuple[torch.Tensor, int]]:  # noqa: ANN001
    """Decoded frames as the engine carries them: (C, H, W) uint8/uint16, no float pass."""
    return reader.integer_frames()


def temporal_config(job: UpscaleJob, spec: MethodSpec):  # noqa: ANN201
    """The temporal stage's settings when it runs for this job, else None."""
    from vsrup.engine.temporal import TemporalConfig, wants_temporal

    return TemporalConfig() if wants_temporal(job.temporal, spec) else None


def _settings_of(config) -> dict | None:  # noqa: ANN001
    return dataclasses.asdict(config) if config is not None else None


# -- 5. sink ----------------------------------------------------------------------------------
def is_sequence_output(path: Path) -> bool:
    """Images out (`frames/%06d.png`, or one `still.png`); never guessed from a bare name."""
    from vsrup.video.imageseq import IMAGE_EXTENSIONS

    return path.suffix.lower() in IMAGE_EXTENSIONS


def partials_dir(output: Path, sequence_out: bool) -> Path:
    """Where the output's temporary lives (beside the file, or beside the PNG folder)."""
    if sequence_out:
        from vsrup.video.imageseq import sequence_pattern

        return sequence_pattern(output)[0].parent
    return output.parent if str(output.parent) else Path(".")


def open_sink(job: UpscaleJob, reader, out_w: int, out_h: int, temp: Path | None, warn: WarnFn):  # noqa: ANN001, ANN201
    from vsrup.video.imageseq import ImageSequenceWriter
    from vsrup.video.writer import EncodeSettings, VideoWriter

    if temp is None:
        return ImageSequenceWriter(job.output, deep=reader.deep, overwrite=job.overwrite)
    video = reader.video
    offset = reader.first_pts if reader.first_pts is not None else 0
    from vsrup.video.imageseq import ImageSequenceReader

    copy_from = None if isinstance(reader, ImageSequenceReader) else job.input
    return VideoWriter(
        temp,
        width=out_w,
        height=out_h,
        time_base=reader.time_base,
        fps=video.fps,
        source=video,
        settings=job.encode or EncodeSettings(),
        copy_from=copy_from,
        container_metadata=reader.info.metadata,
        window=getattr(reader, "window_s", None),
        pts_offset=offset if getattr(reader, "window_s", None) else 0,
        warn=warn,
        label=str(job.output),
    )


def interrupted_note(job: UpscaleJob, done: int, total: int, checkpointing: bool) -> str:
    """What an interrupt kept, when no finished frames were stored."""
    of = f"{done} of {total}" if total else f"{done}"
    if checkpointing:
        return (
            f"{job.input}: interrupted after {of} frames, before the first segment "
            "was finished: nothing to keep yet"
        )
    return (
        f"{job.input}: interrupted after {of} frames; nothing was kept (the output appears "
        "only when complete; without --no-checkpoint finished segments are kept)"
    )


# -- the job ----------------------------------------------------------------------------------
def run_job(
    job: UpscaleJob,
    *,
    on_progress: ProgressFn | None = None,
    on_warning: WarnFn | None = None,
    on_info: WarnFn | None = None,
) -> JobResult:
    """Upscale one input into one output; the output appears only if everything succeeded."""
    from vsrup.video.output import AtomicOutput, check_output
    from vsrup.video.probe import check_input

    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        if on_warning is not None:
            on_warning(text)

    t0 = time.perf_counter()
    if job.resume and not job.checkpoint:
        raise UsageError("--resume continues from the segment store: drop --no-checkpoint")
    job.input = Path(job.input)
    job.output = Path(job.output)
    from vsrup.video.imageseq import is_image_sequence

    if not is_image_sequence(job.input):
        check_input(job.input)
    sequence_out = is_sequence_output(job.output)
    if not sequence_out:
        check_output(job.output, overwrite=job.overwrite, inputs=(job.input,))
    from vsrup.interface import registry

    spec0 = registry.get(job.method).spec
    if job.options.window is not None and not spec0.whole_video:
        raise UsageError(f"--window: {spec0.id} has no whole-video run to replace with windows")
    if job.scene_cuts and not spec0.uses_segments:
        raise UsageError(f"--scene-cuts: {spec0.id} does not use motion segments")
    reader = open_source(job, 1, warn)
    video = reader.video
    scale, out_w, out_h = plan_output(spec0, video.width, video.height, job, video.rotation)
    reader.batch = batch_size(spec0, out_w, out_h, job.batch)
    if video.hdr:
        warn(f"{job.input}: HDR input ({video.hdr.upper()}): its transfer tags are kept, but "
             "methods assume SDR; no tone-mapping is done")  # fmt: skip
    from vsrup.engine.direct import eligible, run_direct
    from vsrup.engine.runtime import seed_everything
    from vsrup.engine.scheduler import run_stream
    from vsrup.video.output import remove_stale_partials

    # Seeded before loading: whatever a method initialises from the global generator
    # (synthetic weights) is the same in every process, so a resumed run matches.
    seed_everything(job.options.seed)
    method, spec, runtime = load_method(job, scale)
    remove_stale_partials(partials_dir(job.output, sequence_out), warn)
    store = None
    done = 0
    with ExitStack() as stack:
        temp = None if sequence_out else stack.enter_context(
            AtomicOutput(job.output, overwrite=job.overwrite, inputs=(job.input,))
        )  # fmt: skip
        sink = open_sink(job, reader, out_w, out_h, temp, warn)
        bits = 16 if getattr(sink, "deep", reader.deep) else 8
        target = None
        if job.checkpoint:
            settings = job_settings(job, spec, runtime, out_w, out_h, bits, scale)
            settings["method_state"] = method.resume_settings()
            store, target = open_store(job, spec, settings, sink, out_w, out_h, warn)
        # Whole-video methods keep their latent state (per-step checkpoints) beside the
        # finished segments, so --resume continues inside the sampling loop too.
        method.use_work_dir(store.directory / "latents" if store else None, store is not None)

        def write(frame, pts) -> None:  # noqa: ANN001
            nonlocal done
            # Already quantised (uint8, or uint16 when bits > 8): straight to the encoder.
            with StageTimer("encode"):  # a no-op unless `vsrup bench` is recording
                sink.write_array(frame[None], [pts])
            done += 1

        def counted() -> None:
            nonlocal done
            done += 1

        def progress(n: float) -> None:
            if on_progress is not None:
                on_progress(Progress(n, reader.total, time.perf_counter() - t0))

        options = stream_options(
            job, spec, out_w, out_h, bits, on_progress=progress, on_warning=warn, on_info=on_info
        )
        temporal = options.temporal
        direct = None
        if temporal is None:  # the temporal stage needs the engine loop
            direct = eligible(method, runtime, reader, sink, color_fix=job.color_fix)
        try:
            first = store.frames_done if store is not None else 0
            if direct is not None:  # a classical resampler: decoder → swscale → encoder
                from vsrup.engine.segments import render_direct

                def direct_progress(n: int) -> None:
                    nonlocal done
                    done = n  # frames finished so far (what an interrupt reports)
                    progress(n)

                if store is None:
                    count, timings = run_direct(reader, sink, direct, direct_progress)
                else:
                    count, timings = render_direct(
                        reader, sink, direct, store, target, first=first,
                        on_progress=direct_progress,
                    )  # fmt: skip
                done = first + count
            else:
                decoded = timed_iter("decode", frames_of(reader))
                if store is None:
                    stream = run_stream(decoded, method, write, runtime, options)
                else:
                    from vsrup.engine.segments import render_segments

                    stream = render_segments(
                        decoded, method, store, target, first=first, runtime=runtime,
                        options=options, on_frame=counted,
                    )  # fmt: skip
                timings = stream.timings
                if store is not None:
                    done = stream.frames
            with StageTimer("encode"):
                if store is not None:
                    from vsrup.engine.segments import stitch

                    done = stitch(store, target, done)
                sink.close()
        except BaseException as exc:
            sink.abort()
            if store is not None:
                store.release()
            if store is not None and store.frames_done:
                warn(f"{store.frames_done} finished frames are kept in {store.directory}; "
                     "rerun the same command to continue from them")  # fmt: skip
            elif store is not None and (store.directory / "latents").is_dir():
                warn(f"the sampling state is kept in {store.directory}; rerun the same command "
                     "to continue from it")  # fmt: skip
            elif isinstance(exc, KeyboardInterrupt):
                warn(interrupted_note(job, done, reader.total, store is not None))
            raise
    if store is not None:
        store.remove()  # the output is complete and in place
    return JobResult(
        input=job.input,
        output=job.output,
        frames=done,
        width=out_w,
        height=out_h,
        seconds=time.perf_counter() - t0,
        decode_errors=reader.errors,
        warnings=warnings,
        timings=timings,
    )


__all__ = [
    "JobResult",
    "Progress",
    "UpscaleJob",
    "batch_size",
    "load_method",
    "native_scale",
    "open_sink",
    "open_source",
    "plan_output",
    "job_settings",
    "run_job",
    "target_size",
]
