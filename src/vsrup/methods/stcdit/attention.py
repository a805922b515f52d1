"""Anchor-aware attention for STCDiT.

Anchor tokens (one frame of LQ-latent tokens per kept motion segment) are appended after the
video tokens and join self-attention. Their 3-D RoPE positions continue the time axis: anchor
j sits at temporal index f + j (f = video latent frames) with the same h/w grid positions as
a video frame, so the DiT treats them as extra frames after the clip. Cross-attention with the
text runs on the video tokens only; anchors pass through it unchanged.

The large (I2V-14B based) model keeps Wan's image branch in its cross-attention and, as the
official code does, routes the first 257 context tokens (text embeddings, there is no CLIP
image) through the image projections: `SplitContextCrossAttnProcessor` reproduces that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def anchor_rotary_emb(
    rope: torch.nn.Module, frames: int, anchors: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE (cos, sin), each (1, (frames + anchors)·height·width, 1, head_dim), for video tokens
    followed by anchor tokens: anchor j gets temporal index frames + j, the video's h/w grid.

    diffusers' WanRotaryPosEmbed only reads the shape of its input, so a meta tensor of the
    extended grid (in pixels of the latent, i.e. before patching) gives exactly that layout.
    """
    pt, ph, pw = rope.patch_size
    shape = (1, 1, (frames + anchors) * pt, height * ph, width * pw)
    return rope(torch.empty(shape, device="meta"))


def video_cross_attention(
    block: torch.nn.Module, video: torch.Tensor, context: torch.Tensor
) -> torch.Tensor:
    """`video + attn2(norm2(video), context)` on the video tokens alone (anchors excluded)."""
    normed = block.norm2(video.float()).type_as(video)
    return video + block.attn2(normed, context, None, None)


class SplitContextCrossAttnProcessor:
    """Cross-attention whose first `image_tokens` context tokens go through the image branch
    (add_k_proj / add_v_proj / norm_added_k) and the rest through to_k / to_v; the two
    attention outputs are summed before to_out (the official I2V CrossAttention)."""

    def __init__(self, image_tokens: int = 257) -> None:
        self.image_tokens = image_tokens

    def __call__(
        self,
        attn: torch.nn.Module,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        assert encoder_hidden_states is not None
        img = encoder_hidden_states[:, : self.image_tokens]
        ctx = encoder_hidden_states[:, self.image_tokens :]
        heads = attn.heads

        def split(t: torch.Tensor) -> torch.Tensor:  # (B, S, H·D) → (B, H, S, D)
            return t.unflatten(2, (heads, -1)).transpose(1, 2)

        q = split(attn.norm_q(attn.to_q(hidden_states)))
        out = F.scaled_dot_product_attention(
            q, split(attn.norm_k(attn.to_k(ctx))), split(attn.to_v(ctx))
        )
        out = out + F.scaled_dot_product_attention(
            q, split(attn.norm_added_k(attn.add_k_proj(img))), split(attn.add_v_proj(img))
        )
        out = out.transpose(1, 2).flatten(2).type_as(hidden_states)
        return attn.to_out[1](attn.to_out[0](out))
