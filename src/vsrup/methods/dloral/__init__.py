"""DLoRAL: one-step video SR on Stable Diffusion 2.1-base with dual LoRAs and Cross-Frame
Retrieval (Sun et al., "One-Step Diffusion for Detail-Rich and Temporally Consistent Video
Super-Resolution"). Weights: `sd21-base` (Hub) + `dloral` (the official model.pkl, imported).

The Method class is in `method.py`; see docs/architecture.md for the folder layout.
"""

from vsrup.methods.dloral.method import DLoRAL  # registers the method

__all__ = ["DLoRAL"]
