"""`vsrup upscale IN... [-o OUT]`: run the engine pipeline on one or many inputs.

The command maps options one to one onto `UpscaleJob` / `EncodeSettings` / `MethodOptions`
and draws progress on stderr (a rich bar on a terminal, plain lines otherwise). With several
inputs (or a directory) each file is its own job: one failure does not stop the others, a
summary table follows, and the exit status is non-zero if any failed.

The options themselves (names, limits, help) are declared in `upscale_options`; running the
jobs and the summary in `upscale_batch`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vsrup.cli import upscale_options as opts
from vsrup.cli.common import check_synthetic_weights, handle_errors, info, state, warn
from vsrup.cli.outputs import expand_inputs, make_output_folders, plan_outputs
from vsrup.cli.progress import ProgressView
from vsrup.cli.report import JsonReport
from vsrup.cli.timecode import parse_time
from vsrup.cli.upscale_batch import UpscaleBatch
from vsrup.errors import UsageError

if TYPE_CHECKING:
    from vsrup.engine.pipeline import UpscaleJob


def default_method(scale: float | None, device: str) -> str:
    """The method used when --method is not given: the best installed one (diffusion only
    with a GPU, then span from its wheel, then lanczos), announced on stderr."""
    from vsrup.engine.runtime import resolve_device
    from vsrup.methods.defaults import best_installed_method, fallback_reason

    gpu = resolve_device(device) != "cpu"
    chosen = best_installed_method(4 if scale is None or scale > 2 else 2, gpu=gpu)
    why = "best installed" + ("" if gpu else " for CPU")
    missing = fallback_reason(chosen)
    if missing:
        why += f"; {missing}"
    info(f"method: {chosen} ({why}; choose another with --method)")
    return chosen


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (kill, systemd, a batch scheduler) like Ctrl-C, so the temporary output
    is removed on the way out. Only the main thread may install handlers."""
    import signal
    import threading

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def _keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of unmapping it.

    Every batch allocates frame tensors of tens of MB; by default glibc serves those with
    mmap and returns them on free, so each batch pays page faults on fresh zeroed pages
    (measured: a third of the CPU time in the kernel at 720p→1440p). Peak memory is still
    bounded by the largest batch. Best effort: other C libraries are left alone.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: heap, not mmap, up to 1 GiB
        libc.mallopt(-1, 1 << 31)  # M_TRIM_THRESHOLD: do not give the heap top back
    except (OSError, AttributeError):
        pass


def check_method_options(
    method: str, model: str | None, extra: dict, prompt: str | None, negative: str | None
) -> None:
    """Before any file is touched: options the method would ignore are usage errors."""
    from vsrup import methods
    from vsrup.interface.method import MethodOptions, check_options

    spec = methods.get(method).spec
    check_options(spec, MethodOptions(variant=model, extra=extra, prompt=prompt,
                                      negative_prompt=negative))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("upscale")(upscale)


