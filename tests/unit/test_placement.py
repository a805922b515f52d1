"""One placement rule for both diffusion families: `vsrup.util.placement.place`."""

from __future__ import annotations

import torch


def test_both_families_place_through_the_one_rule() -> None:
    from vsrup.methods import sd_family
    from vsrup.methods.wan_family import place_parts
    from vsrup.util.placement import place

    assert sd_family.place is place
    model, vae = torch.nn.Linear(2, 2).train(), torch.nn.Linear(2, 2).bfloat16().train()
    embeds = torch.zeros(1, 3, 2)
    model, vae, embeds = place_parts(model, vae, embeds, torch.device("cpu"), torch.bfloat16)
    assert model.weight.dtype == torch.bfloat16 and embeds.dtype == torch.bfloat16
    assert vae.weight.dtype == torch.float32  # the Wan VAE always runs in fp32
    for net in (model, vae):
        assert not net.training and not any(p.requires_grad for p in net.parameters())
