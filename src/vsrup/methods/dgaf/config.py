"""DGAFNet's configuration. Its constructor arguments are the official `config.json` keys
(defaults in `model.DGAFNet`); the sizes of a trained net come from the `config.json` saved
with it or, for a bare state dict, from its tensor shapes (`infer_config`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from vsrup.errors import WeightsError

if TYPE_CHECKING:
    import torch

#: Guidance channels: the flow-warped previous x0 latent (SD's 4 latent channels).
CONDITIONING_CHANNELS = 4


def infer_config(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """DGAFNet config from tensor shapes (norm groups and eps keep their defaults)."""
    try:
        conv_in = state["conv_in_condition.weight"]
        blocks = sorted(
            {int(m.group(1)) for k in state if (m := re.match(r"down_blocks\.(\d+)\.", k))}
        )
        channels = [state[f"down_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in blocks]
        layers = len({k.split(".")[3] for k in state if k.startswith("down_blocks.0.resnets.")})
    except KeyError as exc:
        raise WeightsError(f"not a DGAFNet state dict (no {exc.args[0]})") from None
    total_in = conv_in.shape[1]
    # Official: 7 UNet inputs (noisy latent + LR image) + the 4 guidance channels = 11.
    cond = CONDITIONING_CHANNELS if total_in == 11 else total_in - 7
    return {
        "in_channels": total_in - cond,
        "conditioning_channels": cond,
        "block_out_channels": channels,
        "layers_per_block": layers,
        "down_block_types": ["DownBlock2D"] * len(channels),
        "up_block_types": ["UpBlock2D"] * len(channels),
    }
