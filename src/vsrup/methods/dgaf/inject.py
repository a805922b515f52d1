"""The denoising UNet's forward with DGAFNet's additions, on diffusers' UNet2DConditionModel.

The official code forks diffusers to thread `down_block_add_samples`, `mid_block_add_sample`
and `up_block_add_samples` through the UNet blocks. We keep diffusers unmodified and walk the
UNet's own sub-modules here instead, adding each sample where the fork does:

- the conv_in output is stored as the first skip *before* the first down addition is added;
- in every down block, after each resnet(+attention) and after the downsampler, *before* the
  result is appended to the skips (so the skips carry the additions);
- after the mid block;
- in every up block, after each resnet(+attention) and after the upsampler.

With all additions zero this is exactly `unet(sample, t, encoder_hidden_states)`.
Supported: SD-style UNets without class/addition embeddings (the ×4 upscaler as StableVSR
and DGAF-VSR use it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def _expected_counts(unet: Any) -> tuple[int, int]:
    down = 1 + sum(len(b.resnets) + (b.downsamplers is not None) for b in unet.down_blocks)
    up = sum(len(b.resnets) + (b.upsamplers is not None) for b in unet.up_blocks)
    return down, up


def _attentions(block: Any) -> Any:
    return block.attentions if getattr(block, "has_cross_attention", False) else None


def _attend(attn: Any, h: torch.Tensor, ehs: torch.Tensor) -> torch.Tensor:
    return attn(h, encoder_hidden_states=ehs, return_dict=False)[0]


def unet_forward_with_additions(
    unet: Any,
    sample: torch.Tensor,
    timestep: torch.Tensor | int,
    encoder_hidden_states: torch.Tensor,
    down_adds: Sequence[torch.Tensor],
    mid_add: torch.Tensor,
    up_adds: Sequence[torch.Tensor],
) -> torch.Tensor:
    """Predict the model output of `unet` with DGAFNet's (down, mid, up) additions."""
    cfg = unet.config
    if unet.class_embedding is not None or cfg.addition_embed_type is not None:
        raise ValueError("DGAF injection supports UNets without class/addition embeddings")
    n_down, n_up = _expected_counts(unet)
    if len(down_adds) != n_down or len(up_adds) != n_up:
        raise ValueError(
            f"DGAFNet gave {len(down_adds)} down / {len(up_adds)} up additions; "
            f"the UNet needs {n_down} / {n_up}"
        )
    downs, ups = list(down_adds), list(up_adds)
    ehs = encoder_hidden_states
    factor = 2**unet.num_upsamplers
    forward_size = any(s % factor != 0 for s in sample.shape[-2:])

    emb = unet.time_embedding(unet.get_time_embed(sample=sample, timestep=timestep))
    if unet.time_embed_act is not None:
        emb = unet.time_embed_act(emb)

    h = unet.conv_in(sample)
    skips: tuple[torch.Tensor, ...] = (h,)
    h = h + downs.pop(0)
    for block in unet.down_blocks:
        attns = _attentions(block)
        for j, resnet in enumerate(block.resnets):
            h = resnet(h, emb)
            if attns is not None:
                h = _attend(attns[j], h, ehs)
            h = h + downs.pop(0)
            skips += (h,)
        if block.downsamplers is not None:
            for down in block.downsamplers:
                h = down(h)
            h = h + downs.pop(0)
            skips += (h,)

    if unet.mid_block is not None:
        if getattr(unet.mid_block, "has_cross_attention", False):
            h = unet.mid_block(h, emb, encoder_hidden_states=ehs)
        else:
            h = unet.mid_block(h, emb)
    h = h + mid_add

    size = None
    for i, block in enumerate(unet.up_blocks):
        n = len(block.resnets)
        res, skips = skips[-n:], skips[:-n]
        if i < len(unet.up_blocks) - 1 and forward_size:
            size = skips[-1].shape[2:]
        attns = _attentions(block)
        for j, resnet in enumerate(block.resnets):
            h = resnet(torch.cat([h, res[-1]], dim=1), emb)
            res = res[:-1]
            if attns is not None:
                h = _attend(attns[j], h, ehs)
            h = h + ups.pop(0)
        if block.upsamplers is not None:
            for upsampler in block.upsamplers:
                h = upsampler(h, size)
            h = h + ups.pop(0)

    if unet.conv_norm_out is not None:
        h = unet.conv_act(unet.conv_norm_out(h))
    return unet.conv_out(h)
