"""One placement rule for both diffusion families: `vsrup.util.placement.place`."""

from __future__ import annotations

import torch


def test_both_families_place_through_the_one_rule() -> None:
    from vsrup.methods import sd_family
    from vsrup.methods.wan_family import place_parts
    from vsrup.util.placement import place

    assert sd_family.place is place
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)).train()
    model[0].requires_grad_(False)  # a member's frozen base; model[1] its trainable adapter
    vae, embeds = torch.nn.Linear(2, 2).bfloat16().train(), torch.zeros(1, 3, 2)
    model, vae, embeds = place_parts(model, vae, embeds, torch.device("cpu"), torch.bfloat16)
    assert model[0].weight.dtype == torch.bfloat16 and embeds.dtype == torch.bfloat16
    assert vae.weight.dtype == torch.float32  # the Wan VAE always runs in fp32
    assert not model.training and not vae.training
    # The denoiser keeps its own flags (LiteVSR's adapter trains); the VAE is frozen.
    assert not model[0].weight.requires_grad and model[1].weight.requires_grad
    assert not any(p.requires_grad for p in vae.parameters())
