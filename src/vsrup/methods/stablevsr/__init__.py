"""StableVSR (Rota et al.): SD ×4 upscaler + ControlNet with flow-warped temporal guidance.

The method itself is registered from `method.py`; `sampler.py` holds the bidirectional loop
that DGAF-VSR shares.
"""
