"""Swin Transformer image encoder (Liu et al. 2021), as RAM uses it (`visual_encoder`).

Parameter names are those of the Microsoft implementation that RAM's checkpoints were saved
from (`patch_embed.proj`, `layers.{i}.blocks.{j}.attn.qkv`, `...downsample.reduction`, `norm`),
so official state dicts load without renaming. The forward pass returns RAM's token sequence:
the mean of all tokens first (RAM's "cls" token), then the tokens themselves.

Our own module rather than transformers' Swin: its parameter names changed between major
versions, and the official names keep checkpoint loading a plain `load_state_dict`.
Inference only (no dropout or stochastic depth: both are identities in eval mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class SwinConfig:
    image_size: int = 384
    patch_size: int = 4
    embed_dim: int = 192
    depths: tuple[int, ...] = (2, 2, 18, 2)
    num_heads: tuple[int, ...] = (6, 12, 24, 48)
    window_size: int = 12
    mlp_ratio: float = 4.0

    @property
    def num_features(self) -> int:
        return self.embed_dim * 2 ** (len(self.depths) - 1)


#: RAM's Swin-L at 384 px (`configs/swin/config_swinL_384.json`): 1536 output features.
SWIN_L_384 = SwinConfig()


def _relative_index(window: int) -> torch.Tensor:
    """(w², w²) index into the (2w−1)² bias table for every pair of positions in a window.

    Computed buffers are made on the CPU explicitly, so a model built under a meta-device
    context (weights assigned from a checkpoint afterwards) still has real ones."""
    pos = torch.arange(window, device="cpu")
    coords = torch.stack(torch.meshgrid(pos, pos, indexing="ij"))
    flat = coords.flatten(1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[..., 0] * (2 * window - 1) + rel[..., 1]


def _partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) → (B·nW, w², C) windows, row-major over the grid of windows."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def _merge(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    c = windows.shape[-1]
    x = windows.view(-1, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def _shift_mask(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    """(nW, w², w²) additive mask: −100 between tokens that the cyclic shift made neighbours."""
    region = torch.zeros(1, h, w, 1, device="cpu")
    cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for hs in cuts:
        for ws in cuts:
            region[:, hs, ws, :] = label
            label += 1
    ids = _partition(region, window).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", _relative_index(window), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        n_win, n, c = x.shape
        qkv = self.qkv(x).view(n_win, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1)  # (heads, n, n)
        attn = (q * self.scale) @ k.transpose(-2, -1) + bias
        if mask is not None:
            n_mask = mask.shape[0]
            attn = attn.view(-1, n_mask, self.heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.heads, n, n)
        out = attn.softmax(-1) @ v
        return self.proj(out.transpose(1, 2).reshape(n_win, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(
        self, dim: int, resolution: int, heads: int, window: int, shift: int, mlp_ratio: float
    ) -> None:
        super().__init__()
        if resolution <= window:  # the whole map is one window: no shifting
            window, shift = resolution, 0
        self.resolution, self.window, self.shift = resolution, window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = _shift_mask(resolution, resolution, window, shift) if shift else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, c = x.shape
        r, w, s = self.resolution, self.window, self.shift
        y = self.norm1(x).view(b, r, r, c)
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        mask = None if self.attn_mask is None else self.attn_mask.to(x.dtype)
        y = _merge(self.attn(_partition(y, w), mask), w, r, r)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + y.reshape(b, length, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2×2 neighbouring tokens → one token of twice the width."""

    def __init__(self, resolution: int, dim: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        r = self.resolution
        x = x.view(b, r, r, c)
        # The official order of the four sub-grids: (0,0), (1,0), (0,1), (1,1).
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class SwinStage(nn.Module):
    def __init__(self, cfg: SwinConfig, index: int) -> None:
        super().__init__()
        dim = cfg.embed_dim * 2**index
        resolution = cfg.image_size // cfg.patch_size // 2**index
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                resolution,
                cfg.num_heads[index],
                cfg.window_size,
                0 if j % 2 == 0 else cfg.window_size // 2,
                cfg.mlp_ratio,
            )
            for j in range(cfg.depths[index])
        )
        last = index == len(cfg.depths) - 1
        self.downsample = None if last else PatchMerging(resolution, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.downsample is None else self.downsample(x)


class PatchEmbed(nn.Module):
    def __init__(self, cfg: SwinConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, cfg.embed_dim, cfg.patch_size, stride=cfg.patch_size)
        self.norm = nn.LayerNorm(cfg.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class SwinTransformer(nn.Module):
    """(B, 3, S, S) normalised images → (B, 1 + (S/32)², num_features): mean token, then all."""

    def __init__(self, cfg: SwinConfig = SWIN_L_384) -> None:
        super().__init__()
        self.config = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.layers = nn.ModuleList(SwinStage(cfg, i) for i in range(len(cfg.depths)))
        self.norm = nn.LayerNorm(cfg.num_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if tuple(images.shape[-2:]) != (size, size):
            raise ValueError(f"the Swin encoder takes {size}×{size} images, got {images.shape}")
        x = self.patch_embed(images)
        for stage in self.layers:
            x = stage(x)
        x = self.norm(x)
        return torch.cat([x.mean(1, keepdim=True), x], dim=1)
