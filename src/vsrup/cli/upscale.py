"""`vsrup upscale IN... [-o OUT]`: run the engine pipeline on one or many inputs.

The command maps options one to one onto `UpscaleJob` / `EncodeSettings` / `MethodOptions`
and draws progress on stderr (a rich bar on a terminal, plain lines otherwise). With several
inputs (or a directory) each file is its own job: one failure does not stop the others, a
summary table follows, and the exit status is non-zero if any failed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from vsrup.cli.common import check_synthetic_weights, error_line, handle_errors, info, state, warn
from vsrup.errors import EXIT_RUNTIME, EXIT_USAGE, UsageError, VsrupError

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".ts", ".mts", ".m2ts",
                    ".flv", ".wmv", ".mpg", ".mpeg", ".3gp"}  # fmt: skip
OUTPUT_EXTENSIONS = {".mp4", ".m4v", ".mkv", ".mov", ".webm"}


OUTPUT_HELP = (
    "Output file, or a directory for several inputs (default: beside the input, NAME_x2.EXT). "
    "A .png pattern such as out/%06d.png writes an image sequence."
)


def default_method(scale: float | None, device: str) -> str:
    """The method used when --method is not given: the best installed one (diffusion only
    with a GPU, then span from its wheel, then lanczos), announced on stderr."""
    from vsrup.engine.runtime import resolve_device
    from vsrup.methods.defaults import best_installed_method

    gpu = resolve_device(device) != "cpu"
    chosen = best_installed_method(4 if scale is None or scale > 2 else 2, gpu=gpu)
    why = "best installed" + ("" if gpu else " for CPU")
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


def expand_inputs(inputs: list[Path]) -> tuple[list[Path], bool]:
    """Files to process, and whether this is a batch (several files or a directory).

    A directory that holds videos is a batch of them; a directory of images only is an
    image sequence (one input)."""
    from vsrup.video.imageseq import IMAGE_EXTENSIONS

    files: list[Path] = []
    batch = len(inputs) > 1
    for p in inputs:
        if p.is_dir():
            videos = sorted(f for f in p.iterdir() if f.suffix.lower() in VIDEO_EXTENSIONS)
            if videos:
                files.extend(videos)
                batch = True
                continue
            if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir()):
                files.append(p)  # an image sequence
                continue
            raise UsageError("no videos or images in this directory", path=p)
        files.append(p)
    return files, batch


def output_name(src: Path, scale: float | None, width: int | None, height: int | None) -> str:
    tag = f"{width or 'w'}x{height or 'h'}" if (width or height) else f"x{scale:g}"
    ext = src.suffix.lower() if src.suffix.lower() in OUTPUT_EXTENSIONS else ".mkv"
    return f"{src.stem}_{tag}{ext}"


def plan_outputs(files: list[Path], batch: bool, output: Path | None, scale, width, height):  # noqa: ANN001, ANN201
    if batch:
        if output is not None and output.suffix.lower() in OUTPUT_EXTENSIONS:
            raise UsageError("with several inputs, -o must be a directory", path=output)
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
        return [(output or f.parent) / output_name(f, scale, width, height) for f in files]
    src = files[0]
    if output is None:
        return [src.parent / output_name(src, scale, width, height)]
    if output.is_dir() or str(output).endswith(("/", "\\")):
        return [output / output_name(src, scale, width, height)]
    return [output]


class _ProgressView:
    """Rich bar on a terminal; plain lines every few seconds otherwise; nothing with -q."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._bar = None
        self._task = None
        self._last = 0.0

    def start(self, label: str) -> None:
        self._label = label
        if self.quiet or not self.tty:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,  # fmt: skip
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:.1f} fps"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(label, total=None, fps=0.0)

    def update(self, p) -> None:  # noqa: ANN001 - vsrup.engine.pipeline.Progress
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=p.done, total=p.total or None, fps=p.fps)
            return
        now = time.monotonic()
        if now - self._last >= 5.0 or p.done == p.total:
            self._last = now
            eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
            info(f"{self._label}: {p.done}/{p.total} frames, {p.fps:.1f} fps{eta}")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@handle_errors
