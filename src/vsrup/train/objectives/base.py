"""What every method's training objective provides to the loop.

An objective owns the frozen parts (VAE, base denoiser, flow network) and the trainable
module the loop hands to `accelerate`. `loss` receives one batch and one torch.Generator per
sample: every random draw of sample i (timestep, noise, neighbour choice, VAE sampling) comes
from generator i, which is seeded by (run seed, global sample index). A batch split across
processes therefore draws exactly what the unsplit batch draws.
"""

from __future__ import annotations

import json
import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class Recipe:
    """The paper's (or official code's) training settings, and our tiny stand-ins for tests."""

    frames: int  # HR frames per training clip
    crop: int  # HR crop side in pixels
    lr: float
    batch: int
    grad_accum: int
    steps: int
    weight_decay: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.999)
    max_grad_norm: float | None = 1.0
    degradation: str = "realworld"


def randn(shape: Sequence[int], gens: Sequence[torch.Generator], device: torch.device):  # noqa: ANN201
    """(len(gens), *shape) normal noise, row i drawn from gens[i] (on the CPU, then moved)."""
    return torch.stack([torch.randn(tuple(shape), generator=g) for g in gens]).to(device)


def rand(gens: Sequence[torch.Generator], device: torch.device) -> torch.Tensor:
    """(len(gens),) uniform [0, 1) numbers, one per sample."""
    return torch.cat([torch.rand(1, generator=g) for g in gens]).to(device)


class Objective(ABC):
    method_id: ClassVar[str]
    scale: ClassVar[int] = 4
    #: HR crops must be a multiple of this (VAE and patch sizes).
    crop_multiple: ClassVar[int] = 32
    #: Sampling steps of validation inference with real-size models.
    default_val_steps: ClassVar[int] = 20
    #: The paper's setting (size "full") and the tiny one tests and `--synthetic-weights tiny`
    #: use.
    recipes: ClassVar[dict[str, Recipe]]

    def __init__(self, size: str | None, device: torch.device, seed: int, **options: Any):
        self.size = size
        self.device = device
        self.seed = seed
        self.options = options

    @property
    def recipe(self) -> Recipe:
        return self.recipes["tiny" if self.size == "tiny" else "full"]

    @property
    @abstractmethod
    def trainable(self) -> nn.Module:
        """The module whose parameters the optimiser updates (wrapped by accelerate)."""

    @abstractmethod
    def loss(
        self, model: nn.Module, hr: torch.Tensor, lr: torch.Tensor, gens: list[torch.Generator]
    ) -> torch.Tensor:
        """Mean loss of a batch: `hr` (B, T, 3, H, W) and `lr` (B, T, 3, H/4, W/4) in [0, 1];
        `model` is `trainable` as accelerate wrapped it (call it, not `self.trainable`)."""

    @abstractmethod
    def upscale(self, lr: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
        """Inference with the current weights for validation: (T, 3, h, w) → (T, 3, 4h, 4w)."""

    @abstractmethod
    def export_files(self, staging: Path) -> None:
        """Write config.json and model.safetensors (config also in its metadata) into staging."""

    @abstractmethod
    def check_export(self, directory: Path) -> None:
        """Load an export through the method's own loader (raises when it does not match)."""

    def enable_gradient_checkpointing(self) -> None:  # noqa: B027 (optional: no-op default)
        """Trade compute for memory in the modules gradients flow through."""

    def export(self, dst: Path) -> Path:
        """Write the trained weights in the layout `vsrup upscale --weights` and
        `vsrup models import` read, verify by loading them back, then move into place."""
        staging = dst.with_name(dst.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            self.export_files(staging)
            self.check_export(staging)
            shutil.rmtree(dst, ignore_errors=True)
            staging.rename(dst)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dst


def save_with_config(module: nn.Module, config: dict[str, Any], directory: Path) -> None:
    """config.json + model.safetensors whose metadata also carries the config (so the file
    alone can be passed to `vsrup models import`)."""
    from safetensors.torch import save_file

    text = json.dumps(config, indent=2, default=list)
    (directory / "config.json").write_text(text + "\n")
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"), metadata={"config": text})
