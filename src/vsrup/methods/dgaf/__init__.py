"""DGAF-VSR: StableVSR's loop with dense latent guidance from DGAFNet (OGWM + FTCM).

The method is registered from `method.py`; no public weights exist yet (import your own with
`vsrup models import dgaf FILE`).
"""
