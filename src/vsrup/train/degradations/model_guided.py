"""SimpleGVR's model-guided degradation (paper §4.2.2): SDEdit through the base T2V model.

The clean LR latent c0 is mixed with Gaussian noise at ratio α ∈ [0.3, 0.4] along the
rectified-flow path (c_α = (1 − α)·c0 + α·ε) and partially denoised back to t = 0 by the frozen
T2V model with Euler steps. The result ĉ0 keeps the layout of the source while moving toward
the T2V model's output domain; it is the LR latent the trained model is conditioned on.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ALPHA_RANGE = (0.3, 0.4)

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def sdedit(
    latent: torch.Tensor, velocity: Velocity, alpha: float, noise: torch.Tensor, steps: int = 4
) -> torch.Tensor:
    """Noise `latent` to flow time `alpha` and integrate v back to 0 in `steps` Euler steps.

    `velocity(x_t, t)` takes timesteps in [0, 1000] (as the Wan DiT does)."""
    x = (1 - alpha) * latent + alpha * noise.to(latent.dtype)
    times = torch.linspace(alpha, 0.0, steps + 1, dtype=torch.float32)
    for t0, t1 in zip(times[:-1], times[1:], strict=True):
        t = (t0 * 1000).reshape(1).to(latent.device)
        x = x + (t1 - t0).item() * velocity(x, t).to(x.dtype)
    return x
