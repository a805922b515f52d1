"""LR sides made on the fly from HR clips, reproducibly from a numpy Generator.

- `realworld`: the second-order real-world pipeline RealBasicVSR trains with (LiteVSR and our
  default for DGAF and SimpleGVR's first stage);
- `aigc_flow`: SimpleGVR's flow-based degradation (motion-dependent colour blending and blur);
- `model_guided`: SimpleGVR's model-guided degradation (SDEdit through a T2V DiT, in latents).

`vsrup degrade --pipeline ...` runs the same functions on whole videos.
"""

from __future__ import annotations

PIPELINES = ("bicubic", "realworld", "aigc-flow")
