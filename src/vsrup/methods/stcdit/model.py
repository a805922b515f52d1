"""The STCDiT denoiser: a diffusers WanTransformer3DModel with LoRA plus the STCDiT modules.

Added to the Wan DiT (names as in the official checkpoint, so its extras load unrenamed):
- `lq_patch_embedding` + zero-initialised `lq_zero_proj` (tiny only): LQ-latent tokens added to
  the noisy-latent tokens. The large model concatenates the LQ latent on channels instead.
- Anchor tokens from the LQ latent at each kept segment's first latent frame:
  `lq_key_frame_patch_embedding` (2×2 patches) refined by `lq_key_frame_process` with the
  max-pooled `lq_key_frame_patch_embedding_finescale` (1×1 conv + 3×3 depthwise) features.
- Per block, the anchor-conditioned feed-forward: after ffn.0, anchor features get a depthwise
  `lq_conv` residual and gate themselves through GELU(`lq_inject_conv`); the result is added
  to the video features of the anchor's own frame; video features then get a depthwise
  `dw_conv` residual before GELU and ffn.2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.methods.stcdit.attention import (
    SplitContextCrossAttnProcessor,
    anchor_rotary_emb,
    video_cross_attention,
)

#: peft target regex on diffusers names: q, k, v, o of both attentions, both FFN linears.
LORA_TARGETS = (
    r"blocks\.\d+\.(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)|blocks\.\d+\.ffn\.net\.(0\.proj|2)"
)
LATENT_CHANNELS = 16


def timestep_sinusoid(dim: int, timestep: torch.Tensor) -> torch.Tensor:
    """[cos, sin] timestep embedding computed in float64 as the official code does (diffusers
    computes it in float32, ≈1e-5 away), returned in the timestep's dtype."""
    half = dim // 2
    exponent = torch.arange(half, dtype=torch.float64, device=timestep.device).div(half)
    angles = torch.outer(timestep.to(torch.float64), torch.pow(10000.0, -exponent))
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1).to(timestep.dtype)


def _depthwise3d(channels: int) -> nn.Conv3d:
    return nn.Conv3d(channels, channels, (1, 3, 3), padding=(0, 1, 1), groups=channels)


class AnchorRefiner(nn.Module):
    """Fuses coarse (2×2-patch) anchor features with max-pooled fine (per-pixel) ones through
    two ReLU-normalised weights, then adds SiLU → 1×1 conv → 3×3 depthwise conv as a residual
    (the official `Key_frame_process_module`; parameter names kept)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.proj_in_FTC = nn.Conv2d(dim, dim, 1)
        self.proj_dw_FTC = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.weights_FTC = nn.Parameter(torch.ones(2))
        self.eps = eps

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_max_pool2d(fine, coarse.shape[-2:])
        w = F.relu(self.weights_FTC)
        w = w / (w.sum() + self.eps)
        fused = F.silu(w[0] * pooled + w[1] * coarse)
        return coarse + self.proj_dw_FTC(self.proj_in_FTC(fused))


def inject_lora(transformer: nn.Module, rank: int, alpha: float) -> None:
    """Add a LoRA adapter named "default" to the official target modules (in place)."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=LORA_TARGETS)
    inject_adapter_in_model(config, transformer)


