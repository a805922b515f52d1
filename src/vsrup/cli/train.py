"""`vsrup train METHOD --data DIR -o RUN_DIR`: train the methods that ship without weights.

Multi-GPU and multi-node: start the same command under `accelerate launch` (one process per
GPU); each process trains on its share of every batch and gradients are averaged.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vsrup.cli.common import check_synthetic_weights, handle_errors, info, state


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def _format_eta(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@handle_errors
def train(
    method: str = typer.Argument(..., help="dgaf, litevsr, simplegvr; stcdit (LoRA)."),
    data: list[Path] = typer.Option(
        ..., "--data", help="A video, or a folder of videos and/or frame folders (repeatable)."
    ),
    run_dir: Path = typer.Option(
        ..., "-o", "--output", help="Run folder: checkpoints, metrics, validation, final/."
    ),
    synthetic_weights: str | None = typer.Option(
        None,
        "--synthetic-weights",
        help="tiny|full: start from random weights at that size (tests, sizing a run).",
    ),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Optimiser steps."),
    batch: int | None = typer.Option(None, "--batch", min=1, help="Clips per process per step."),
    grad_accum: int | None = typer.Option(
        None, "--grad-accum", min=1, help="Micro-batches accumulated per optimiser step."
    ),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (default: the paper's)."),
    seed: int = typer.Option(42, "--seed", help="Seed of data order, degradations and noise."),
    frames: int | None = typer.Option(None, "--frames", min=1, help="HR frames per clip."),
    crop: int | None = typer.Option(None, "--crop", min=16, help="HR crop side in pixels."),
    degradation: str | None = typer.Option(
        None,
        "--degradation",
        help="bicubic, realworld (RealBasicVSR), aigc-flow or model-guided (simplegvr).",
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint."),
    checkpoint_every: int = typer.Option(500, "--checkpoint-every", min=1),
    val_every: int = typer.Option(500, "--val-every", min=1),
    val_steps: int | None = typer.Option(
        None, "--val-steps", min=1, help="Sampling steps of validation inference."
    ),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no, fp16 or bf16."),
    gradient_checkpointing: bool = typer.Option(
        False, "--gradient-checkpointing", help="Recompute activations to save memory."
    ),
    log_every: int = typer.Option(10, "--log-every", min=1, help="Progress line every N steps."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary at the end."),
) -> None:
    """Train a method's weights on your footage; RUN_DIR/final loads with --weights."""
    from vsrup.errors import UsageError
    from vsrup.train.config import TrainConfig
    from vsrup.train.degradations import PIPELINES
    from vsrup.train.loop import train as run

    check_synthetic_weights(synthetic_weights)
    if mixed_precision not in ("no", "fp16", "bf16"):
        raise UsageError(f"bad --mixed-precision {mixed_precision!r}", hint="use no, fp16 or bf16")
    allowed = (*PIPELINES, "model-guided") if method == "simplegvr" else PIPELINES
    if degradation is not None and degradation not in allowed:
        raise UsageError(f"bad --degradation {degradation!r}", hint=f"use {', '.join(allowed)}")
    state.quiet = as_json  # with --json, stdout/stderr carry only the summary and errors
    cfg = TrainConfig(
        method=method, data=[p.resolve() for p in data], run_dir=run_dir.resolve(),
        synthetic_weights=synthetic_weights, steps=steps, batch=batch, grad_accum=grad_accum,
        lr=lr, seed=seed, frames=frames, crop=crop, degradation=degradation, resume=resume,
        checkpoint_every=checkpoint_every, val_every=val_every, val_steps=val_steps,
        mixed_precision=mixed_precision, gradient_checkpointing=gradient_checkpointing,
        log_every=log_every,
    )  # fmt: skip

    def progress(p) -> None:  # noqa: ANN001
        if p.step % log_every == 0 or p.step == p.total:
            info(
                f"step {p.step}/{p.total}  loss {p.loss:.4f}  lr {p.lr:.2e}  "
                f"{p.samples_per_s:.2f} samples/s  ETA {_format_eta(p.eta_s)}"
            )

    summary = run(cfg, on_progress=progress)
    if summary is None:  # not the main process of a multi-process run
        return
    if as_json:
        print(json.dumps(summary))
    else:
        info(f"weights written to {summary['export']} (use: vsrup upscale -m {method} "
             f"--weights {summary['export']})")  # fmt: skip
