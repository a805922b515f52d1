"""The settings of one training run, and which of them a resumed run must keep."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    method: str
    data: list[Path]
    run_dir: Path
    synthetic_weights: str | None = None
    steps: int | None = None  # optimiser steps; None: the recipe's
    batch: int | None = None  # clips per process per micro-batch; None: the recipe's
    grad_accum: int | None = None
    lr: float | None = None
    seed: int = 42
    frames: int | None = None
    crop: int | None = None
    degradation: str | None = None
    resume: bool = False
    checkpoint_every: int = 500
    val_every: int = 500
    val_steps: int | None = None  # sampling steps of validation inference
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    log_every: int = 10

    #: What must not change on --resume (the data order and the model depend on them).
    FIXED = ("method", "synthetic_weights", "batch", "grad_accum", "seed", "frames", "crop",
             "degradation", "data")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"] = [str(p) for p in self.data]
        d["run_dir"] = str(self.run_dir)
        return d
