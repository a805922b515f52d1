"""Write torchvision raft_large's state-dict keys and shapes as a test fixture.

The list is derived by hand from torchvision's public source
(`torchvision/models/optical_flow/raft.py`, `raft_large`), independently of vsrup's RAFT, so
tests/unit/test_stablevsr.py can check that our module has exactly these names:

- Conv2dNormActivation is a Sequential: index 0 the conv (bias=True everywhere in RAFT),
  index 1 the norm when there is one (InstanceNorm2d without affine has no keys; BatchNorm2d
  has weight, bias, running_mean, running_var, num_batches_tracked), then the activation.
- feature/context encoders: layers (64, 64, 96, 128, 256), strides (2, 1, 2, 2); residual
  blocks with a 1×1 projection `downsample` only when stride is 2.
- motion encoder: corr 4·9² = 324 → 256 (1×1) → 192 (3×3); flow 2 → 128 (7×7) → 64 (3×3);
  conv 256 → 126 (3×3). Recurrent block: two ConvGRUs, (1,5) and (5,1), hidden 128, input 256.
  Flow head 128 → 256 → 2. Mask predictor 128 → 256 (3×3) → 576 (1×1).

Usage: python tools/parity/raft_keys.py
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "raft" / "raft_large_keys.json"


def conv(prefix: str, cin: int, cout: int, kh: int, kw: int | None = None) -> dict:
    return {f"{prefix}.weight": [cout, cin, kh, kw or kh], f"{prefix}.bias": [cout]}


def bn(prefix: str, c: int) -> dict:
    out = {f"{prefix}.{n}": [c] for n in ("weight", "bias", "running_mean", "running_var")}
    out[f"{prefix}.num_batches_tracked"] = []
    return out


def cna(prefix: str, cin: int, cout: int, k: int, batch: bool) -> dict:
    out = conv(f"{prefix}.0", cin, cout, k)
    if batch:
        out |= bn(f"{prefix}.1", cout)
    return out


def encoder(prefix: str, batch: bool) -> dict:
    layers, strides = (64, 64, 96, 128, 256), (2, 1, 2, 2)
    out = cna(f"{prefix}.convnormrelu", 3, layers[0], 7, batch)
    for i in range(3):
        cin, cout, stride = layers[i], layers[i + 1], strides[i + 1]
        for j, (bin_, s) in enumerate(((cin, stride), (cout, 1))):
            p = f"{prefix}.layer{i + 1}.{j}"
            out |= cna(f"{p}.convnormrelu1", bin_, cout, 3, batch)
            out |= cna(f"{p}.convnormrelu2", cout, cout, 3, batch)
            if s != 1:
                out |= cna(f"{p}.downsample", bin_, cout, 1, batch)
    out |= conv(f"{prefix}.conv", layers[3], layers[4], 1)
    return out


def keys() -> dict:
    out = encoder("feature_encoder", batch=False) | encoder("context_encoder", batch=True)
    me = "update_block.motion_encoder"
    out |= conv(f"{me}.convcorr1.0", 324, 256, 1) | conv(f"{me}.convcorr2.0", 256, 192, 3)
    out |= conv(f"{me}.convflow1.0", 2, 128, 7) | conv(f"{me}.convflow2.0", 128, 64, 3)
    out |= conv(f"{me}.conv.0", 256, 126, 3)
    for g, (kh, kw) in (("convgru1", (1, 5)), ("convgru2", (5, 1))):
        for c in ("convz", "convr", "convq"):
            out |= conv(f"update_block.recurrent_block.{g}.{c}", 128 + 256, 128, kh, kw)
    out |= conv("update_block.flow_head.conv1", 128, 256, 3)
    out |= conv("update_block.flow_head.conv2", 256, 2, 3)
    out |= conv("mask_predictor.convrelu.0", 128, 256, 3) | conv("mask_predictor.conv", 256, 576, 1)
    return out


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "source": "torchvision/models/optical_flow/raft.py raft_large",
        "num_params": 5257536,
        "keys": keys(),
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT} ({len(data['keys'])} keys)")
