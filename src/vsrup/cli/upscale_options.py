"""The options of `vsrup upscale`, one type alias each (name, limits and help), so that the
command's signature stays a readable list of names and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vsrup.cli.outputs import OUTPUT_HELP

Inputs = Annotated[
    list[Path],
    typer.Argument(
        help="Video files, a folder of videos (searched with its sub-folders), or an image "
        "sequence: a folder of images, a glob ('f/*.png') or a pattern (f/%04d.png)."
    ),
]

Output = Annotated[str | None, typer.Option("-o", "--output", help=OUTPUT_HELP)]

Method = Annotated[
    str | None, typer.Option("--method", "-m", help="Upscaling method (see `vsrup methods`).")
]

Scale = Annotated[
    float | None, typer.Option("--scale", "-s", min=0.01, help="Scale factor (default 2).")
]

Width = Annotated[
    int | None,
    typer.Option(
        "--width",
        min=1,
        help="Output width as displayed (after rotation); height keeps the aspect unless given.",
    ),
]

Height = Annotated[
    int | None,
    typer.Option(
        "--height",
        min=1,
        help="Output height as displayed (after rotation); width keeps the aspect unless given.",
    ),
]

Codec = Annotated[
    str | None,
    typer.Option(
        "--codec", help="h264, hevc, av1, vp9, ffv1, prores, or h264_nvenc/hevc_nvenc/av1_nvenc."
    ),
]

Crf = Annotated[
    int | None,
    typer.Option(
        "--crf",
        min=0,
        help="Quality (lower is better; codec default if unset; h264/hevc 0-51, av1/vp9 0-63).",
    ),
]

Preset = Annotated[str | None, typer.Option("--preset", help="Encoder speed preset.")]

PixFmt = Annotated[
    str | None,
    typer.Option(
        "--pix-fmt", help="Output pixel format (default follows the input: 10-bit stays 10-bit)."
    ),
]

NoAudio = Annotated[bool, typer.Option("--no-audio", help="Drop audio tracks.")]

Frames = Annotated[
    str | None, typer.Option("--frames", help="Frame range A:B (B exclusive) for previews.")
]

Start = Annotated[
    str | None,
    typer.Option("--start", help="Start time (previews): seconds (12.5) or [hh:]mm:ss[.ms]."),
]

Duration = Annotated[
    str | None, typer.Option("--duration", help="Duration (previews): seconds or [hh:]mm:ss[.ms].")
]

Overwrite = Annotated[bool, typer.Option("--overwrite", "-y", help="Replace existing outputs.")]

IgnoreErrors = Annotated[
    bool,
    typer.Option(
        "--ignore-errors",
        help="Skip undecodable frames of damaged inputs (with a warning) instead of stopping.",
    ),
]

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or info lines.")]

Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]

Dtype = Annotated[str, typer.Option("--dtype", help="auto, fp32, fp16 or bf16.")]

Steps = Annotated[
    int | None, typer.Option("--steps", min=1, help="Sampling steps (diffusion methods).")
]

Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]

Prompt = Annotated[
    str | None,
    typer.Option(
        "--prompt",
        help="Text prompt (diffusion methods; dloral puts its RAM tags of frame 0 before it "
        "when the tagger is installed: --opt tags=off to use only this).",
    ),
]

NegativePrompt = Annotated[str | None, typer.Option("--negative-prompt", help="Negative prompt.")]

SyntheticWeights = Annotated[
    str | None,
    typer.Option(
        "--synthetic-weights",
        help="tiny|full: random weights for testing the plumbing (output is noise).",
    ),
]

Weights = Annotated[
    Path | None,
    typer.Option(
        "--weights",
        help="Trained weights folder from `vsrup train` (RUN_DIR/final) for dgaf, litevsr or "
        "simplegvr, instead of the installed ones; for stcdit a LoRA merged on top of them.",
    ),
]

Model = Annotated[str | None, typer.Option("--model", help="Model variant of the method.")]

Opt = Annotated[list[str], typer.Option("--opt", help="Method option key=value (repeatable).")]

Batch = Annotated[
    int | None,
    typer.Option("--batch", min=1, help="Frames decoded per batch (default: by memory)."),
]

ColorFix = Annotated[
    str, typer.Option("--color-fix", help="Pull colours back to the input: none, adain or wavelet.")
]

Temporal = Annotated[
    str,
    typer.Option(
        "--temporal",
        help="Temporal-consistency stage (blend with motion-compensated recent outputs): "
        "on, off, or auto (on for span, realesrgan and waifu2x).",
    ),
]

Offload = Annotated[
    str,
    typer.Option(
        "--offload", help="none or model: one network on the GPU at a time (memory saver)."
    ),
]

Vram = Annotated[
    float | None,
    typer.Option("--vram", min=0.1, help="GPU memory budget in GB; chooses the spatial tile size."),
]

Tile = Annotated[
    int | None, typer.Option("--tile", min=16, help="Spatial tile size in input pixels.")
]

Compile = Annotated[bool, typer.Option("--compile", help="Use torch.compile (slow start).")]

Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Insist on continuing an interrupted run: fail, naming the settings that differ, "
        "when none matches. (Rerunning the same command continues anyway.)",
    ),
]

WorkDir = Annotated[
    Path | None,
    typer.Option(
        "--work-dir",
        help="Where finished segments are kept until the output is complete "
        "(default: the vsrup cache; see `vsrup jobs list`).",
    ),
]

Checkpoint = Annotated[
    bool,
    typer.Option(
        "--checkpoint/--no-checkpoint",
        help="Encode in segments kept until the output is complete, so an interrupted run "
        "continues where it stopped when rerun (default on).",
    ),
]

SegmentFrames = Annotated[
    int | None,
    typer.Option(
        "--segment-frames",
        help="Frames per resume segment (default 240 classical, 48 learned, 16 diffusion).",
    ),
]

Window = Annotated[
    int | None,
    typer.Option(
        "--window",
        min=1,
        help="STCDiT: independent windows of up to N frames instead of the official single "
        "run over the whole video (a deviation).",
    ),
]

SceneCuts = Annotated[
    bool,
    typer.Option(
        "--scene-cuts",
        help="Motion-segment methods: also cut at hard scene changes; STCDiT samples each "
        "shot on its own (a deviation).",
    ),
]

Fps = Annotated[
    float | None,
    typer.Option("--fps", min=0.001, help="Frame rate of an image-sequence input (default 24)."),
]

Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Render segments on N worker processes (Ray, `pip install 'vsrup[ray]'`; "
        "default with --ray: one per local GPU, else 1). Output equals a one-process run's "
        "for per-frame methods; temporal methods start each segment with context frames.",
    ),
]

RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray",
        help="Address of a running Ray cluster (e.g. auto, or ray://head:10001); --work-dir "
        "must be a folder every node sees.",
    ),
]

AsJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help="One JSON object per input on stdout (input, output, method, "
        "frames, seconds, fps, warnings, status, error).",
    ),
]
