"""The frame-recurrent, bidirectional sampling loop shared by StableVSR and DGAF-VSR.

Both official pipelines run the same loop (see docs/methods/stablevsr-dgaf.md):

- one Gaussian latent per frame, drawn in frame order before the loop;
- for each timestep, the frames are denoised one after another in the current order; every
  frame but the first of the pass is guided by the x0 estimate of the frame denoised just
  before it (same timestep), aligned with the flow between the two;
- after each timestep the order is reversed, so passes alternate 0→N−1 and N−1→0 and the frame
  that ended one pass starts the next one without guidance;
- the LR frame (in [−1, 1]) is concatenated to the latent un-noised.

The methods differ only in how a guided frame is predicted; they pass that in as `guided`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from vsrup.util.steps import report_step

#: predict(model_input (1, 7, h, w), t) -> model output for the first frame of a pass.
PlainFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: predict(model_input, t, x0 of the previous frame in this pass, flow (1, H, W, 2)) -> output.
GuidedFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def pass_flows(
    forward: list[torch.Tensor], backward: list[torch.Tensor], reverse: bool
) -> list[torch.Tensor]:
    """Flows for one pass: `forward` is [f_1 … f_{N−1}] (warps frame k−1 onto k), `backward`
    is [b_1 … b_{N−1}] (warps frame k onto k−1). A reversed pass visits N−1 … 0, so its k-th
    guidance flow is b_{N−k}: the official code keeps the backward list reversed."""
    return list(reversed(backward)) if reverse else list(forward)


def pass_order(n: int, reverse: bool) -> list[int]:
    """Frame order of one pass: 0…N−1, or N−1…0 for every other step."""
    return list(range(n - 1, -1, -1)) if reverse else list(range(n))


def bidirectional_sample(
    lr: torch.Tensor,
    forward_flows: list[torch.Tensor],
    backward_flows: list[torch.Tensor],
    scheduler: Any,
    steps: int,
    plain: PlainFn,
    guided: GuidedFn,
    generator: torch.Generator | None = None,
    latent_channels: int = 4,
    model_dtype: torch.dtype = torch.float32,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Sample latents (N, C, h, w) for LR frames `lr` (N, 3, h, w) in [−1, 1].

    Random draws happen in the official order (N initial latents, then the scheduler's noise
    for each frame at each step), so a generator seeded like the official global RNG gives the
    official numbers.
    """
    n, _, h, w = lr.shape
    device = lr.device
    scheduler.set_timesteps(steps, device=device)
    timesteps = scheduler.timesteps
    noise_device = generator.device if generator is not None else device
    latents = [
        torch.randn((1, latent_channels, h, w), generator=generator, device=noise_device).to(device)
        * scheduler.init_noise_sigma
        for _ in range(n)
    ]
    order = list(range(n))
    reverse = False
    for i, t in enumerate(timesteps):
        flows = pass_flows(forward_flows, backward_flows, reverse)
        x0_prev: torch.Tensor | None = None
        for k, frame in enumerate(order):
            inp = scheduler.scale_model_input(latents[frame], t)
            inp = torch.cat([inp, lr[frame : frame + 1]], dim=1).to(model_dtype)
            if k == 0 or x0_prev is None:
                out = plain(inp, t)
            else:
                out = guided(inp, t, x0_prev, flows[k - 1])
            step = scheduler.step(out.float(), t, latents[frame], generator=generator)
            latents[frame] = step.prev_sample
            x0_prev = step.pred_original_sample
        order.reverse()
        reverse = not reverse
        if on_step is not None:
            on_step(i + 1, len(timesteps))
        report_step(i + 1, len(timesteps))
    return torch.cat(latents, dim=0)