class STCDiT(nn.Module):
    """Wan DiT + LoRA + STCDiT modules. `forward` returns the flow-matching velocity."""

    def __init__(
        self,
        transformer: nn.Module,
        lora_rank: int = 128,
        lora_alpha: float = 128.0,
        lq_concat: bool = False,
        image_context_tokens: int = 0,
    ) -> None:
        super().__init__()
        cfg = transformer.config
        dim = cfg.num_attention_heads * cfg.attention_head_dim
        patch = tuple(cfg.patch_size)
        self.lq_concat = lq_concat
        inject_lora(transformer, lora_rank, lora_alpha)
        for block in transformer.blocks:
            block.dw_conv = _depthwise3d(cfg.ffn_dim)
            block.lq_conv = _depthwise3d(cfg.ffn_dim)
            block.lq_inject_conv = _depthwise3d(cfg.ffn_dim)
            if image_context_tokens:
                block.attn2.set_processor(SplitContextCrossAttnProcessor(image_context_tokens))
        self.transformer = transformer
        if not lq_concat:
            self.lq_patch_embedding = nn.Conv3d(LATENT_CHANNELS, dim, patch, stride=patch)
            self.lq_zero_proj = nn.Linear(dim, dim)
        self.lq_key_frame_patch_embedding = nn.Conv3d(
            LATENT_CHANNELS, dim, (1, 2, 2), stride=(1, 2, 2)
        )
        self.lq_key_frame_patch_embedding_finescale = nn.Sequential(
            nn.Conv3d(LATENT_CHANNELS, dim, 1), _depthwise3d(dim)
        )
        self.lq_key_frame_process = AnchorRefiner(dim)

    # -- pieces -------------------------------------------------------------------------------

    def anchor_tokens(self, lq: torch.Tensor, anchor_frames: Sequence[int]) -> torch.Tensor:
        """(B, K·h·w, D) tokens of the LQ latent frames `anchor_frames` (K of them)."""
        picked = lq[:, :, list(anchor_frames)]
        fine = self.lq_key_frame_patch_embedding_finescale(picked)
        coarse = self.lq_key_frame_patch_embedding(picked)
        b, d, k, h, w = coarse.shape
        fine = fine.transpose(1, 2).flatten(0, 1)
        coarse = coarse.transpose(1, 2).flatten(0, 1)
        refined = self.lq_key_frame_process(coarse, fine)  # (B·K, D, h, w)
        return refined.unflatten(0, (b, k)).permute(0, 1, 3, 4, 2).reshape(b, k * h * w, d)

    def embed_video(self, latents: torch.Tensor, lq: torch.Tensor) -> torch.Tensor:
        """(B, f·h·w, D) video tokens: noisy latent plus LQ cue."""
        tr = self.transformer
        if self.lq_concat:
            mask = torch.ones_like(lq[:, :4])
            x = tr.patch_embedding(torch.cat([latents, mask, lq], dim=1))
            return x.flatten(2).transpose(1, 2)
        x = tr.patch_embedding(latents).flatten(2).transpose(1, 2)
        cue = self.lq_patch_embedding(lq).flatten(2).transpose(1, 2)
        return x + self.lq_zero_proj(cue)

    def time_embedding(self, timestep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(temb (B, D), per-block modulation (B, 6, D))."""
        cond = self.transformer.condition_embedder
        weight = cond.time_embedder.linear_1.weight
        s = timestep_sinusoid(self.transformer.config.freq_dim, timestep).to(weight.dtype)
        temb = cond.time_embedder(s)
        return temb, cond.time_proj(cond.act_fn(temb)).unflatten(1, (6, -1))

    def block_forward(
        self,
        block: nn.Module,
        seq: torch.Tensor,
        context: torch.Tensor,
        modulation: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        grid: tuple[int, int, int],
        anchor_frames: Sequence[int],
    ) -> torch.Tensor:
        f, h, w = grid
        k, n = len(anchor_frames), f * h * w
        shift, scale, gate, c_shift, c_scale, c_gate = (
            block.scale_shift_table + modulation.float()
        ).chunk(6, dim=1)
        normed = (block.norm1(seq.float()) * (1 + scale) + shift).type_as(seq)
        seq = (seq.float() + block.attn1(normed, None, None, rotary) * gate).type_as(seq)

        video, anchors = seq[:, :n], seq[:, n:]
        video = video_cross_attention(block, video, context)

        def modulate(t: torch.Tensor) -> torch.Tensor:
            return (block.norm3(t.float()) * (1 + c_scale) + c_shift).type_as(t)

        ffn_in, ffn_out = block.ffn.net[0].proj, block.ffn.net[2]
        hv, ha = ffn_in(modulate(video)), ffn_in(modulate(anchors))
        b, c = hv.shape[0], hv.shape[-1]
        ha5 = ha.transpose(1, 2).reshape(b, c, k, h, w)
        ha5 = ha5 + block.lq_conv(ha5)
        inject = ha5 * F.gelu(block.lq_inject_conv(ha5))  # exact GELU, as the official lq_act
        inject = inject.permute(0, 2, 3, 4, 1).reshape(b, k, h * w, c)
        index = torch.tensor(list(anchor_frames), device=hv.device)
        hv = hv.view(b, f, h * w, c).index_add(1, index, inject).view(b, n, c)
        hv5 = hv.transpose(1, 2).reshape(b, c, f, h, w)
        hv = hv + block.dw_conv(hv5).flatten(2).transpose(1, 2)
        ha = ha5.flatten(2).transpose(1, 2)
        hv = ffn_out(F.gelu(hv, approximate="tanh"))
        ha = ffn_out(F.gelu(ha, approximate="tanh"))
        video = (video.float() + hv.float() * c_gate).type_as(video)
        anchors = (anchors.float() + ha.float() * c_gate).type_as(anchors)
        return torch.cat([video, anchors], dim=1)

    # -- whole model --------------------------------------------------------------------------

    def forward(
        self,
        latents: torch.Tensor,
        lq: torch.Tensor,
        anchor_frames: Sequence[int],
        timestep: torch.Tensor,
        text: torch.Tensor,
    ) -> torch.Tensor:
        """Velocity for noisy `latents` (B, 16, F, H, W) given the LQ latent `lq` (same shape),
        the latent frame indices that carry anchors, `timestep` (B,) and text (B, L, text_dim)."""
        if not anchor_frames:
            raise ValueError("STCDiT needs at least one anchor frame")
        tr = self.transformer
        bsz, _, frames, height, width = latents.shape
        pt, ph, pw = tr.config.patch_size
        grid = (frames // pt, height // ph, width // pw)
        temb, modulation = self.time_embedding(timestep)
        context = tr.condition_embedder.text_embedder(text)
        video = self.embed_video(latents, lq)
        seq = torch.cat([video, self.anchor_tokens(lq, anchor_frames)], dim=1)
        rotary = anchor_rotary_emb(tr.rope, grid[0], len(anchor_frames), grid[1], grid[2])
        for block in tr.blocks:
            seq = self.block_forward(block, seq, context, modulation, rotary, grid, anchor_frames)
        x = seq[:, : grid[0] * grid[1] * grid[2]]
        shift, scale = (tr.scale_shift_table + temb.unsqueeze(1)).chunk(2, dim=1)
        x = tr.proj_out((tr.norm_out(x.float()) * (1 + scale) + shift).type_as(x))
        x = x.reshape(bsz, *grid, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def build(config, device: torch.device | str | None = None) -> STCDiT:  # noqa: ANN001
    """An STCDiT from an `STCDiTConfig`, randomly initialised (on `device`; "meta" for shapes)."""
    from diffusers import WanTransformer3DModel

    with torch.device(device or "cpu"):
        transformer = WanTransformer3DModel(**config.transformer)
        return STCDiT(
            transformer,
            config.lora_rank,
            config.lora_alpha,
            config.lq_concat,
            config.image_context_tokens,
        )
