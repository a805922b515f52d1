"""One upscaling job: probe → decode → plan → method → blend → colour fix → encode → mux.

The stages live in modules of their own, so that each can grow on its own:

1. `open_source`   (`job_io`) a VideoReader or ImageSequenceReader over the selected frames
2. `plan_output`   (`job_plan`) native method scale and exact output size
3. `load_method`   the method instance on its runtime (device, dtype, offload, compile)
4. `vsrup.engine.scheduler.run_stream`: decoding ahead and encoding behind in background
   threads, motion segments, temporal windows with blended overlaps, spatial tiles with the
   OOM fallback, exact-size resize, the temporal-consistency stage (`--temporal`), colour
   fix (driven by `job_render.JobRender`)
5. `open_sink`     (`job_io`) a VideoWriter (inside an AtomicOutput) or an
   ImageSequenceWriter; with the resume store (on by default, `job_store`) frames are encoded
   into segments in the job's directory (`vsrup.engine.resume`) and stitched into the sink at
   the end

Memory stays bounded whatever the video's length; every output frame is written with its
input frame's pts. Progress and warnings are reported through callbacks. The names of the
stage modules are importable from here too.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import ExitStack
from pathlib import Path

from vsrup.engine.job import JobResult, Progress, ProgressFn, UpscaleJob, WarnFn
from vsrup.engine.job_io import is_sequence_output, open_sink, open_source, partials_dir
from vsrup.engine.job_plan import (
    BATCH_BYTES,
    MAX_BATCH,
    SEGMENT_FRAMES,
    UNTILED_ADVICE,
    aligned_batch,
    batch_size,
    job_settings,
    native_scale,
    plan_output,
    segment_config,
    segment_frames,
    spatial_tile,
    stream_options,
    target_size,
    temporal_config,
)
from vsrup.engine.job_render import JobRender, interrupted_note
from vsrup.engine.job_store import check_resumable, open_store, store_identity
from vsrup.errors import UsageError
from vsrup.interface.method import Method, MethodOptions, MethodSpec
from vsrup.util.timing import StageTimer


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

    if cls.own_weights is None and not cls.lora_weights:
        raise UsageError(
            f"{cls.spec.id} takes no --weights",
            hint="trained weights: dgaf, litevsr, simplegvr; LoRA fine-tunes: stcdit",
        )
    needed = ("adapter_config.json", "adapter_model.safetensors") if cls.lora_weights else (
        "config.json", "model.safetensors")  # fmt: skip
    missing = [n for n in needed if not (path / n).is_file()]
    if missing:
        kind = "LoRA adapter" if cls.lora_weights else "trained-weights"
        raise WeightsError(
            f"is not a {kind} folder (no {' or '.join(missing)})",
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
    with StageTimer("load"):  # a no-op unless `vsrup bench` is recording
        method = cls.from_weights(weights, runtime, options)
    if runtime.offload != "none" or runtime.compile:
        from vsrup.engine.placement import apply_placement

        apply_placement(method, runtime)
    return method, spec, runtime


# -- the job ----------------------------------------------------------------------------------
def check_job(job: UpscaleJob) -> tuple[MethodSpec, bool]:
    """Refuse a job before anything is opened: (the method's spec, whether the output is an
    image sequence). Normalises the job's paths."""
    from vsrup.interface import registry
    from vsrup.video.imageseq import is_image_sequence
    from vsrup.video.output import check_output
    from vsrup.video.probe import check_input

    if job.resume and not job.checkpoint:
        raise UsageError("--resume continues from the segment store: drop --no-checkpoint")
    job.input = Path(job.input)
    job.output = Path(job.output)
    if not is_image_sequence(job.input):
        check_input(job.input)
    sequence_out = is_sequence_output(job.output)
    if not sequence_out:
        check_output(job.output, overwrite=job.overwrite, inputs=(job.input,))
    spec = registry.get(job.method).spec
    if job.options.window is not None and not spec.whole_video:
        raise UsageError(f"--window: {spec.id} has no whole-video run to replace with windows")
    if job.scene_cuts and not spec.uses_segments:
        raise UsageError(f"--scene-cuts: {spec.id} does not use motion segments")
    return spec, sequence_out


