"""SimpleGVR inference: LR latent (from a video, or straight from an upstream Wan pipeline)
→ upsample + noise augmentation → flow-matching sampling on [noisy HR ; condition] → decode.

Latent files (`vsrup upscale-latents FILE.safetensors`): one tensor named `latents`, shape
(1, 16, F, H/8, W/8) or (16, F, H/8, W/8), in the Wan2.1 VAE's *normalised* latent space,
i.e. exactly what diffusers' `WanPipeline(..., output_type="latent")` returns
((z − latents_mean) / latents_std). F latent frames decode to 4·(F − 1) + 1 video frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from vsrup.engine.tiles import pad_to
from vsrup.errors import InputError
from vsrup.methods.ourlayout import load_checked
from vsrup.methods.simplegvr import config as cfg
from vsrup.methods.simplegvr.attention import AttentionPattern
from vsrup.methods.simplegvr.model import LatentUpsampler, SimpleGVRModel
from vsrup.nn.wan.flow import euler_sample
from vsrup.nn.wan.text import encode_prompt
from vsrup.nn.wan.vae import latent_stats, pad_frames_4k1
from vsrup.util.timing import StageTimer

#: The paper's final configuration: temporal units of 5 latent frames, 12×9-token windows, top-1.
PAPER_PATTERN = AttentionPattern(temporal_unit=5, sparse_block=(12, 9), topk=1)
PATTERNS = {
    "dense": AttentionPattern(),
    "units": AttentionPattern(temporal_unit=5),
    "sparse": AttentionPattern(sparse_block=(12, 9), topk=1),
    "units+sparse": PAPER_PATTERN,
}


@dataclass
class SimpleGVRComponents:
    model: SimpleGVRModel
    vae: AutoencoderKLWan
    scheduler_shift: float
    prompt_embeds: torch.Tensor


def synthetic_components(
    size: str, device: torch.device, dtype: torch.dtype, seed: int, pattern: AttentionPattern
) -> SimpleGVRComponents:
    tcfg, vcfg, ucfg = cfg.presets(size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SimpleGVRModel(WanTransformer3DModel(**tcfg), LatentUpsampler(**ucfg), pattern)
        vae = AutoencoderKLWan(**vcfg)
        text = torch.randn(1, cfg.TEXT_LEN[size], tcfg["text_dim"])
    return _assemble(model, vae, text, device, dtype)


def _assemble(model, vae, text, device, dtype) -> SimpleGVRComponents:  # noqa: ANN001
    model = model.to(device=device, dtype=dtype).eval()
    vae = vae.to(device=device, dtype=torch.float32).eval()  # the Wan VAE stays in fp32
    return SimpleGVRComponents(model, vae, cfg.FLOW_SHIFT, text.to(device=device, dtype=dtype))


def load_model(directory: Path, pattern: AttentionPattern) -> SimpleGVRModel:
    """Our layout (see convert.py), strictly checked, with `pattern` attention."""
    from vsrup.methods.simplegvr.convert import build

    model = load_checked(Path(directory), build)
    model.set_pattern(pattern)
    return model


def with_model(
    parts: SimpleGVRComponents, directory: Path, pattern: AttentionPattern
) -> SimpleGVRComponents:
    """The same VAE and prompt with the model loaded from `directory` (our layout)."""
    param = next(parts.model.parameters())
    model = load_model(directory, pattern).to(device=param.device, dtype=param.dtype).eval()
    return SimpleGVRComponents(model, parts.vae, parts.scheduler_shift, parts.prompt_embeds)


def pretrained_components(
    base_dir: Path,
    weights_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
    pattern: AttentionPattern,
    prompt: str,
) -> SimpleGVRComponents:
    model = load_model(weights_dir, pattern)
    vae = AutoencoderKLWan.from_pretrained(base_dir, subfolder="vae", torch_dtype=torch.float32)
    text = encode_prompt(base_dir, prompt, device)
    return _assemble(model, vae, text, device, dtype)


@torch.no_grad()
def encode_video(parts: SimpleGVRComponents, frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) in [0, 1], H and W multiples of 8 → normalised latent of the frames
    padded to 4k+1 (the last frame repeated; `decode_latents` output is cropped by callers)."""
    video, _ = pad_frames_4k1((frames.float() * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0))
    mean, std = latent_stats(parts.vae, video)
    with StageTimer("vae_encode"):
        return (parts.vae.encode(video).latent_dist.mode() - mean) / std


@torch.no_grad()
def decode_latents(parts: SimpleGVRComponents, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latent → (T, 3, H, W) frames in [0, 1]."""
    mean, std = latent_stats(parts.vae, latents.float())
    with StageTimer("vae_decode"):
        video = parts.vae.decode(latents.float() * std + mean, return_dict=False)[0]
    return ((video[0].permute(1, 0, 2, 3) + 1) / 2).clamp(0, 1)


@torch.no_grad()
def upscale_latents(
    parts: SimpleGVRComponents,
    lr_latents: torch.Tensor,
    scale: float,
    steps: int,
    noise_aug: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """LR latent (1, 16, F, h, w) → HR latent (1, 16, F, h·s, w·s) by conditional sampling."""
    if not 0.0 <= noise_aug < 1.0:
        raise ValueError(f"noise augmentation must be in [0, 1), got {noise_aug}")
    model = parts.model
    dtype = next(model.parameters()).dtype
    dev = lr_latents.device
    _, _, f, h, w = lr_latents.shape
    p = model.transformer.config.patch_size
    size = (math.ceil(h * scale / p[1]) * p[1], math.ceil(w * scale / p[2]) * p[2])
    cond = model.upsampler(lr_latents.to(dtype), size)

    def noise(shape: torch.Size) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=generator.device).to(dev, dtype)

    # Noise augmentation: the flow-matching interpolation at level a (paper: 0.3–0.6).
    cond = (1 - noise_aug) * cond + noise_aug * noise(cond.shape)
    shift = parts.scheduler_shift

    def velocity(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with StageTimer("denoise"):
            return model(latents, t, parts.prompt_embeds, cond)

    latents = euler_sample(velocity, noise(cond.shape), steps, shift, timestep_dtype=dtype)
    return latents


def upscale_clip(
    parts: SimpleGVRComponents,
    frames: torch.Tensor,
    scale: int,
    steps: int,
    noise_aug: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """(T, 3, H, W) → (T, 3, H·s, W·s): encode, upscale in latent space, decode, crop."""
    t_in, _, h, w = frames.shape
    frames, _ = pad_to(frames, multiple=parts.vae.config.scale_factor_spatial)
    hr = upscale_latents(parts, encode_video(parts, frames), scale, steps, noise_aug, generator)
    out = decode_latents(parts, hr)
    return out[:t_in, :, : h * scale, : w * scale]


def read_latents_file(path: Path) -> tuple[torch.Tensor, dict[str, str]]:
    """Load and check an upstream latent file (see the module docstring for the format)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            if "latents" not in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                raise InputError("has no tensor named 'latents'", path=path)
            latents = fh.get_tensor("latents")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"is not a readable safetensors file ({exc})", path=path) from None
    if latents.dim() == 4:
        latents = latents.unsqueeze(0)
    if latents.dim() != 5 or latents.shape[0] != 1 or latents.shape[1] != 16:
        raise InputError(
            "latents must be (1, 16, F, H/8, W/8) in the Wan2.1 VAE space, "
            f"got {tuple(latents.shape)}",
            path=path,
        )
    return latents.float(), meta
