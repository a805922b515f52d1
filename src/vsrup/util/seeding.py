"""Random initialisation of synthetic weights that depends on a seed only.

Both diffusion families (`methods.wan_family`, `methods.sd_family`) build their random
`--synthetic-weights` networks inside `seeded(seed)`, so the weights are the same whatever ran
before and the caller's global CPU generator is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The global CPU generator seeded with `seed` inside the block, restored after it."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
