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
from diffusers import WanTransformer3DModel

from vsrup.engine.tiles import pad_to
from vsrup.errors import InputError
from vsrup.methods.ourlayout import load_checked
from vsrup.methods.simplegvr import config as cfg
from vsrup.methods.simplegvr.attention import AttentionPattern
from vsrup.methods.simplegvr.model import LatentUpsampler, SimpleGVRModel
from vsrup.methods.wan_family import (
    Crop,
    WanComponents,
    WanPipeline,
    place_parts,
    pretrained_vae,
    synthetic_vae,
    with_model,
)
from vsrup.nn.wan.flow import euler_sample
from vsrup.nn.wan.text import encode_prompt
from vsrup.nn.wan.vae import decode_normalised
from vsrup.util.seeding import seeded
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
class SimpleGVRComponents(WanComponents):
    model: SimpleGVRModel
    scheduler_shift: float


# -- building ---------------------------------------------------------------------------------


def synthetic_components(
    size: str, device: torch.device, dtype: torch.dtype, seed: int, pattern: AttentionPattern
) -> SimpleGVRComponents:
    tcfg, vcfg, ucfg = cfg.presets(size)
    with seeded(seed):
        model = SimpleGVRModel(WanTransformer3DModel(**tcfg), LatentUpsampler(**ucfg), pattern)
        vae = synthetic_vae(vcfg)
        text = torch.randn(1, cfg.TEXT_LEN[size], tcfg["text_dim"])
    return _assemble(model, vae, text, device, dtype)


def _assemble(
    model: SimpleGVRModel,
    vae: torch.nn.Module,
    text: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> SimpleGVRComponents:
    model, vae, text = place_parts(model, vae, text, device, dtype)
    return SimpleGVRComponents(
        model=model, vae=vae, prompt_embeds=text, scheduler_shift=cfg.FLOW_SHIFT
    )


def load_model(directory: Path, pattern: AttentionPattern) -> SimpleGVRModel:
    """Our layout (see convert.py), strictly checked, with `pattern` attention."""
    from vsrup.methods.simplegvr.convert import build

    model = load_checked(Path(directory), build)
    model.set_pattern(pattern)
    return model


def initial_model(base_dir: Path, pattern: AttentionPattern) -> SimpleGVRModel:
    """Where `vsrup train simplegvr` starts: the Wan2.1-T2V-1.3B DiT of `base_dir` widened to
    [noisy ; condition] inputs (the condition's weights zero) and a fresh latent upsampler."""
    from vsrup.methods.simplegvr.model import widen_from_t2v

    t2v = WanTransformer3DModel.from_pretrained(base_dir, subfolder="transformer")
    wide = widen_from_t2v(t2v, cfg.FULL_UPSAMPLER["channels"])
    return SimpleGVRModel(wide, LatentUpsampler(**cfg.FULL_UPSAMPLER), pattern)


def pretrained_components(
    base_dir: Path,
    weights_dir: Path | None,
    device: torch.device,
    dtype: torch.dtype,
    pattern: AttentionPattern,
    prompt: str,
) -> SimpleGVRComponents:
    """The base's VAE and text encoder (`base_dir`, diffusers layout) with the model of
    `weights_dir` (our layout), or with the `initial_model` (None)."""
    if weights_dir is None:
        model = initial_model(base_dir, pattern)
    else:
        model = load_model(weights_dir, pattern)
    vae = pretrained_vae(base_dir)
    text = encode_prompt(base_dir, prompt, device)
    return _assemble(model, vae, text, device, dtype)


def with_trained(
    parts: SimpleGVRComponents, directory: Path, pattern: AttentionPattern
) -> SimpleGVRComponents:
    """The same VAE and prompt with the model loaded from `directory` (our layout)."""
    return with_model(parts, load_model(directory, pattern))


# -- running ----------------------------------------------------------------------------------


class SimpleGVRPipeline(WanPipeline[SimpleGVRComponents]):
    """Pad → whole-clip encode → upsample + noise-augment the condition, Euler flow sampling
    on [noisy HR ; condition] → whole-clip decode, cropped to the scaled input."""

    def __init__(
        self, parts: SimpleGVRComponents, steps: int, scale: float, noise_aug: float
    ) -> None:
        if not 0.0 <= noise_aug < 1.0:
            raise ValueError(f"noise augmentation must be in [0, 1), got {noise_aug}")
        super().__init__(parts, steps, scale)
        self.noise_aug = noise_aug

    def prepare(self, frames: torch.Tensor) -> tuple[torch.Tensor, Crop]:
        t_in, _, h, w = frames.shape
        padded, _ = pad_to(frames, multiple=self.parts.vae.config.scale_factor_spatial)
        return padded, Crop(t_in, h * self.scale, w * self.scale)

    def denoise(self, encoded: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """LR latent (1, 16, F, h, w) → HR latent (1, 16, F, h·s, w·s)."""
        model, dtype = self.parts.model, self.parts.dtype
        _, _, _, h, w = encoded.shape
        p = model.transformer.config.patch_size
        scale = self.scale
        size = (math.ceil(h * scale / p[1]) * p[1], math.ceil(w * scale / p[2]) * p[2])
        cond = model.upsampler(encoded.to(dtype), size)
        # Noise augmentation: the flow-matching interpolation at level a (paper: 0.3–0.6).
        a = self.noise_aug
        cond = (1 - a) * cond + a * self.noise(cond.shape, generator)
        prompt = self.parts.prompt_embeds

        def velocity(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            with StageTimer("denoise"):
                return model(latents, t, prompt, cond)

        noise = self.noise(cond.shape, generator)
        shift = self.parts.scheduler_shift
        return euler_sample(velocity, noise, self.steps, shift, timestep_dtype=dtype)


@torch.no_grad()
def upscale_latents(
    parts: SimpleGVRComponents,
    lr_latents: torch.Tensor,
    scale: float,
    steps: int,
    noise_aug: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """LR latent (1, 16, F, h, w) → HR latent (1, 16, F, h·s, w·s) by conditional sampling
    (the denoise stage alone: upstream latents need no encode)."""
    return SimpleGVRPipeline(parts, steps, scale, noise_aug).denoise(lr_latents, generator)


def decode_latents(parts: SimpleGVRComponents, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latent → (T, 3, H, W) frames in [0, 1]."""
    return decode_normalised(parts.vae, latents)


def upscale_clip(
    parts: SimpleGVRComponents,
    frames: torch.Tensor,
    scale: int,
    steps: int,
    noise_aug: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """(T, 3, H, W) → (T, 3, H·s, W·s): encode, upscale in latent space, decode, crop."""
    return SimpleGVRPipeline(parts, steps, scale, noise_aug)(frames, generator)


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
