"""A Wan self-attention processor that applies SimpleGVR's attention pattern.

Projections, QK RMS-norms and RoPE are those of diffusers' `WanAttnProcessor` (so weights and
numerics of the base model carry over); only the attention itself follows the pattern. The
model sets `grid` before each forward pass.
"""

from __future__ import annotations

import torch

from vsrup.methods.simplegvr.attention import AttentionPattern, pattern_attention


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # Wan's interleaved-pair rotary embedding, as in diffusers' WanAttnProcessor.
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = cos[..., 0::2], sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(x)


class PatternAttnProcessor:
    def __init__(self, layer: int, pattern: AttentionPattern) -> None:
        self.layer = layer
        self.pattern = pattern
        self.grid: tuple[int, int, int] | None = None

    def __call__(
        self,
        attn,  # noqa: ANN001 (diffusers WanAttention)
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("PatternAttnProcessor is for unmasked self-attention only")
        if self.grid is None:
            raise RuntimeError("the token grid was not set before the forward pass")
        q = attn.norm_q(attn.to_q(hidden_states)).unflatten(2, (attn.heads, -1))
        k = attn.norm_k(attn.to_k(hidden_states)).unflatten(2, (attn.heads, -1))
        v = attn.to_v(hidden_states).unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            q, k = _rotate(q, *rotary_emb), _rotate(k, *rotary_emb)
        out = pattern_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            self.grid,
            self.pattern,
            self.layer,
        )
        out = out.transpose(1, 2).flatten(2, 3).type_as(q)
        return attn.to_out[1](attn.to_out[0](out))