def run_job(
    job: UpscaleJob,
    *,
    on_progress: ProgressFn | None = None,
    on_warning: WarnFn | None = None,
    on_info: WarnFn | None = None,
) -> JobResult:
    """Upscale one input into one output; the output appears only if everything succeeded."""
    from vsrup.engine.runtime import seed_everything
    from vsrup.video.output import AtomicOutput, remove_stale_partials

    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        if on_warning is not None:
            on_warning(text)

    t0 = time.perf_counter()
    spec0, sequence_out = check_job(job)
    reader = open_source(job, 1, warn)
    video = reader.video
    scale, out_w, out_h = plan_output(spec0, video.width, video.height, job, video.rotation)
    reader.batch = batch_size(spec0, out_w, out_h, job.batch)
    if video.hdr:
        warn(f"{job.input}: HDR input ({video.hdr.upper()}): its transfer tags are kept, but "
             "methods assume SDR; no tone-mapping is done")  # fmt: skip
    # Seeded before loading: whatever a method initialises from the global generator
    # (synthetic weights) is the same in every process, so a resumed run matches.
    seed_everything(job.options.seed)
    method, spec, runtime = load_method(job, scale)
    remove_stale_partials(partials_dir(job.output, sequence_out), warn)
    store = target = None
    with ExitStack() as stack:
        temp = None if sequence_out else stack.enter_context(
            AtomicOutput(job.output, overwrite=job.overwrite, inputs=(job.input,))
        )  # fmt: skip
        sink = open_sink(job, reader, out_w, out_h, temp, warn)
        bits = 16 if getattr(sink, "deep", reader.deep) else 8
        if job.checkpoint:
            settings = job_settings(job, spec, runtime, out_w, out_h, bits, scale)
            settings["method_state"] = method.resume_settings()
            store, target = open_store(job, spec, settings, sink, out_w, out_h, warn)
        # Whole-video methods keep their latent state (per-step checkpoints) beside the
        # finished segments, so --resume continues inside the sampling loop too.
        method.use_work_dir(store.directory / "latents" if store else None, store is not None)
        render = JobRender(job, reader, sink, store, target, t0, on_progress)
        options = stream_options(job, spec, out_w, out_h, bits, on_progress=render.progress,
                                 on_warning=warn, on_info=on_info)  # fmt: skip
        try:
            timings = render.run(method, runtime, options)
        except BaseException as exc:
            render.abort(exc, warn)
            raise
    if store is not None:
        store.remove()  # the output is complete and in place
    return JobResult(
        input=job.input,
        output=job.output,
        frames=render.done,
        width=out_w,
        height=out_h,
        seconds=time.perf_counter() - t0,
        decode_errors=reader.errors,
        warnings=warnings,
        timings=timings,
    )


__all__ = [
    "BATCH_BYTES",
    "MAX_BATCH",
    "SEGMENT_FRAMES",
    "UNTILED_ADVICE",
    "JobRender",
    "JobResult",
    "MethodOptions",
    "Progress",
    "ProgressFn",
    "UpscaleJob",
    "WarnFn",
    "aligned_batch",
    "batch_size",
    "check_job",
    "check_resumable",
    "check_trained_weights",
    "interrupted_note",
    "is_sequence_output",
    "job_settings",
    "load_method",
    "native_scale",
    "open_sink",
    "open_source",
    "open_store",
    "partials_dir",
    "plan_output",
    "resolve_weights",
    "run_job",
    "segment_config",
    "segment_frames",
    "spatial_tile",
    "store_identity",
    "stream_options",
    "target_size",
    "temporal_config",
]