def parse_opts(pairs: list[str]) -> dict[str, object]:
    """`--opt key=value` → typed values (int, float, true/false, else text)."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--opt {pair!r}: expected key=value")
        value: object = raw
        low = raw.lower()
        if low in ("true", "false"):
            value = low == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(raw)
                    break
                except ValueError:
                    continue
        out[key.strip()] = value
    return out


def check_size_and_stages(
    scale: float | None, width: int | None, height: int | None, color_fix: str, temporal: str
) -> float | None:
    """Refuse contradictory or unknown choices; the scale to use (2 when no size is given)."""
    if scale is not None and (width or height):
        raise UsageError("use either --scale or --width/--height")
    if scale is None and not (width or height):
        scale = 2.0
    if color_fix not in ("none", "adain", "wavelet"):
        raise UsageError(f"unknown --color-fix {color_fix!r}", hint="use none, adain or wavelet")
    if temporal not in ("auto", "on", "off"):
        raise UsageError(f"unknown --temporal {temporal!r}", hint="use auto, on or off")
    return scale


@handle_errors
def upscale(
    inputs: opts.Inputs,
    output: opts.Output = None,
    method: opts.Method = None,
    scale: opts.Scale = None,
    width: opts.Width = None,
    height: opts.Height = None,
    codec: opts.Codec = None,
    crf: opts.Crf = None,
    preset: opts.Preset = None,
    pix_fmt: opts.PixFmt = None,
    no_audio: opts.NoAudio = False,
    frames: opts.Frames = None,
    start: opts.Start = None,
    duration: opts.Duration = None,
    overwrite: opts.Overwrite = False,
    ignore_errors: opts.IgnoreErrors = False,
    quiet: opts.Quiet = False,
    device: opts.Device = "auto",
    dtype: opts.Dtype = "auto",
    steps: opts.Steps = None,
    seed: opts.Seed = 42,
    prompt: opts.Prompt = None,
    negative_prompt: opts.NegativePrompt = None,
    synthetic_weights: opts.SyntheticWeights = None,
    weights: opts.Weights = None,
    model: opts.Model = None,
    opt: opts.Opt = [],  # noqa: B006 - typer copies it
    batch: opts.Batch = None,
    color_fix: opts.ColorFix = "none",
    temporal: opts.Temporal = "auto",
    offload: opts.Offload = "none",
    vram: opts.Vram = None,
    tile: opts.Tile = None,
    compile: opts.Compile = False,
    resume: opts.Resume = False,
    work_dir: opts.WorkDir = None,
    checkpoint: opts.Checkpoint = True,
    segment_frames: opts.SegmentFrames = None,
    window: opts.Window = None,
    scene_cuts: opts.SceneCuts = False,
    fps: opts.Fps = None,
    workers: opts.Workers = None,
    ray_address: opts.RayAddress = None,
    as_json: opts.AsJson = False,
) -> None:
    """Upscale videos or image sequences, keeping every frame, timestamp, audio and subtitle."""
    from vsrup.engine.pipeline import UpscaleJob
    from vsrup.interface.method import MethodOptions
    from vsrup.video.writer import EncodeSettings

    state.quiet = quiet
    _interrupt_on_sigterm()
    _keep_freed_memory()
    check_synthetic_weights(synthetic_weights)
    scale = check_size_and_stages(scale, width, height, color_fix, temporal)
    start_s, duration_s = parse_time(start, "--start"), parse_time(duration, "--duration")
    out_path = Path(output) if output is not None else None
    files, is_batch = expand_inputs(inputs, out_path)
    plans = plan_outputs(files, is_batch, out_path, output or "", scale, width, height,
                         overwrite)  # fmt: skip
    method = method or default_method(scale, device)
    extra = parse_opts(opt)
    check_method_options(method, model, extra, prompt, negative_prompt)
    if synthetic_weights:
        warn(f"--synthetic-weights {synthetic_weights}: the model has random weights, so the "
             "output is noise; use this only to test the plumbing")  # fmt: skip
    make_output_folders(plans)
    # The settings every input's job shares; each job gets its own copies below.
    shared = UpscaleJob(
        input=Path(), output=Path(), method=method, scale=scale, width=width, height=height,
        options=MethodOptions(steps=steps, seed=seed, prompt=prompt,
                              negative_prompt=negative_prompt,
                              synthetic_weights=synthetic_weights, variant=model,
                              weights=weights, window=window, extra=extra),
        encode=EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                              audio=not no_audio),
        frames=frames, start=start_s, duration=duration_s, ignore_errors=ignore_errors,
        overwrite=overwrite, device=device, dtype=dtype, batch=batch,
        color_fix=color_fix, offload=offload, vram=vram, tile=tile, compile=compile,
        temporal=temporal, resume=resume, work_dir=work_dir, checkpoint=checkpoint, fps=fps,
        segment_frames=segment_frames, scene_cuts=scene_cuts,
    )  # fmt: skip
    run = UpscaleBatch(method, JsonReport() if as_json else None, ProgressView(quiet), is_batch)
    distributed = workers is not None or ray_address is not None
    queued: list[UpscaleJob] = []
    for plan in plans:
        if plan.skip is not None:
            run.skip(plan)
            continue
        job = job_for(shared, plan.input, plan.output)
        if distributed:
            queued.append(job)
        else:
            run.run_one(job)
    if distributed and queued:
        run.run_scaled(queued, workers, ray_address, device)
    run.finish(quiet)


def job_for(shared: UpscaleJob, src: Path, dst: Path) -> UpscaleJob:
    """One input's job: the shared settings, with option objects of its own."""
    options = dataclasses.replace(shared.options, extra=dict(shared.options.extra))
    encode = dataclasses.replace(shared.encode) if shared.encode is not None else None
    return dataclasses.replace(shared, input=src, output=dst, options=options, encode=encode)
