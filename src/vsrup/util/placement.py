"""Where a network runs: the one placement rule of both diffusion families.

`methods.sd_family` places each network with its own dtype (the VAE's by `vae_dtype`);
`methods.wan_family.place_parts` places a component set (the Wan VAE always in fp32). Both
go through `place`. Inference never needs gradients, so a placed network is frozen, except
where the network itself decides what trains: a Wan-family denoiser is also `vsrup train`'s
starting point, and LiteVSR's keeps its adapter trainable (its base frozen by its own
constructor), so `place_parts` leaves the denoiser's flags as they are (`freeze=False`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def place(
    model: Any, device: str | torch.device, dtype: torch.dtype, *, freeze: bool = True
) -> Any:
    """Move to `device`, in eval mode, frozen unless `freeze` is False (then every
    parameter's `requires_grad` is left as it was); cast only when a floating tensor is not in
    `dtype` already (a no-op cast would still make diffusers warn for some models). A cast
    goes tensor by tensor with the move, so the device never holds a second full copy."""
    from itertools import chain

    tensors = chain(model.parameters(), model.buffers())
    if any(t.is_floating_point() and t.dtype != dtype for t in tensors):
        model = model.to(device=device, dtype=dtype)
    else:
        model = model.to(device)
    model = model.eval()
    return model.requires_grad_(False) if freeze else model
