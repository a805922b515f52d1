"""`vsrup upscale IN... [-o OUT]`: run the engine pipeline on one or many inputs.

The command maps options one to one onto `UpscaleJob` / `EncodeSettings` / `MethodOptions`
and draws progress on stderr (a rich bar on a terminal, plain lines otherwise). With several
inputs (or a directory) each file is its own job: one failure does not stop the others, a
summary table follows, and the exit status is non-zero if any failed.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vsrup.cli.common import check_synthetic_weights, error_line, handle_errors, info, state, warn
from vsrup.cli.outputs import OUTPUT_HELP, expand_inputs, make_output_folders, plan_outputs
from vsrup.cli.progress import ProgressView
from vsrup.cli.report import JsonReport
from vsrup.cli.timecode import parse_time
from vsrup.errors import EXIT_RUNTIME, EXIT_USAGE, UsageError, VsrupError


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


@handle_errors
def upscale(
    inputs: list[Path] = typer.Argument(
        ...,
        help="Video files, a folder of videos (searched with its sub-folders), or an image "
        "sequence: a folder of images, a glob ('f/*.png') or a pattern (f/%04d.png).",
    ),
    output: str | None = typer.Option(None, "-o", "--output", help=OUTPUT_HELP),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Upscaling method (see `vsrup methods`)."
    ),  # noqa: E501
    scale: float | None = typer.Option(
        None, "--scale", "-s", min=0.01, help="Scale factor (default 2)."
    ),
    width: int | None = typer.Option(
        None,
        "--width",
        min=1,
        help="Output width as displayed (after rotation); height keeps the aspect unless given.",
    ),  # noqa: E501
    height: int | None = typer.Option(
        None,
        "--height",
        min=1,
        help="Output height as displayed (after rotation); width keeps the aspect unless given.",
    ),  # noqa: E501
    codec: str | None = typer.Option(
        None,
        "--codec",
        help="h264, hevc, av1, vp9, ffv1, prores, or h264_nvenc/hevc_nvenc/av1_nvenc.",
    ),  # noqa: E501
    crf: int | None = typer.Option(
        None,
        "--crf",
        min=0,
        help="Quality (lower is better; codec default if unset; h264/hevc 0-51, av1/vp9 0-63).",
    ),  # noqa: E501
    preset: str | None = typer.Option(None, "--preset", help="Encoder speed preset."),
    pix_fmt: str | None = typer.Option(
        None,
        "--pix-fmt",
        help="Output pixel format (default follows the input: 10-bit stays 10-bit).",
    ),  # noqa: E501
    no_audio: bool = typer.Option(False, "--no-audio", help="Drop audio tracks."),
    frames: str | None = typer.Option(
        None, "--frames", help="Frame range A:B (B exclusive) for previews."
    ),  # noqa: E501
    start: str | None = typer.Option(
        None, "--start", help="Start time (previews): seconds (12.5) or [hh:]mm:ss[.ms]."
    ),
    duration: str | None = typer.Option(
        None, "--duration", help="Duration (previews): seconds or [hh:]mm:ss[.ms]."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace existing outputs."),
    ignore_errors: bool = typer.Option(
        False,
        "--ignore-errors",
        help="Skip undecodable frames of damaged inputs (with a warning) instead of stopping.",
    ),  # noqa: E501
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or info lines."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, fp32, fp16 or bf16."),
    steps: int | None = typer.Option(
        None, "--steps", min=1, help="Sampling steps (diffusion methods)."
    ),
    seed: int = typer.Option(42, "--seed", help="Random seed."),
    prompt: str | None = typer.Option(
        None,
        "--prompt",
        help="Text prompt (diffusion methods; dloral puts its RAM tags of frame 0 before it "
        "when the tagger is installed: --opt tags=off to use only this).",
    ),
    negative_prompt: str | None = typer.Option(None, "--negative-prompt", help="Negative prompt."),  # noqa: E501
    synthetic_weights: str | None = typer.Option(
        None,
        "--synthetic-weights",
        help="tiny|full: random weights for testing the plumbing (output is noise).",
    ),  # noqa: E501
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="Trained weights folder from `vsrup train` (RUN_DIR/final) for dgaf, litevsr or "
        "simplegvr, instead of the installed ones.",
    ),
    model: str | None = typer.Option(None, "--model", help="Model variant of the method."),
    opt: list[str] = typer.Option([], "--opt", help="Method option key=value (repeatable)."),
    batch: int | None = typer.Option(
        None, "--batch", min=1, help="Frames decoded per batch (default: by memory)."
    ),  # noqa: E501
    color_fix: str = typer.Option(
        "none", "--color-fix", help="Pull colours back to the input: none, adain or wavelet."
    ),
    temporal: str = typer.Option(
        "auto",
        "--temporal",
        help="Temporal-consistency stage (blend with motion-compensated recent outputs): "
        "on, off, or auto (on for span, realesrgan and waifu2x).",
    ),
    offload: str = typer.Option(
        "none", "--offload", help="none or model: one network on the GPU at a time (memory saver)."
    ),
    vram: float | None = typer.Option(
        None, "--vram", min=0.1, help="GPU memory budget in GB; chooses the spatial tile size."
    ),
    tile: int | None = typer.Option(
        None, "--tile", min=16, help="Spatial tile size in input pixels."
    ),
    compile: bool = typer.Option(False, "--compile", help="Use torch.compile (slow start)."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Insist on continuing an interrupted run: fail, naming the settings that differ, "
        "when none matches. (Rerunning the same command continues anyway.)",
    ),
    work_dir: Path | None = typer.Option(
        None,
        "--work-dir",
        help="Where finished segments are kept until the output is complete "
        "(default: the vsrup cache; see `vsrup jobs list`).",
    ),
    checkpoint: bool = typer.Option(
        True,
        "--checkpoint/--no-checkpoint",
        help="Encode in segments kept until the output is complete, so an interrupted run "
        "continues where it stopped when rerun (default on).",
    ),
    segment_frames: int | None = typer.Option(
        None,
        "--segment-frames",
        help="Frames per resume segment (default 240 classical, 48 learned, 16 diffusion).",
    ),
    window: int | None = typer.Option(
        None,
        "--window",
        min=1,
        help="STCDiT: independent windows of up to N frames instead of the official single "
        "run over the whole video (a deviation).",
    ),
    scene_cuts: bool = typer.Option(
        False,
        "--scene-cuts",
        help="Motion-segment methods: also cut at hard scene changes; STCDiT samples each "
        "shot on its own (a deviation).",
    ),
    fps: float | None = typer.Option(
        None, "--fps", min=0.001, help="Frame rate of an image-sequence input (default 24)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Render segments on N worker processes (Ray, `pip install 'vsrup[ray]'`; "
        "default with --ray: one per local GPU, else 1). Output equals a one-process run's "
        "for per-frame methods; temporal methods start each segment with context frames.",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray",
        help="Address of a running Ray cluster (e.g. auto, or ray://head:10001); --work-dir "
        "must be a folder every node sees.",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="One JSON object per input on stdout (input, output, method, "
        "frames, seconds, fps, warnings, status, error).",
    ),
) -> None:
    """Upscale videos or image sequences, keeping every frame, timestamp, audio and subtitle."""
    from vsrup.engine.pipeline import UpscaleJob, run_job
    from vsrup.interface.method import MethodOptions
    from vsrup.video.writer import EncodeSettings

    state.quiet = quiet
    _interrupt_on_sigterm()
    _keep_freed_memory()
    check_synthetic_weights(synthetic_weights)
    if scale is not None and (width or height):
        raise UsageError("use either --scale or --width/--height")
    if scale is None and not (width or height):
        scale = 2.0
    if color_fix not in ("none", "adain", "wavelet"):
        raise UsageError(f"unknown --color-fix {color_fix!r}", hint="use none, adain or wavelet")
    if temporal not in ("auto", "on", "off"):
        raise UsageError(f"unknown --temporal {temporal!r}", hint="use auto, on or off")
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
    report = JsonReport() if as_json else None
    view = ProgressView(quiet)
    results: list[tuple[Path, Path, str, str]] = []
    worst = 0
    distributed = workers is not None or ray_address is not None
    queued: list[UpscaleJob] = []
    for plan in plans:
        src, dst = plan.input, plan.output
        if plan.skip is not None:
            info(f"skipped {src}: {dst} {plan.skip}")
            results.append((src, dst, "skipped", plan.skip))
            if report is not None:
                report.emit(src, dst, method, "skipped", error=plan.skip)
            continue
        job = UpscaleJob(
            input=src, output=dst, method=method, scale=scale, width=width, height=height,
            options=MethodOptions(steps=steps, seed=seed, prompt=prompt,
                                  negative_prompt=negative_prompt,
                                  synthetic_weights=synthetic_weights, variant=model,
                                  weights=weights, window=window, extra=dict(extra)),
            encode=EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                                  audio=not no_audio),
            frames=frames, start=start_s, duration=duration_s, ignore_errors=ignore_errors,
            overwrite=overwrite, device=device, dtype=dtype, batch=batch,
            color_fix=color_fix, offload=offload, vram=vram, tile=tile, compile=compile,
            temporal=temporal, resume=resume, work_dir=work_dir, checkpoint=checkpoint, fps=fps,
            segment_frames=segment_frames, scene_cuts=scene_cuts,
        )  # fmt: skip
        if distributed:
            queued.append(job)
            continue
        view.start(src.name)
        try:
            result = run_job(job, on_progress=view.update, on_warning=warn, on_info=info)
        except VsrupError as exc:
            view.stop()
            if report is not None:
                report.emit(src, dst, method, "failed", error=exc.render())
            if not is_batch:
                raise
            error_line(exc.render())
            worst = max(worst, exc.exit_code)
            results.append((src, dst, "failed", exc.message))
            continue
        except KeyboardInterrupt:
            view.stop()
            raise
        except Exception as exc:  # one broken file must not stop a batch
            view.stop()
            if not is_batch or state.debug:
                raise
            error_line(f"{src}: internal error: {type(exc).__name__}: {exc}")
            worst = max(worst, EXIT_RUNTIME)
            results.append((src, dst, "failed", f"{type(exc).__name__}: {exc}"))
            if report is not None:
                report.emit(src, dst, method, "failed", error=f"{type(exc).__name__}: {exc}")
            continue
        view.stop()
        note = f"{result.frames} frames {result.width}x{result.height} in {result.seconds:.1f} s"
        if result.decode_errors:
            note += f", {result.decode_errors} undecodable frame(s) skipped"
        info(f"wrote {dst} ({note})")
        results.append((src, dst, "ok", note))
        if report is not None:
            report.emit(src, dst, method, "ok", result=result)
    if distributed and queued:
        from vsrup.cli.scaleout import pool_options, run_scaled

        options = pool_options(workers, ray_address, device)
        worst = max(worst, run_scaled(queued, options, report, view, method, results))
        is_batch = True  # the summary table says which files failed
    if is_batch:
        _summary(results, quiet)
        if worst:
            raise typer.Exit(EXIT_USAGE if worst == EXIT_USAGE else EXIT_RUNTIME)


def _summary(results: list[tuple[Path, Path, str, str]], quiet: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    counts = {k: sum(1 for r in results if r[2] == k) for k in ("ok", "skipped", "failed")}
    colour = {"ok": "green", "skipped": "yellow", "failed": "red"}
    table = Table("input", "output", "status", "details", title="vsrup upscale")
    for src, dst, status, note in results:
        style = colour[status]
        table.add_row(str(src), str(dst), f"[{style}]{status}[/{style}]", note)
    console = Console(stderr=True)
    if not quiet or counts["failed"]:
        console.print(table)
    console.print(f"{counts['ok']} done, {counts['skipped']} skipped, {counts['failed']} failed",
                  highlight=False)  # fmt: skip
