"""StableVSR's official checkpoint is already our layout; loading checks that it is.

The HF snapshot `claudiom4sir/StableVSR` holds diffusers folders (`unet/`, `controlnet/`,
`vae/`, `scheduler/`, `text_encoder/`, `tokenizer/`) with diffusers' own key names, so nothing
is renamed and no file is rewritten. What the convert step still owes is strictness: every
folder present, and every network's keys and shapes exactly the model's. That check is the SD
family's (`methods.sd_family.Snapshot.load`, `load_checked` for one folder): diffusers alone
only warns about a missing or unexpected key and initialises the missing weight randomly,
which would make a damaged snapshot upscale with noise instead of failing.
"""

from __future__ import annotations

from vsrup.methods.sd_family import load_checked

__all__ = ["load_checked"]
