"""The shared base of the Wan-family methods (stcdit, litevsr, simplegvr).

- `components.py`: `WanComponents` (denoiser + Wan VAE + prompt embedding) and how every
  family member builds and places them (seeded random init, the fp32 VAE, model swaps);
- `pipeline.py`: `WanPipeline`, the staged run prepare → encode → denoise → decode, with the
  whole-clip VAE stages and the noise draw every member uses;
- `method.py`: `WanMethod`, the Method class with the one `from_weights` (synthetic, trained
  or installed weights) and the per-window generator.

A member's folder keeps only what differs: its denoiser (`model.py`), its configs, its
checkpoint conversion, its component builders and the stages it overrides (`pipeline.py`).
"""
