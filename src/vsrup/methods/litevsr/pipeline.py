"""LiteVSR inference: encode LQ → UniPC flow sampling with x̂0 feedback → decode.

Each step: the adapter sees the LQ latent (structural stream) and the previous step's clean
estimate x̂0 (refinement stream; the LQ latent before the first step), the frozen DiT predicts
the velocity v, x̂0 = x_t − σ_t·v feeds the next step, and UniPC advances x_t.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

from vsrup.engine.tiles import pad_to
from vsrup.errors import WeightsError
from vsrup.hub.registry import cache_root
from vsrup.methods.litevsr import config as cfg
from vsrup.methods.litevsr.adapter import StateAwareAdapter
from vsrup.methods.litevsr.model import LiteVSRModel

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
    """Adapter weights in our layout: config.json + model.safetensors (see convert.py)."""
    from safetensors.torch import load_file

    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise WeightsError("config.json or model.safetensors is missing", path=directory)
    config = json.loads(config_path.read_text())
    adapter = StateAwareAdapter(**{k: v for k, v in config.items() if not k.startswith("_")})
    state = load_file(weights_path)
    expected = adapter.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = [
            f"{n} {label}: {', '.join(keys[:5])}"
            for label, keys, n in (
                ("missing", missing, len(missing)),
                ("unexpected", unexpected, len(unexpected)),
                ("with wrong shapes", wrong, len(wrong)),
            )
            if keys
        ]
        raise WeightsError("adapter weights do not match: " + "; ".join(parts), path=weights_path)
    adapter.load_state_dict(state)
    return adapter


def empty_prompt_embeds(base_dir: Path, device: torch.device) -> torch.Tensor:
    """UMT5 embedding of the empty prompt, computed once and cached on disk (the paper
    pre-encodes it). The encoder is loaded in bf16, used, and freed before the DiT runs."""
    from safetensors.torch import load_file, save_file

    key = hashlib.sha256(f"{base_dir.resolve()}|empty|{cfg.TEXT_LEN['full']}".encode()).hexdigest()
    cache = cache_root() / "text" / f"litevsr-{key[:16]}.safetensors"
    if cache.is_file():
        return load_file(cache)["prompt_embeds"]
    from transformers import AutoTokenizer, UMT5EncoderModel

    tokenizer = AutoTokenizer.from_pretrained(base_dir / "tokenizer")
    encoder = UMT5EncoderModel.from_pretrained(
        base_dir / "text_encoder", torch_dtype=torch.bfloat16
    )
    encoder.to(device)
    tokens = tokenizer(
        [""],
        padding="max_length",
        max_length=cfg.TEXT_LEN["full"],
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        out = encoder(
            tokens.input_ids.to(device), tokens.attention_mask.to(device)
        ).last_hidden_state
    length = int(tokens.attention_mask.sum())
    embeds = torch.zeros_like(out[:, :, :]).float().cpu()
    embeds[:, :length] = out[:, :length].float().cpu()  # Wan pads past the prompt with zeros
    del encoder
    if device.type == "cuda":
        torch.cuda.empty_cache()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    save_file({"prompt_embeds": embeds.contiguous()}, tmp)
    tmp.replace(cache)
    return embeds


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
    prompt = empty_prompt_embeds(base_dir, device)
    return _assemble(transformer, vae, adapter, scheduler, prompt, device, dtype)


def _latent_stats(vae: AutoencoderKLWan, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean, device=like.device, dtype=like.dtype).view(shape)
    std = torch.tensor(vae.config.latents_std, device=like.device, dtype=like.dtype).view(shape)
    return mean, std


@torch.no_grad()
def upscale_clip(
    parts: LiteVSRComponents, frames: torch.Tensor, steps: int, generator: torch.Generator
) -> torch.Tensor:
    """(T, 3, H, W) LR frames in [0, 1] → (T, 3, 4H, 4W), T any length ≥ 1."""
    t_in, _, h, w = frames.shape
    dev = frames.device
    # The Wan VAE takes 4k+1 frames: repeat the last frame, drop the extra outputs at the end.
    t_pad = (-(t_in - 1)) % parts.vae.config.scale_factor_temporal
    if t_pad:
        frames = torch.cat([frames, frames[-1:].expand(t_pad, -1, -1, -1)], dim=0)
    hr = F.interpolate(frames.float(), scale_factor=SCALE, mode="bicubic", align_corners=False)
    hr, (hh, ww) = pad_to(hr.clamp(0, 1), multiple=parts.pixel_multiple)
    video = (hr * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0)  # (1, 3, T, H, W)

    vae = parts.vae
    mean, std = _latent_stats(vae, video)
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
        velocity = parts.model(latents, timestep, parts.prompt_embeds, lq, estimate)
        sigma = float(scheduler.sigmas[i])
        estimate = (latents.float() - sigma * velocity.float()).to(dtype)
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]

    decoded = vae.decode(latents.float() * std + mean, return_dict=False)[0]
    out = ((decoded[0].permute(1, 0, 2, 3) + 1) / 2).clamp(0, 1)
    return out[:t_in, :, :hh, :ww]
