"""SimpleGVR's objective (paper §4), written from the paper: no official code exists.

Per sample: the HR clip and its LR side are encoded by the frozen Wan2.1 VAE. The LR latent
is upsampled by the model's latent upsampler (3-D conv → bilinear → 3-D conv) and noise-
augmented: c = (1 − a)·ĉ + a·ε′ with a ~ U[0.3, 0.6] (the paper's "timesteps 300–600").
A flow time t comes from the detail-aware sampler; x_t = (1 − t)·z0 + t·ε; the model sees
[x_t ; c] and the loss is ‖v − (ε − z0)‖² (conditional flow matching). All parameters train
(DiT and upsampler). Paper settings: AdamW, lr 5e-5, total batch 32, 20k iterations on
17-frame clips (then degradation fine-tuning and 77-frame extension), prompt dropped for 10 %.

With `degradation="model-guided"` the LR latent additionally goes through SDEdit by the T2V
model (a frozen copy of the initial model with an all-zero condition, which is exactly the
T2V model the run starts from), α ~ U[0.3, 0.4].
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from vsrup.train.objectives.base import Objective as BaseObjective
from vsrup.train.objectives.base import Recipe, rand, randn, save_with_config
from vsrup.train.objectives.wan import encode_clips, flow_noise, installed

NOISE_AUG = (0.3, 0.6)
#: choice: the detail-aware sampler as a shifted uniform, t = s·u / (1 + (s − 1)·u) with s = 3:
#: most mass in the high- and mid-noise regions where the paper measured the detail gains,
#: little (P(t < 0.2) ≈ 8 %) in the low-noise region.
DETAIL_SHIFT = 3.0


def detail_aware(u: torch.Tensor, shift: float = DETAIL_SHIFT) -> torch.Tensor:
    return shift * u / (1 + (shift - 1) * u)


class TrainingForward(nn.Module):
    """Upsampler, noise augmentation and DiT in one forward, so accelerate's wrapper (DDP)
    sees every trained parameter used inside its forward pass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        noisy: torch.Tensor,
        timestep: torch.Tensor,
        prompt: torch.Tensor,
        lr_latent: torch.Tensor,
        aug: torch.Tensor,
        aug_noise: torch.Tensor,
    ) -> torch.Tensor:
        cond = self.model.upsampler(lr_latent, tuple(noisy.shape[-2:]))
        a = aug.view(-1, 1, 1, 1, 1).to(cond.dtype)
        cond = (1 - a) * cond + a * aug_noise.to(cond.dtype)
        return self.model(noisy, timestep, prompt, cond)


class Objective(BaseObjective):
    method_id: ClassVar[str] = "simplegvr"
    recipes: ClassVar[dict[str, Recipe]] = {
        "full": Recipe(frames=17, crop=512, lr=5e-5, batch=2, grad_accum=1, steps=20_000),
        "tiny": Recipe(frames=5, crop=64, lr=2e-3, batch=2, grad_accum=1, steps=30),
    }

    def __init__(self, size: str | None, device: torch.device, seed: int, **options: Any):
        super().__init__(size, device, seed, **options)
        from vsrup.methods.simplegvr import pipeline

        pattern = pipeline.PATTERNS["dense"]
        if size is not None:
            self.parts = pipeline.synthetic_components(size, device, torch.float32, seed, pattern)
        else:  # Wan2.1-T2V-1.3B widened to [noisy ; condition], a fresh latent upsampler
            base = installed("wan21-t2v-1.3b")
            self.parts = pipeline.pretrained_components(
                base, None, device, torch.float32, pattern, ""
            )
        self.model = self.parts.model.requires_grad_(True).train()
        self.forward = TrainingForward(self.model)
        self.parts.vae.requires_grad_(False)
        self.t2v: nn.Module | None = None
        if options.get("degradation") == "model-guided":
            self.t2v = copy.deepcopy(self.model).requires_grad_(False).eval()

    @property
    def trainable(self) -> nn.Module:
        return self.forward

    def enable_gradient_checkpointing(self) -> None:
        self.model.transformer.enable_gradient_checkpointing()

    def _model_guided(self, c0: torch.Tensor, gens: list[torch.Generator]) -> torch.Tensor:
        from vsrup.train.degradations.model_guided import ALPHA_RANGE, sdedit

        assert self.t2v is not None
        out = []
        prompt = self.parts.prompt_embeds
        for i, g in enumerate(gens):
            alpha = ALPHA_RANGE[0] + (ALPHA_RANGE[1] - ALPHA_RANGE[0]) * float(rand([g], c0.device))
            latent = c0[i : i + 1]
            zero = torch.zeros_like(latent)

            def velocity(x: torch.Tensor, t: torch.Tensor, zero=zero) -> torch.Tensor:
                return self.t2v(x, t, prompt, zero)

            noise = randn(latent.shape[1:], [g], c0.device)
            out.append(sdedit(latent, velocity, alpha, noise))
        return torch.cat(out)

    def loss(
        self, model: nn.Module, hr: torch.Tensor, lr: torch.Tensor, gens: list[torch.Generator]
    ) -> torch.Tensor:
        dev = self.device
        b = hr.shape[0]
        z0 = encode_clips(self.parts.vae, hr.to(dev))
        c0 = encode_clips(self.parts.vae, lr.to(dev))
        if self.t2v is not None:
            c0 = self._model_guided(c0, gens)
        aug = NOISE_AUG[0] + (NOISE_AUG[1] - NOISE_AUG[0]) * rand(gens, dev)
        times = detail_aware(rand(gens, dev))
        noise = randn(z0.shape[1:], gens, dev)
        aug_noise = randn(z0.shape[1:], gens, dev)
        noisy = flow_noise(z0, noise, times)
        prompt = self.parts.prompt_embeds.expand(b, -1, -1)
        pred = model(noisy, times * 1000, prompt, c0, aug, aug_noise)
        return ((pred.float() - (noise - z0).float()) ** 2).mean()

    @torch.no_grad()
    def upscale(self, lr: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
        from vsrup.methods.simplegvr.pipeline import upscale_clip

        self.model.eval()
        try:
            gen = torch.Generator(device=self.device).manual_seed(seed)
            noise_aug = sum(NOISE_AUG) / 2
            return upscale_clip(self.parts, lr.to(self.device), 4, steps, noise_aug, gen)
        finally:
            self.model.train()

    def export_files(self, staging: Path) -> None:
        config = {
            "transformer": dict(self.model.transformer.config),
            "upsampler": dict(self.model.upsampler.config),
        }
        for part in config.values():
            for key in [k for k in part if k.startswith("_")]:
                del part[key]
        save_with_config(self.model, config, staging)

    def check_export(self, directory: Path) -> None:
        from vsrup.methods.simplegvr.pipeline import PATTERNS, load_model

        load_model(directory, PATTERNS["dense"])
