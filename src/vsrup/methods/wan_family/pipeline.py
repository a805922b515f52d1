"""The staged run every Wan-family method follows: prepare → encode → denoise → decode.

`__call__` is the one entry point and reads as the four stages. The base provides the
whole-clip VAE stages (normalised latents of the 4k+1-padded clip, untiled) and the noise
draw; a member implements `prepare` and `denoise` and overrides a VAE stage where it differs
(STCDiT encodes and decodes motion segments on the official tiles).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic

import torch

from vsrup.methods.wan_family.components import PartsT
from vsrup.nn.wan.vae import decode_normalised, encode_normalised


@dataclass(frozen=True)
class Crop:
    """The output frames that are real: the first `frames`, `height` × `width` pixels."""

    frames: int
    height: int
    width: int

    def apply(self, out: torch.Tensor) -> torch.Tensor:
        return out[: self.frames, :, : self.height, : self.width]


class WanPipeline(ABC, Generic[PartsT]):
    """One window of low-resolution frames through a Wan-family model."""

    def __init__(self, parts: PartsT, steps: int, scale: int) -> None:
        self.parts = parts
        self.steps = steps
        self.scale = scale

    @torch.no_grad()
    def __call__(
        self,
        frames: torch.Tensor,
        generator: torch.Generator,
        segment_starts: Sequence[int] = (0,),
    ) -> torch.Tensor:
        """(T, 3, H, W) in [0, 1] → (T, 3, H·s, W·s) in [0, 1]. `segment_starts`: where the
        clip's motion segments begin (members that encode per segment use them)."""
        # 1. prepare: the pixels the VAE sees, and how to cut the output back to the input.
        pixels, geometry = self.prepare(frames)
        # 2. encode: the low-quality latent the denoiser is conditioned on.
        encoded = self.encode(pixels, segment_starts)
        # 3. denoise: from noise drawn by `generator` to the clean latent.
        latents = self.denoise(encoded, generator)
        # 4. decode: back to pixels, cropped to the input's frames and scaled size.
        return self.decode(latents, encoded, geometry)

    @abstractmethod
    def prepare(self, frames: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """(model-input pixels, geometry that `decode` uses to undo padding and resizing)."""

    def encode(self, pixels: torch.Tensor, segment_starts: Sequence[int]) -> Any:
        """Normalised latent of the whole clip, in the denoiser's dtype."""
        del segment_starts  # one VAE pass over the clip
        return encode_normalised(self.parts.vae, pixels).to(self.parts.dtype)

    @abstractmethod
    def denoise(self, encoded: Any, generator: torch.Generator) -> torch.Tensor:
        """The clean normalised latent."""

    def decode(self, latents: torch.Tensor, encoded: Any, geometry: Any) -> torch.Tensor:
        """One VAE pass, then the real frames and pixels only (`geometry` is a `Crop`)."""
        del encoded
        return geometry.apply(decode_normalised(self.parts.vae, latents))

    def noise(self, shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
        """Standard normal noise drawn in fp32 on the generator's device (so a seed gives the
        same values whatever the compute dtype), moved to the model's device and dtype."""
        drawn = torch.randn(
            tuple(shape), generator=generator, device=generator.device, dtype=torch.float32
        )
        return drawn.to(device=self.parts.device, dtype=self.parts.dtype)
