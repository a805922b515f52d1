"""STCDiT: a Wan2.1 DiT with LoRA, anchor frames and motion-aware VAE segments.

The Method class is in `method.py`; see docs/architecture.md for the folder layout.
"""

from vsrup.methods.stcdit.method import STCDiTMethod  # registers the method

__all__ = ["STCDiTMethod"]