def upscale(
    inputs: list[Path] = typer.Argument(
        ..., help="Video files, image folders/globs, or a folder of videos."
    ),  # noqa: E501
    output: Path | None = typer.Option(
        None,
        "-o",
        "--output",
        help=OUTPUT_HELP,
    ),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Upscaling method (see `vsrup methods`)."
    ),  # noqa: E501
    scale: float | None = typer.Option(None, "--scale", "-s", help="Scale factor (default 2)."),
    width: int | None = typer.Option(
        None, "--width", help="Output width; height follows the aspect unless given."
    ),  # noqa: E501
    height: int | None = typer.Option(
        None, "--height", help="Output height; width follows the aspect unless given."
    ),  # noqa: E501
    codec: str | None = typer.Option(
        None,
        "--codec",
        help="h264, hevc, av1, vp9, ffv1, prores, or h264_nvenc/hevc_nvenc/av1_nvenc.",
    ),  # noqa: E501
    crf: int | None = typer.Option(
        None, "--crf", help="Quality (lower is better; codec default if unset)."
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
    start: float | None = typer.Option(None, "--start", help="Start time in seconds (previews)."),
    duration: float | None = typer.Option(
        None, "--duration", help="Duration in seconds (previews)."
    ),  # noqa: E501
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace existing outputs."),
    ignore_errors: bool = typer.Option(
        False,
        "--ignore-errors",
        help="Skip undecodable frames of damaged inputs (with a warning) instead of stopping.",
    ),  # noqa: E501
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or info lines."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, fp32, fp16 or bf16."),
    steps: int | None = typer.Option(None, "--steps", help="Sampling steps (diffusion methods)."),
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
    model: str | None = typer.Option(None, "--model", help="Model variant of the method."),
    opt: list[str] = typer.Option([], "--opt", help="Method option key=value (repeatable)."),
    batch: int | None = typer.Option(
        None, "--batch", help="Frames decoded per batch (default: by memory)."
    ),  # noqa: E501
    color_fix: str = typer.Option(
        "none", "--color-fix", help="Pull colours back to the input: none, adain or wavelet."
    ),
    offload: str = typer.Option(
        "none", "--offload", help="none, model or sequential CPU offload (GPU memory saver)."
    ),
    vram: float | None = typer.Option(
        None, "--vram", help="GPU memory budget in GB; chooses the spatial tile size."
    ),
    tile: int | None = typer.Option(None, "--tile", help="Spatial tile size in input pixels."),
    compile: bool = typer.Option(False, "--compile", help="Use torch.compile (slow start)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted run from its last finished chunk."
    ),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Where finished chunks are kept until the output is complete."
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
    checkpoint: bool | None = typer.Option(
        None,
        "--checkpoint/--no-checkpoint",
        help="Keep finished chunks so --resume can continue (default: diffusion methods).",
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
    method = method or default_method(scale, device)
    extra = parse_opts(opt)
    if synthetic_weights:
        warn(f"--synthetic-weights {synthetic_weights}: the model has random weights, so the "
             "output is noise; use this only to test the plumbing")  # fmt: skip

    files, is_batch = expand_inputs(inputs)
    outputs = plan_outputs(files, is_batch, output, scale, width, height)
    view = _ProgressView(quiet)
    results: list[tuple[Path, Path, str, str]] = []
    worst = 0
    for src, dst in zip(files, outputs, strict=True):
        job = UpscaleJob(
            input=src, output=dst, method=method, scale=scale, width=width, height=height,
            options=MethodOptions(steps=steps, seed=seed, prompt=prompt,
                                  negative_prompt=negative_prompt,
                                  synthetic_weights=synthetic_weights, variant=model,
                                  window=window, extra=dict(extra)),
            encode=EncodeSettings(codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                                  audio=not no_audio),
            frames=frames, start=start, duration=duration, ignore_errors=ignore_errors,
            overwrite=overwrite, device=device, dtype=dtype, batch=batch,
            color_fix=color_fix, offload=offload, vram=vram, tile=tile, compile=compile,
            resume=resume, work_dir=work_dir, checkpoint=checkpoint, scene_cuts=scene_cuts,
        )  # fmt: skip
        view.start(src.name)
        try:
            result = run_job(job, on_progress=view.update, on_warning=warn, on_info=info)
        except VsrupError as exc:
            view.stop()
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
            continue
        view.stop()
        note = f"{result.frames} frames {result.width}x{result.height} in {result.seconds:.1f} s"
        if result.decode_errors:
            note += f", {result.decode_errors} undecodable frame(s) skipped"
        info(f"wrote {dst} ({note})")
        results.append((src, dst, "ok", note))
    if is_batch:
        _summary(results, quiet)
        if worst:
            raise typer.Exit(EXIT_USAGE if worst == EXIT_USAGE else EXIT_RUNTIME)


def _summary(results: list[tuple[Path, Path, str, str]], quiet: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    failed = sum(1 for r in results if r[2] != "ok")
    table = Table("input", "output", "status", "details", title="vsrup upscale")
    for src, dst, status, note in results:
        style = "green" if status == "ok" else "red"
        table.add_row(str(src), str(dst), f"[{style}]{status}[/{style}]", note)
    console = Console(stderr=True)
    if not quiet or failed:
        console.print(table)
    console.print(f"{len(results) - failed} done, {failed} failed", highlight=False)
