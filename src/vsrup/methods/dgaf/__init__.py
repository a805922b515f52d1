"""DGAF-VSR: StableVSR's loop with dense latent guidance from DGAFNet (OGWM + FTCM).

No public weights exist yet (import your own with `vsrup models import dgaf FILE`).
"""

from vsrup.methods.dgaf.method import DGAF  # registers the method

__all__ = ["DGAF"]
