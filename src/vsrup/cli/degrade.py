"""`vsrup degrade IN -o LR`: a low-resolution clip (and its ground truth) for measuring methods."""

from __future__ import annotations

from pathlib import Path

import typer

from vsrup.cli.common import handle_errors, info
from vsrup.errors import OutputError


def register(app: typer.Typer) -> None:
    app.command("degrade")(degrade)


def check_outputs(inputs: list[Path], outputs: list[Path | None], overwrite: bool) -> None:
    """Each output: not an input, not an existing file (unless --overwrite), not named twice."""
    from vsrup.video.output import check_output

    seen: set[Path] = set()
    for p in outputs:
        if p is None:
            continue
        check_output(p, overwrite=overwrite, inputs=tuple(inputs))
        if p.resolve() in seen:
            raise OutputError("is named as two outputs of this command", path=p)
        seen.add(p.resolve())


@handle_errors
def degrade(
    source: Path = typer.Argument(..., help="Any clip; its frames become the ground truth."),
    output: Path = typer.Option(..., "-o", "--output", help="The LR video to write."),
    gt: Path | None = typer.Option(
        None, "--gt", help="Also write the ground truth (needed when cropping or with --frames)."
    ),
    scale: int = typer.Option(4, "--scale", "-s", min=1, help="Downscaling factor."),
    kernel: str = typer.Option("bicubic", "--kernel", help="area, bicubic or lanczos."),
    blur: float = typer.Option(0.0, "--blur", help="Gaussian blur sigma (HR pixels) first."),
    noise: float = typer.Option(0.0, "--noise", help="Gaussian noise sigma in 8-bit levels."),
    jpeg: int | None = typer.Option(None, "--jpeg", help="JPEG quality per LR frame (1..100)."),
    crf: int | None = typer.Option(
        None, "--crf", help="Encode LR with H.264 at this CRF (default: lossless)."
    ),
    pipeline: str | None = typer.Option(
        None,
        "--pipeline",
        help="A training pipeline instead of the options above: realworld (RealBasicVSR's "
        "second-order blur/resize/noise/JPEG/codec) or aigc-flow (SimpleGVR's motion blending "
        "and blur); the same code `vsrup train` uses.",
    ),
    clip: int = typer.Option(
        16, "--clip", min=1, help="--pipeline: frames degraded together (one parameter draw)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise (and of --pipeline)."),
    frames: str | None = typer.Option(None, "--frames", help="Frame range A:B (end exclusive)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs."),
) -> None:
    """Make an LR/GT pair: blur, downscale, noise, JPEG, H.264, in the literature's order,
    or one of `vsrup train`'s pipelines (--pipeline)."""
    from vsrup.bench.degrade import Degradation, degrade_video
    from vsrup.cli.metrics import frame_progress, parse_frames
    from vsrup.errors import UsageError

    start, stop = parse_frames(frames)
    check_outputs([source], [output, gt], overwrite)
    deg = Degradation(scale, kernel, blur, noise, jpeg, crf, seed)
    pairs, what = None, deg.describe()
    if pipeline is not None:
        from functools import partial

        from vsrup.train.degradations import PIPELINES
        from vsrup.train.degradations.video import clip_pairs

        if pipeline not in PIPELINES:
            raise UsageError(f"unknown --pipeline {pipeline!r}", hint=f"use {', '.join(PIPELINES)}")
        if deg != Degradation(scale=scale, seed=seed):
            raise UsageError("--pipeline replaces --kernel/--blur/--noise/--jpeg/--crf")
        pairs = partial(clip_pairs, pipeline=pipeline, scale=scale, seed=seed, clip=clip)
        what = f"x{scale} {pipeline}, clips of {clip}, seed {seed}"
    with frame_progress(f"degrading {source.name}", None) as advance:
        count = degrade_video(
            source, output, deg, gt_path=gt, start=start, stop=stop, on_frame=advance, pairs=pairs
        )
    info(f"wrote {count} frames to {output} ({what})" + (f" and {gt}" if gt else ""))
