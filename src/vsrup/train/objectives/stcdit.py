"""STCDiT LoRA fine-tuning on a user's own footage (a second peft adapter, base frozen).

The paper (§"Loss & Training") trains the released model with AdamW at 5e-5 and an MSE loss
on RealBasicVSR/Real-ESRGAN degradations; its training code is not public. We fine-tune
what inference runs: per clip, the LR frames go through the pipeline's own input
preparation (Lanczos up to the output size) and the HR frames stay as they are; both are
encoded per motion segment by the frozen Wan2.1 VAE (one segment per ≤ 9 frames: crops are
short and cut-free), the anchors are the pipeline's (segment starts, every 4th plus the last).
Flow matching as the Wan base was trained and as our sampler integrates: σ = shift(u),
u ~ U(0, 1) with the sampler's shift 5, x_σ = (1 − σ)·x0 + σ·ε, the model sees 1000·σ and the
loss is ‖v − (ε − x0)‖² (plain MSE, the paper's word; no timestep weighting). The text
condition is the fixed prompt embedding inference uses. Only the "finetune" LoRA trains
(`methods/stcdit/finetune.py`): STCDiT's own LoRA, its anchor modules, the DiT and the VAE
stay bit-identical.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from vsrup.errors import WeightsError
from vsrup.train.objectives.base import Objective as BaseObjective
from vsrup.train.objectives.base import Recipe, rand, randn
from vsrup.train.objectives.wan import flow_noise, installed


def _pretrained(device: torch.device) -> Any:
    """STCDiT-tiny (Wan2.1-T2V-1.3B + tiny_8k) in float32 master weights."""
    from vsrup.methods.stcdit.method import VARIANT_WEIGHTS
    from vsrup.methods.stcdit.pipeline import pretrained_parts

    base, ckpt = (installed(model_id) for model_id in VARIANT_WEIGHTS["tiny"])
    return pretrained_parts(base, ckpt, device, torch.float32, None, None)


class Objective(BaseObjective):
    method_id: ClassVar[str] = "stcdit"
    crop_multiple: ClassVar[int] = 32
    default_val_steps: ClassVar[int] = 10
    recipes: ClassVar[dict[str, Recipe]] = {
        # The paper's optimiser and learning rate; clip length and crop are ours (9 frames:
        # one motion segment of the official segmenter's maximum length).
        "full": Recipe(frames=9, crop=512, lr=5e-5, batch=1, grad_accum=4, steps=2000),
        "tiny": Recipe(frames=5, crop=64, lr=1e-2, batch=2, grad_accum=1, steps=30),
    }
    #: LoRA rank and alpha of the user's adapter (alpha = rank: scale 1).
    ranks: ClassVar[dict[str, int]] = {"full": 16, "tiny": 4}

    def __init__(self, size: str | None, device: torch.device, seed: int, **options: Any):
        super().__init__(size, device, seed, **options)
        from vsrup.methods.stcdit import finetune, pipeline

        if size is not None:
            self.parts = pipeline.synthetic_parts(size, device, torch.float32, seed)
        else:
            self.parts = _pretrained(device)
        self.model = self.parts.model
        self.model.requires_grad_(False)
        self.parts.vae.requires_grad_(False)
        rank = self.ranks["tiny" if size == "tiny" else "full"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # LoRA A's init: reproducible from --seed
            finetune.add_adapter(self.model.transformer, rank, float(rank))
        self.model.train()

    @property
    def trainable(self) -> nn.Module:
        return self.model

    def enable_gradient_checkpointing(self) -> None:
        """STCDiT runs its own block loop (`STCDiT.block_forward`), which diffusers' switch
        does not reach: each block is recomputed in the backward pass instead."""
        from torch.utils.checkpoint import checkpoint

        block_forward = self.model.block_forward

        def recomputed(*args: Any) -> torch.Tensor:
            return checkpoint(block_forward, *args, use_reentrant=False)

        self.model.block_forward = recomputed

    def _latents(self, frames: torch.Tensor, scale: int) -> tuple[torch.Tensor, list[int]]:
        """(T, 3, H, W) in [0, 1] → segment latents from the inference pipeline's own
        prepare/encode stages (one segment per ≤ 9 frames), and its anchors."""
        from vsrup.methods.stcdit.pipeline import STCDiTPipeline, select_anchors

        stages = STCDiTPipeline(self.parts, 1, scale)
        pixels, _ = stages.prepare(frames.float())
        enc = stages.encode(pixels, [0])
        return enc.latents, select_anchors(enc.anchor_indices, 0, enc.latents.shape[2])

    def loss(
        self, model: nn.Module, hr: torch.Tensor, lr: torch.Tensor, gens: list[torch.Generator]
    ) -> torch.Tensor:
        from vsrup.methods.stcdit import config as cfg

        dev = self.device
        with torch.no_grad():
            pairs = [(self._latents(h, 1), self._latents(low, self.scale))
                     for h, low in zip(hr, lr, strict=True)]  # fmt: skip
        x0 = torch.cat([p[0][0] for p in pairs]).to(dev)
        lq = torch.cat([p[1][0] for p in pairs]).to(dev)
        anchors = pairs[0][1][1]  # same clip length and crop in a batch: same anchors
        u = rand(gens, dev)
        sigma = cfg.SHIFT * u / (1 + (cfg.SHIFT - 1) * u)
        noise = randn(x0.shape[1:], gens, dev)
        noisy = flow_noise(x0, noise, sigma)
        text = self.parts.prompt_embeds.expand(len(gens), -1, -1)
        pred = model(noisy, lq, anchors, sigma * 1000, text)
        return ((pred.float() - (noise - x0).float()) ** 2).mean()

    @torch.no_grad()
    def upscale(self, lr: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
        from vsrup.methods.stcdit.pipeline import upscale_clip

        self.model.eval()
        try:
            gen = torch.Generator().manual_seed(seed)
            return upscale_clip(self.parts, lr.to(self.device), [0], self.scale, steps, gen)
        finally:
            self.model.train()

    def export_files(self, staging: Path) -> None:
        from vsrup.methods.stcdit.finetune import save_adapter

        save_adapter(self.model.transformer, staging)

    @torch.no_grad()
    def check_export(self, directory: Path) -> None:
        """Merge the export into a copy of the transformer without the live adapter, through
        the loader `--weights` uses, and compare every merged weight with base + delta."""
        from vsrup.methods.stcdit.finetune import ADAPTER, merge_adapter, remove_adapter

        copied = copy.deepcopy(self.model.transformer)
        remove_adapter(copied)
        merge_adapter(copied, directory)
        merged = dict(copied.named_modules())
        for name, layer in self.model.transformer.named_modules():
            if ADAPTER in getattr(layer, "lora_A", {}):
                base = layer.get_base_layer().weight
                want = base + layer.get_delta_weight(ADAPTER).to(base.dtype)
                if not torch.allclose(merged[name].get_base_layer().weight, want, atol=1e-6):
                    raise WeightsError(f"merges into {name} differently", path=directory)
        del copied
