"""Flow-matching sampling on shifted sigmas, as DiffSynth-Studio's Wan pipelines sample.

Sigmas are `linspace(1, 0, steps + 1)[:-1]` warped by `shift·σ / (1 + (shift − 1)·σ)` and the
model sees `timestep = 1000·σ`. An Euler step moves the latent by `(σ_next − σ)·v` with
σ_next = 0 after the last step. Starting from σ = 1, the initial latent is pure noise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vsrup.util.steps import report_step


def shifted_sigmas(steps: int, shift: float, sigma_max: float = 1.0) -> torch.Tensor:
    """(steps + 1,) float64 sigmas from `sigma_max` down to 0 inclusive."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    base = torch.linspace(sigma_max, 0.0, steps + 1, dtype=torch.float64)[:-1]
    sigmas = shift * base / (1 + (shift - 1) * base)
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def euler_sample(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    noise: torch.Tensor,
    steps: int,
    shift: float,
    timestep_dtype: torch.dtype = torch.float32,
    num_train_timesteps: int = 1000,
    callback: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Integrate `velocity(latents, timestep)` from pure noise to a clean latent.

    `timestep` is a (1,) tensor of `timestep_dtype`: in bf16 runs the official pipeline rounds
    the timestep to bf16 before the DiT sees it, so pass the model's dtype to match it.
    """
    sigmas = shifted_sigmas(steps, shift)
    latents = noise
    for i in range(steps):
        t = (sigmas[i] * num_train_timesteps).to(torch.float32).reshape(1).to(timestep_dtype)
        v = velocity(latents, t.to(noise.device))
        latents = (latents.float() + v.float() * float(sigmas[i + 1] - sigmas[i])).to(noise.dtype)
        if callback is not None:
            callback(i + 1, steps)
        report_step(i + 1, steps)
    return latents
