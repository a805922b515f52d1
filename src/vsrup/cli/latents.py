"""`vsrup upscale-latents`: a video from an upstream Wan pipeline's latents (SimpleGVR).

Creators who generate video with a Wan-class model can hand its low-resolution latents
straight to a latent-cascaded method, skipping a decode and a re-encode. The latent file
format is documented in docs/methods/simplegvr.md.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import typer

from vsrup.cli.common import check_synthetic_weights, handle_errors, info, warn


def register(app: typer.Typer) -> None:
    app.command("upscale-latents")(upscale_latents)


@handle_errors
def upscale_latents(
    latents: Path = typer.Argument(..., help="A .safetensors file holding a 'latents' tensor."),
    output: Path = typer.Option(..., "--output", "-o", help="Output video file."),
    method: str = typer.Option("simplegvr", "--method", "-m", help="A method that takes latents."),
    scale: int = typer.Option(4, "--scale", "-s", help="Latent upscale factor (native: 4 or 2)."),
    fps: float | None = typer.Option(
        None, "--fps", help="Frame rate (default: the file's 'fps' metadata, else 16)."
    ),
    codec: str | None = typer.Option(None, "--codec", help="Video codec (h264, hevc, ...)."),
    crf: int | None = typer.Option(None, "--crf", help="Constant rate factor."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an existing output."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, fp32, fp16 or bf16."),
    steps: int | None = typer.Option(None, "--steps", help="Sampling steps."),
    seed: int = typer.Option(42, "--seed", help="Random seed."),
    prompt: str | None = typer.Option(None, "--prompt", help="Text prompt."),
    synthetic_weights: str | None = typer.Option(
        None, "--synthetic-weights", help="tiny|full: random weights (the output is noise)."
    ),
    opt: list[str] = typer.Option([], "--opt", help="Method option key=value (repeatable)."),
) -> None:
    """Decode an upstream model's low-resolution latents into a high-resolution video."""
    from vsrup import methods
    from vsrup.cli.upscale import parse_opts
    from vsrup.engine.pipeline import resolve_weights
    from vsrup.engine.runtime import resolve_runtime
    from vsrup.errors import UsageError
    from vsrup.interface.method import MethodOptions, check_options
    from vsrup.methods.simplegvr.pipeline import read_latents_file
    from vsrup.video.output import AtomicOutput
    from vsrup.video.writer import EncodeSettings, VideoWriter

    cls = methods.get(method)
    if not hasattr(cls, "upscale_latents"):
        raise UsageError(f"method {method!r} cannot take latents", hint="use --method simplegvr")
    check_synthetic_weights(synthetic_weights)
    tensor, meta = read_latents_file(latents)
    rate = Fraction(fps if fps is not None else float(meta.get("fps", 16))).limit_denominator(1001)
    if rate <= 0:
        raise UsageError(f"--fps must be positive, got {fps}")
    options = MethodOptions(
        scale=scale,
        steps=steps,
        seed=seed,
        prompt=prompt,
        synthetic_weights=synthetic_weights,
        extra=parse_opts(opt),
    )
    check_options(cls.spec, options)
    if synthetic_weights:
        warn("synthetic weights: the output is noise (for testing and benchmarking only)")
    runtime = resolve_runtime(device, dtype, cls.spec.dtypes, seed=seed)
    weights = resolve_weights(cls.spec, options, cls.weights_for(options))
    model = cls.from_weights(weights, runtime, options)
    frames = model.upscale_latents(tensor)
    count, _, height, width = frames.shape
    with AtomicOutput(output, overwrite=overwrite, inputs=(latents,)) as temp:
        writer = VideoWriter(
            temp,
            width=width,
            height=height,
            time_base=1 / rate,
            fps=rate,
            settings=EncodeSettings(codec=codec, crf=crf),
            warn=warn,
            label=output.name,
        )
        try:
            for start in range(0, count, 8):
                chunk = frames[start : start + 8]
                writer.write(chunk, list(range(start, start + chunk.shape[0])))
            writer.close()
        except BaseException:
            writer.abort()
            raise
    info(f"wrote {output} ({count} frames {width}x{height} at {float(rate):g} fps)")
