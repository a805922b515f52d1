"""StableVSR (Rota et al.): SD ×4 upscaler + ControlNet with flow-warped temporal guidance.

`sampler.py` holds the bidirectional loop
that DGAF-VSR shares.
"""

from vsrup.methods.stablevsr.method import StableVSR  # registers the method

__all__ = ["StableVSR"]
