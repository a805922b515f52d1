"""LiteVSR inference: encode LQ → UniPC flow sampling with x̂0 feedback → decode.

Each step: the adapter sees the LQ latent (structural stream) and the previous step's clean
estimate x̂0 (refinement stream; the LQ latent before the first step), the frozen DiT predicts
the velocity v, x̂0 = x_t − σ_t·v feeds the next step, and UniPC advances x_t.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import UniPCMultistepScheduler, WanTransformer3DModel

from vsrup.engine.tiles import pad_to
from vsrup.methods.litevsr import config as cfg
from vsrup.methods.litevsr.adapter import StateAwareAdapter
from vsrup.methods.litevsr.model import LiteVSRModel
from vsrup.methods.ourlayout import load_checked
from vsrup.methods.wan_family import (
    Crop,
    WanComponents,
    WanPipeline,
    place_parts,
    pretrained_vae,
    synthetic_vae,
    with_model,
)
from vsrup.nn.wan.text import encode_prompt
from vsrup.util.seeding import seeded
from vsrup.util.steps import report_step
from vsrup.util.timing import StageTimer

SCALE = 4


@dataclass
class LiteVSRComponents(WanComponents):
    model: LiteVSRModel
    scheduler: UniPCMultistepScheduler

    @property
    def pixel_multiple(self) -> int:
        """HR pixels per DiT token side: VAE compression × patch size (32 for Wan2.2-5B)."""
        return self.vae.config.scale_factor_spatial * self.model.transformer.config.patch_size[1]


# -- building ---------------------------------------------------------------------------------


def synthetic_components(
    size: str, device: torch.device, dtype: torch.dtype, seed: int
) -> LiteVSRComponents:
    """Random weights at the tiny or full config: for tests and `vsrup bench` (output is noise)."""
    tcfg, vcfg, acfg = cfg.presets(size)
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        transformer = WanTransformer3DModel(**tcfg)
        vae = synthetic_vae(vcfg)
        adapter = StateAwareAdapter(**acfg)
    adapter.init_from_patch_embedding(transformer.patch_embedding)
    text = torch.randn(1, cfg.TEXT_LEN[size], tcfg["text_dim"], generator=gen)
    return _assemble(
        transformer, vae, adapter, UniPCMultistepScheduler(**cfg.SCHEDULER), text, device, dtype
    )


def _assemble(
    transformer: WanTransformer3DModel,
    vae: torch.nn.Module,
    adapter: StateAwareAdapter,
    scheduler: UniPCMultistepScheduler,
    prompt_embeds: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> LiteVSRComponents:
    model, vae, text = place_parts(
        LiteVSRModel(transformer, adapter), vae, prompt_embeds, device, dtype
    )
    return LiteVSRComponents(model=model, vae=vae, prompt_embeds=text, scheduler=scheduler)


def load_adapter(directory: Path) -> StateAwareAdapter:
    """Adapter weights in our layout: config.json + model.safetensors, strictly checked."""
    from vsrup.methods.litevsr.convert import build

    return load_checked(Path(directory), build)


def with_adapter(parts: LiteVSRComponents, directory: Path) -> LiteVSRComponents:
    """The same base with the adapter loaded from `directory` (our layout)."""
    return with_model(parts, LiteVSRModel(parts.model.transformer, load_adapter(directory)))


def pretrained_components(
    base_dir: Path, adapter_dir: Path | None, device: torch.device, dtype: torch.dtype
) -> LiteVSRComponents:
    """The Wan2.2-TI2V-5B base (`base_dir`, diffusers layout) with the adapter of
    `adapter_dir` (our layout), or with a fresh one (None: where `vsrup train litevsr` starts,
    initialised from the DiT's patch embedding with zero injections)."""
    transformer = WanTransformer3DModel.from_pretrained(
        base_dir, subfolder="transformer", torch_dtype=dtype
    )
    vae = pretrained_vae(base_dir)
    try:
        scheduler = UniPCMultistepScheduler.from_pretrained(base_dir, subfolder="scheduler")
    except (OSError, ValueError):
        scheduler = UniPCMultistepScheduler(**cfg.SCHEDULER)
    if adapter_dir is None:
        adapter = StateAwareAdapter(**cfg.FULL_ADAPTER)
        adapter.init_from_patch_embedding(transformer.patch_embedding)
    else:
        adapter = load_adapter(adapter_dir)
    prompt = encode_prompt(base_dir, "", device, cfg.TEXT_LEN["full"])  # the paper pre-encodes ""
    return _assemble(transformer, vae, adapter, scheduler, prompt, device, dtype)


# -- running ----------------------------------------------------------------------------------


class LiteVSRPipeline(WanPipeline[LiteVSRComponents]):
    """Bicubic ×4 → whole-clip encode → UniPC with x̂0 feedback → whole-clip decode."""

    def prepare(self, frames: torch.Tensor) -> tuple[torch.Tensor, Crop]:
        t_in = frames.shape[0]
        hr = F.interpolate(frames.float(), scale_factor=SCALE, mode="bicubic", align_corners=False)
        hr, (hh, ww) = pad_to(hr.clamp(0, 1), multiple=self.parts.pixel_multiple)
        # The VAE takes 4k+1 frames (`encode` repeats the last); the extra outputs are cropped.
        return hr, Crop(t_in, hh, ww)

    def denoise(self, encoded: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        parts, lq = self.parts, encoded
        dev, dtype = parts.device, parts.dtype
        scheduler = parts.scheduler
        scheduler.set_timesteps(self.steps, device=dev)
        latents = self.noise(lq.shape, generator)
        estimate = lq
        for i, t in enumerate(scheduler.timesteps):
            timestep = t.expand(1).to(dev)
            with StageTimer("denoise"):
                velocity = parts.model(latents, timestep, parts.prompt_embeds, lq, estimate)
            sigma = float(scheduler.sigmas[i])
            estimate = (latents.float() - sigma * velocity.float()).to(dtype)
            latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
            report_step(i + 1, len(scheduler.timesteps))
        return latents


def upscale_clip(
    parts: LiteVSRComponents, frames: torch.Tensor, steps: int, generator: torch.Generator
) -> torch.Tensor:
    """(T, 3, H, W) LR frames in [0, 1] → (T, 3, 4H, 4W), T any length ≥ 1."""
    return LiteVSRPipeline(parts, steps, SCALE)(frames, generator)
