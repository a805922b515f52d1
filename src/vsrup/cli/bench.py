"""`vsrup bench [IN] --method M ...`: speed, memory and quality of methods on one clip."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from vsrup.cli.common import check_synthetic_weights, handle_errors, info, warn
from vsrup.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def parse_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = (0, 0)
    if not sep or min(size) < 1:
        raise UsageError(f"bad size {text!r}", hint="use WxH, e.g. 320x180")
    return size


def parse_extra(pairs: list[str] | None) -> dict[str, str]:
    extra = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"bad --opt {pair!r}", hint="use key=value")
        extra[key] = value
    return extra


@handle_errors
def bench(
    source: Path | None = typer.Argument(None, help="Clip to run on (default: a generated one)."),
    method: list[str] = typer.Option(..., "--method", "-m", help="Method id; repeat for more."),
    scale: int = typer.Option(4, "--scale", "-s", min=1, help="Upscaling factor."),
    size: str = typer.Option("320x180", "--size", help="Generated clip size WxH (input size)."),
    length: int = typer.Option(16, "--length", min=1, help="Generated clip length in frames."),
    frames: str | None = typer.Option(None, "--frames", help="Frame range A:B of the clip."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Timed runs per method (mean shown)."),
    warmup: int = typer.Option(1, "--warmup", min=0, help="Untimed runs first, per method."),
    device: str = typer.Option("auto", "--device", help="auto, cuda, cuda:N, mps or cpu."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, bf16, fp16 or fp32."),
    synthetic_weights: str | None = typer.Option(
        None, "--synthetic-weights", help="tiny or full: random weights, time the architecture."
    ),
    steps: int | None = typer.Option(None, "--steps", help="Sampling steps (diffusion)."),
    seed: int = typer.Option(42, "--seed"),
    opt: list[str] | None = typer.Option(None, "--opt", help="Method option key=value."),
    reference: Path | None = typer.Option(
        None, "--reference", help="Ground truth (input size × scale): adds PSNR/SSIM."
    ),
    degrade: bool = typer.Option(
        False, "--degrade", help="Downscale the clip first and score against the original."
    ),
    kernel: str = typer.Option("bicubic", "--kernel", help="--degrade: area, bicubic, lanczos."),
    blur: float = typer.Option(0.0, "--blur", help="--degrade: Gaussian blur sigma."),
    noise: float = typer.Option(0.0, "--noise", help="--degrade: noise sigma (8-bit levels)."),
    jpeg: int | None = typer.Option(None, "--jpeg", help="--degrade: JPEG quality."),
    crf: int | None = typer.Option(None, "--crf", help="--degrade: H.264 CRF of the LR clip."),
    ffmpeg: bool = typer.Option(True, "--ffmpeg/--no-ffmpeg", help="ffmpeg lanczos row."),
    ncnn: bool = typer.Option(
        True, "--ncnn/--no-ncnn", help="pip ncnn SPAN row (model only), with -m span."
    ),
    temporal: bool = typer.Option(
        True, "--temporal/--no-temporal", help="DIS warping error and flicker of each output."
    ),
    keep: Path | None = typer.Option(None, "--keep", help="Keep the output videos here."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print Markdown tables."),
) -> None:
    """Time methods per stage (decode, method, VAE, denoise, encode), frames/s, peak RSS and
    VRAM; with --reference or --degrade also PSNR/SSIM on Y and temporal consistency."""
    from vsrup.bench.degrade import Degradation
    from vsrup.bench.suite import BenchSettings, run_bench
    from vsrup.cli.metrics import parse_frames

    if as_json and as_markdown:
        raise UsageError("choose one of --json and --markdown")
    check_synthetic_weights(synthetic_weights)
    start, stop = parse_frames(frames)
    deg = Degradation(scale, kernel, blur, noise, jpeg, crf, seed) if degrade else None
    settings = BenchSettings(
        methods=list(method),
        input=source,
        size=parse_size(size),
        length=length,
        start=start,
        stop=stop,
        scale=scale,
        repeat=repeat,
        warmup=warmup,
        device=device,
        dtype=dtype,
        synthetic_weights=synthetic_weights,
        steps=steps,
        seed=seed,
        extra=parse_extra(opt),
        reference=reference,
        degrade=deg,
        ffmpeg=ffmpeg,
        ncnn=ncnn,
        temporal=temporal,
        keep=keep,
    )

    def progress(result) -> None:  # noqa: ANN001
        if result.error:
            warn(f"{result.method}: {result.error}")
        elif not (as_json or as_markdown):
            info(f"{result.method}: {result.mean('fps'):.2f} frames/s")

    report = run_bench(settings, on_result=progress)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    elif as_markdown or not sys.stdout.isatty():  # piped: full markdown, never cut to "…"
        print(report.to_markdown(), end="")
    else:
        from vsrup.bench.report import print_rich

        print_rich(report)
    failed = [r for r in report.results if r.error]
    if failed and len(failed) == len(report.results):
        raise typer.Exit(failed[0].exit_code)
