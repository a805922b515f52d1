"""SimpleGVR: latent-cascaded VSR on a Wan-class DiT (Wan2.1-T2V-1.3B initialisation).

The Method class is in `method.py`; see docs/architecture.md for the folder layout.
"""

from vsrup.methods.simplegvr.method import SimpleGVR  # registers the method

__all__ = ["SimpleGVR"]
