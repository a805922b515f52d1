"""Seeds of the per-sample random streams: a function of (run seed, sample index, stream)."""

from __future__ import annotations

import numpy as np


def seed_for(seed: int, index: int, stream: int) -> int:
    """A 63-bit seed for one sample's random stream (1: degradation, 2: torch, 3: validation)."""
    return int(np.random.SeedSequence([seed, index, stream]).generate_state(2, np.uint64)[0] >> 1)
