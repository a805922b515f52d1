"""LiteVSR's State-Aware Adapter (paper §3.3), written from the paper's description.

No official code exists; where the paper's text leaves a detail open, the choice is ours and
is marked "choice:" below (docs/methods/litevsr.md lists them).

- Two streams project latents into the DiT's token space: a structural stream from the LQ
  latent and a refinement stream from the current clean estimate x̂0. Each is a patch
  embedding initialised from the frozen base model's own, plus a residual MLP.
- A learnable query prototype window (in latent units, (1, 16, 16) by default) is tiled over
  the latent grid, so any spatial/temporal size works; it is time-modulated with AdaLN.
- The query cross-attends over the concatenated tokens of both streams; the result is the
  condition branch's input tokens.
- One zero-initialised linear layer per DiT block projects the condition branch into the main
  branch, so an untrained adapter leaves the frozen generator's output unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


class StreamProjection(nn.Module):
    """Patch embedding (initialised from the base) followed by a residual MLP."""

    def __init__(self, in_channels: int, dim: int, patch_size: tuple[int, int, int], ratio: float):
        super().__init__()
        self.patch_embedding = nn.Conv3d(
            in_channels, dim, kernel_size=patch_size, stride=patch_size
        )
        hidden = int(dim * ratio)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim)
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embedding(latent).flatten(2).transpose(1, 2)
        return tokens + self.mlp(self.norm(tokens))


class StateAwareAdapter(ModelMixin, ConfigMixin):
    """Turns (LQ latent, clean estimate, timestep) into condition tokens plus block injections."""

    @register_to_config
    def __init__(
        self,
        in_channels: int = 48,
        dim: int = 3072,
        num_heads: int = 24,
        patch_size: tuple[int, int, int] = (1, 2, 2),
        window: tuple[int, int, int] = (1, 16, 16),
        num_injections: int = 30,
        freq_dim: int = 256,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        pt, ph, pw = patch_size
        wt, wh, ww = window
        if wt % pt or wh % ph or ww % pw:
            raise ValueError(f"query window {window} must be a multiple of the patch {patch_size}")
        #: The window in token units (latent window / patch size).
        self.window_tokens = (wt // pt, wh // ph, ww // pw)
        self.structural = StreamProjection(in_channels, dim, patch_size, mlp_ratio)
        self.refinement = StreamProjection(in_channels, dim, patch_size, mlp_ratio)
        n_query = self.window_tokens[0] * self.window_tokens[1] * self.window_tokens[2]
        self.query_prototype = nn.Parameter(torch.randn(1, n_query, dim) * 0.02)
        # Time modulation of the query (AdaLN): shift and scale from the timestep embedding.
        self.time_proj = Timesteps(freq_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(freq_dim, dim)
        self.time_modulation = nn.Linear(dim, 2 * dim)
        self.query_norm = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=False)
        # Cross-attention of the query over [structural; refinement] tokens.
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.Linear(dim, dim)
        self.kv_norm = nn.LayerNorm(dim, eps=1e-6)
        # Zero-initialised injections, one per DiT block (the paper's "linear fusion layer").
        self.injections = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_injections))
        self.zero_injections()

    def zero_injections(self) -> None:
        for layer in self.injections:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def init_from_patch_embedding(self, patch_embedding: nn.Conv3d) -> None:
        """Both stream projections start as copies of the base DiT's patch embedding."""
        for stream in (self.structural, self.refinement):
            stream.patch_embedding.load_state_dict(patch_embedding.state_dict())

    def tiled_query(self, grid: tuple[int, int, int]) -> torch.Tensor:
        """Tile the prototype window over a (frames, height, width) token grid of any size,
        cropping the last partial window: (1, f*h*w, dim) in the DiT's token order."""
        f, h, w = grid
        wt, wh, ww = self.window_tokens
        proto = self.query_prototype.reshape(1, wt, wh, ww, -1)
        reps = (1, -(-f // wt), -(-h // wh), -(-w // ww), 1)
        tiled = proto.repeat(*reps)[:, :f, :h, :w]
        return tiled.reshape(1, f * h * w, -1)

    def forward(
        self, lq_latent: torch.Tensor, clean_estimate: torch.Tensor, timestep: torch.Tensor
    ) -> torch.Tensor:
        """Condition tokens (B, L, dim) for latents (B, C, F, H, W) and timesteps (B,)."""
        b = lq_latent.shape[0]
        pt, ph, pw = self.config.patch_size
        grid = (lq_latent.shape[2] // pt, lq_latent.shape[3] // ph, lq_latent.shape[4] // pw)
        structural = self.structural(lq_latent)
        refinement = self.refinement(clean_estimate)

        temb = self.time_embedding(self.time_proj(timestep.flatten()).to(structural.dtype))
        shift, scale = self.time_modulation(F.silu(temb)).unsqueeze(1).chunk(2, dim=-1)
        query = self.tiled_query(grid).to(structural.dtype).expand(b, -1, -1)
        query = self.query_norm(query) * (1 + scale) + shift

        kv = self.kv_norm(torch.cat([structural, refinement], dim=1))
        heads = self.num_heads

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.unflatten(-1, (heads, -1)).transpose(1, 2)

        attn = F.scaled_dot_product_attention(
            split(self.to_q(query)), split(self.to_k(kv)), split(self.to_v(kv))
        )
        # choice: residual around the attention, so the tiled query carries position identity.
        return query + self.to_out(attn.transpose(1, 2).flatten(2))
