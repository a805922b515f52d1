"""The frozen Wan DiT driven by the State-Aware Adapter (paper §3.2, eq. 4).

Two branches go through the same frozen DiT blocks in one batched pass: the main branch holds
the noisy latent's tokens, the condition branch holds the adapter's tokens. After every block,
that block's zero-initialised injection adds the condition branch into the main branch. The
outer steps (RoPE, patch embedding, time/text embedding, output norm, unpatchify) follow
diffusers' `WanTransformer3DModel.forward` for scalar timesteps; with zero injections the
result equals the base model's output, which a test checks.
"""

from __future__ import annotations

import torch
from torch import nn

from vsrup.methods.litevsr.adapter import StateAwareAdapter


class LiteVSRModel(nn.Module):
    """Velocity v(x_t, t, text, LQ latent, x̂0) with the base DiT frozen."""

    def __init__(self, transformer: nn.Module, adapter: StateAwareAdapter) -> None:
        super().__init__()
        if len(adapter.injections) != len(transformer.blocks):
            raise ValueError(
                f"adapter has {len(adapter.injections)} injections for "
                f"{len(transformer.blocks)} DiT blocks"
            )
        self.transformer = transformer
        self.adapter = adapter
        self.transformer.requires_grad_(False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """What training updates: the adapter and its injections, never the base."""
        return [p for p in self.adapter.parameters() if p.requires_grad]

    def forward(
        self,
        latents: torch.Tensor,
        timestep: torch.Tensor,
        prompt_embeds: torch.Tensor,
        lq_latent: torch.Tensor,
        clean_estimate: torch.Tensor,
    ) -> torch.Tensor:
        t = self.transformer
        b, _, frames, height, width = latents.shape
        p_t, p_h, p_w = t.config.patch_size
        grid = (frames // p_t, height // p_h, width // p_w)
        timestep = timestep.expand(b) if timestep.ndim == 1 and timestep.numel() == 1 else timestep

        rotary_emb = t.rope(latents)
        hidden = t.patch_embedding(latents).flatten(2).transpose(1, 2).contiguous()
        temb, timestep_proj, text, _ = t.condition_embedder(timestep, prompt_embeds, None)
        timestep_proj = timestep_proj.unflatten(1, (6, -1))

        cond = self.adapter(lq_latent, clean_estimate, timestep).to(hidden.dtype)
        both = torch.cat([hidden, cond], dim=0)
        text2 = torch.cat([text, text], dim=0)
        proj2 = torch.cat([timestep_proj, timestep_proj], dim=0)
        checkpoint = torch.is_grad_enabled() and getattr(t, "gradient_checkpointing", False)
        for block, inject in zip(t.blocks, self.adapter.injections):
            if checkpoint:  # training with `enable_gradient_checkpointing()`: recompute blocks
                both = t._gradient_checkpointing_func(block, both, text2, proj2, rotary_emb)
            else:
                both = block(both, text2, proj2, rotary_emb)
            main, cond = both.chunk(2, dim=0)
            both = torch.cat([main + inject(cond), cond], dim=0)
        hidden = both[:b]

        shift, scale = (t.scale_shift_table.to(temb.device) + temb.unsqueeze(1)).chunk(2, dim=1)
        hidden = (t.norm_out(hidden.float()) * (1 + scale) + shift).type_as(hidden)
        hidden = t.proj_out(hidden)
        hidden = hidden.reshape(b, *grid, p_t, p_h, p_w, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return hidden.flatten(6, 7).flatten(4, 5).flatten(2, 3)
