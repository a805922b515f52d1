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
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

from vsrup.engine.tiles import pad_to
from vsrup.methods.litevsr import config as cfg
from vsrup.methods.litevsr.adapter import StateAwareAdapter
from vsrup.methods.litevsr.model import LiteVSRModel
from vsrup.methods.ourlayout import load_checked
from vsrup.nn.wan.text import encode_prompt
from vsrup.nn.wan.vae import latent_stats, pad_frames_4k1
from vsrup.util.steps import report_step
from vsrup.util.timing import StageTimer

SCALE = 4


@dataclass
class LiteVSRComponents:
    model: LiteVSRModel
    vae: AutoencoderKLWan
    scheduler: UniPCMultistepScheduler
    prompt_embeds: torch.Tensor

    @property
    def pixel_multiple(self) -> int:
        """HR pixels per DiT token side: VAE compression × patch size (32 for Wan2.2-5B)."""
        return self.vae.config.scale_factor_spatial * self.model.transformer.config.patch_size[1]


def synthetic_components(
    size: str, device: torch.device, dtype: torch.dtype, seed: int
) -> LiteVSRComponents:
    """Random weights at the tiny or full config: for tests and `vsrup bench` (output is noise)."""
    tcfg, vcfg, acfg = cfg.presets(size)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer = WanTransformer3DModel(**tcfg)
        vae = AutoencoderKLWan(**vcfg)
        adapter = StateAwareAdapter(**acfg)
    adapter.init_from_patch_embedding(transformer.patch_embedding)
    text = torch.randn(1, cfg.TEXT_LEN[size], tcfg["text_dim"], generator=gen)
    return _assemble(
        transformer, vae, adapter, UniPCMultistepScheduler(**cfg.SCHEDULER), text, device, dtype
    )


def _assemble(
    transformer: WanTransformer3DModel,
    vae: AutoencoderKLWan,
    adapter: StateAwareAdapter,
    scheduler: UniPCMultistepScheduler,
    prompt_embeds: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> LiteVSRComponents:
    model = LiteVSRModel(transformer, adapter).to(device=device, dtype=dtype).eval()
    # The Wan VAE is numerically sensitive: it stays in fp32 (its cost is small next to the DiT).
    vae = vae.to(device=device, dtype=torch.float32).eval()
    return LiteVSRComponents(model, vae, scheduler, prompt_embeds.to(device=device, dtype=dtype))


def load_adapter(directory: Path) -> StateAwareAdapter:
    """Adapter weights in our layout: config.json + model.safetensors, strictly checked."""
    from vsrup.methods.litevsr.convert import build

    return load_checked(Path(directory), build)


def with_adapter(parts: LiteVSRComponents, directory: Path) -> LiteVSRComponents:
    """The same base with the adapter loaded from `directory` (our layout)."""
    param = next(parts.model.parameters())
    model = LiteVSRModel(parts.model.transformer, load_adapter(directory))
    model = model.to(device=param.device, dtype=param.dtype).eval()
    return LiteVSRComponents(model, parts.vae, parts.scheduler, parts.prompt_embeds)


def pretrained_components(
    base_dir: Path, adapter_dir: Path, device: torch.device, dtype: torch.dtype
) -> LiteVSRComponents:
    transformer = WanTransformer3DModel.from_pretrained(
        base_dir, subfolder="transformer", torch_dtype=dtype
    )
    vae = AutoencoderKLWan.from_pretrained(base_dir, subfolder="vae", torch_dtype=torch.float32)
    try:
        scheduler = UniPCMultistepScheduler.from_pretrained(base_dir, subfolder="scheduler")
    except (OSError, ValueError):
        scheduler = UniPCMultistepScheduler(**cfg.SCHEDULER)
    adapter = load_adapter(adapter_dir)
    prompt = encode_prompt(base_dir, "", device, cfg.TEXT_LEN["full"])  # the paper pre-encodes ""
    return _assemble(transformer, vae, adapter, scheduler, prompt, device, dtype)


@torch.no_grad()
def upscale_clip(
    parts: LiteVSRComponents, frames: torch.Tensor, steps: int, generator: torch.Generator
) -> torch.Tensor:
    """(T, 3, H, W) LR frames in [0, 1] → (T, 3, 4H, 4W), T any length ≥ 1."""
    t_in, _, h, w = frames.shape
    dev = frames.device
    hr = F.interpolate(frames.float(), scale_factor=SCALE, mode="bicubic", align_corners=False)
    hr, (hh, ww) = pad_to(hr.clamp(0, 1), multiple=parts.pixel_multiple)
    # The Wan VAE takes 4k+1 frames: the last is repeated, the extra outputs dropped at the end.
    video, _ = pad_frames_4k1((hr * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0))  # (1, 3, T, H, W)

    vae = parts.vae
    mean, std = latent_stats(vae, video)
    with StageTimer("vae_encode"):
        lq = (vae.encode(video).latent_dist.mode() - mean) / std
    dtype = next(parts.model.parameters()).dtype
    lq = lq.to(dtype)

    scheduler = parts.scheduler
    scheduler.set_timesteps(steps, device=dev)
    noise = torch.randn(lq.shape, generator=generator, device=generator.device, dtype=torch.float32)
    latents = noise.to(device=dev, dtype=dtype)
    estimate = lq
    for i, t in enumerate(scheduler.timesteps):
        timestep = t.expand(1).to(dev)
        with StageTimer("denoise"):
            velocity = parts.model(latents, timestep, parts.prompt_embeds, lq, estimate)
        sigma = float(scheduler.sigmas[i])
        estimate = (latents.float() - sigma * velocity.float()).to(dtype)
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
        report_step(i + 1, len(scheduler.timesteps))

    with StageTimer("vae_decode"):
        decoded = vae.decode(latents.float() * std + mean, return_dict=False)[0]
    out = ((decoded[0].permute(1, 0, 2, 3) + 1) / 2).clamp(0, 1)
    return out[:t_in, :, :hh, :ww]
