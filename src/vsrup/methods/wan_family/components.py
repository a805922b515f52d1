"""What every Wan-family pipeline holds, and the few ways the family builds and places it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn


@dataclass
class WanComponents:
    """The denoiser (compute dtype), the Wan VAE (always fp32) and the prompt embedding
    (compute dtype), all on one device. Members add their own fields."""

    model: nn.Module
    vae: nn.Module
    prompt_embeds: torch.Tensor

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


PartsT = TypeVar("PartsT", bound=WanComponents)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Random initialisation that depends on `seed` only and leaves the caller's global CPU
    generator as it was (synthetic weights are the same whatever ran before)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def synthetic_vae(config: dict) -> nn.Module:
    """A randomly initialised Wan VAE (draws from the global generator: call under `seeded`)."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(**config)


def pretrained_vae(base_dir: Path) -> nn.Module:
    """The base model's Wan VAE (`base_dir`/vae, diffusers layout), in fp32."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan.from_pretrained(Path(base_dir) / "vae", torch_dtype=torch.float32)


def place(
    model: nn.Module,
    vae: nn.Module,
    prompt_embeds: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """Move the parts to `device` in eval mode: the denoiser and the embedding in the compute
    dtype, the VAE in fp32 (numerically sensitive, and small next to the DiT)."""
    model = model.to(device=device, dtype=dtype).eval()
    vae = vae.to(device=device, dtype=torch.float32).eval()
    return model, vae, prompt_embeds.to(device=device, dtype=dtype)


def with_model(parts: PartsT, model: nn.Module) -> PartsT:
    """The same components with `model` as the denoiser, placed where the old one was (a
    trained model loaded onto a synthetic base: `--synthetic-weights` with `--weights`)."""
    model = model.to(device=parts.device, dtype=parts.dtype).eval()
    return dataclasses.replace(parts, model=model)
