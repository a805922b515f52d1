"""LiteVSR's objective (paper §3.4), written from the paper: no official code exists.

Per sample: HR and LQ clips (the LQ one bicubic ×4 up, as at inference) are encoded by the
frozen Wan2.2 VAE. A flow time t is drawn, x_t = (1 − t)·x0 + t·ε. Adaptive trajectory
unrolling: depth(t) passes of x̂0 ← x_t − t·v(x_t, x̂0) without gradients, starting from the
LQ latent (what the first inference step sees), give the clean estimate the adapter's
refinement stream receives; the trained pass then predicts v and the loss is
w(t)·‖v − (ε − x0)‖² (flow matching, latent space only, no pixel loss). Only the State-Aware
Adapter and its injections train; the DiT stays frozen. Paper settings: 37×512×512 crops of
REDS with RealBasicVSR degradations, AdamW (β 0.9/0.999, weight decay 0.01), constant
learning rate, batch 1 with 8 accumulation steps, 6,250 iterations, maximum depth 3,
sharpness 5, empty prompt pre-encoded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.train.objectives.base import Objective as BaseObjective
from vsrup.train.objectives.base import Recipe, rand, randn, save_with_config
from vsrup.train.objectives.wan import encode_clips, flow_noise, installed


class Objective(BaseObjective):
    method_id: ClassVar[str] = "litevsr"
    recipes: ClassVar[dict[str, Recipe]] = {
        # choice: the paper's learning rate did not survive in our copy; 1e-4 is ours.
        "full": Recipe(frames=37, crop=512, lr=1e-4, batch=1, grad_accum=8, steps=6250),
        "tiny": Recipe(frames=5, crop=64, lr=2e-3, batch=2, grad_accum=1, steps=30),
    }
    max_depth = 3
    sharpness = 5.0

    def __init__(self, size: str | None, device: torch.device, seed: int, **options: Any):
        super().__init__(size, device, seed, **options)
        from vsrup.methods.litevsr import pipeline

        if size is not None:
            self.parts = pipeline.synthetic_components(size, device, torch.float32, seed)
        else:  # the frozen Wan2.2-TI2V-5B base with a fresh adapter
            base = installed("wan22-ti2v-5b")
            self.parts = pipeline.pretrained_components(base, None, device, torch.float32)
        self.model = self.parts.model
        self.model.transformer.requires_grad_(False).eval()
        self.parts.vae.requires_grad_(False)
        self.model.adapter.requires_grad_(True).train()

    @property
    def trainable(self) -> nn.Module:
        return self.model

    def enable_gradient_checkpointing(self) -> None:
        self.model.transformer.enable_gradient_checkpointing()

    def loss(
        self, model: nn.Module, hr: torch.Tensor, lr: torch.Tensor, gens: list[torch.Generator]
    ) -> torch.Tensor:
        from vsrup.methods.litevsr.schedule import loss_weight, unroll_depth, unrolled_estimate

        dev = self.device
        b, t, c, h, w = lr.shape
        up = F.interpolate(lr.reshape(b * t, c, h, w).float(), scale_factor=4, mode="bicubic")
        up = up.clamp(0, 1).reshape(b, t, c, 4 * h, 4 * w)
        vae = self.parts.vae
        x0 = encode_clips(vae, hr.to(dev))
        lq = encode_clips(vae, up.to(dev))
        times = rand(gens, dev)  # choice: t ~ U(0, 1)
        noise = randn(x0.shape[1:], gens, dev)
        noisy = flow_noise(x0, noise, times)
        prompt = self.parts.prompt_embeds.expand(b, -1, -1)
        estimates = []
        for i in range(b):
            ts = (times[i : i + 1] * 1000).to(dev)

            def velocity(x: torch.Tensor, est: torch.Tensor, ts=ts, i=i) -> torch.Tensor:
                return self.model(x, ts, prompt[i : i + 1], lq[i : i + 1], est)

            depth = unroll_depth(float(times[i]), self.max_depth, self.sharpness)
            estimates.append(
                unrolled_estimate(velocity, noisy[i : i + 1], float(times[i]), lq[i : i + 1], depth)
            )
        pred = model(noisy, times * 1000, prompt, lq, torch.cat(estimates))
        per_sample = ((pred.float() - (noise - x0).float()) ** 2).flatten(1).mean(1)
        return (loss_weight(times) * per_sample).mean()

    @torch.no_grad()
    def upscale(self, lr: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
        from vsrup.methods.litevsr.pipeline import upscale_clip

        self.model.adapter.eval()
        try:
            gen = torch.Generator(device=self.device).manual_seed(seed)
            return upscale_clip(self.parts, lr.to(self.device), steps, gen)
        finally:
            self.model.adapter.train()

    def export_files(self, staging: Path) -> None:
        save_with_config(self.model.adapter, dict(self.model.adapter.config), staging)

    def check_export(self, directory: Path) -> None:
        from vsrup.methods.litevsr.pipeline import load_adapter

        load_adapter(directory)
        json.loads((directory / "config.json").read_text())
