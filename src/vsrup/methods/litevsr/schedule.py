"""Training-time recursive refinement and adaptive trajectory unrolling (paper §3.4).

The paper's equation (10) did not survive in our copy of the text; from its description
(minimal depth near t = 1, rising non-linearly as t → 0, a sharpness s borrowed from the
shifted schedules of flow models, maximum depth 3, s = 5) we use

    t_s   = s·t / (1 + (s − 1)·t)        (the SD3/Wan timestep shift)
    depth = ceil(K · (1 − t_s)), clipped to [0, K]

so depth(1) = 0, depth(0) = K, and most of the trajectory needs one step or none.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def shifted_time(t: float, sharpness: float = 5.0) -> float:
    return sharpness * t / (1 + (sharpness - 1) * t)


def unroll_depth(t: float, max_depth: int = 3, sharpness: float = 5.0) -> int:
    """How many refinement passes to unroll at flow time t ∈ [0, 1] (1 = pure noise)."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    depth = math.ceil(max_depth * (1 - shifted_time(t, sharpness)) - 1e-9)
    return max(0, min(max_depth, depth))


Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def unrolled_estimate(
    velocity: Velocity,
    noisy: torch.Tensor,
    sigma: float,
    initial_estimate: torch.Tensor,
    depth: int,
) -> torch.Tensor:
    """Recursive refinement: x̂0 ← x_t − σ·v(x_t, x̂0), `depth` times, from `initial_estimate`.

    `velocity(noisy, estimate)` wraps the model at a fixed timestep. Run without gradients:
    the unrolled passes only produce the condition the trained pass then sees.
    """
    estimate = initial_estimate
    for _ in range(depth):
        estimate = noisy - sigma * velocity(noisy, estimate)
    return estimate


def flow_matching_target(clean: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Velocity target of rectified flow with x_t = (1 − t)·x0 + t·ε."""
    return noise - clean


def loss_weight(t: torch.Tensor) -> torch.Tensor:
    """Weight favouring high-SNR (low t) timesteps; choice: 1 − t (paper's form not legible)."""
    return 1.0 - t
