"""LiteVSR: a frozen Wan2.2-TI2V-5B steered by a State-Aware Adapter, few-step UniPC.

The Method class is in `method.py`; see docs/architecture.md for the folder layout.
"""

from vsrup.methods.litevsr.method import LiteVSR  # registers the method

__all__ = ["LiteVSR"]
