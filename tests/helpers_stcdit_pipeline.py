"""The cases of the end-to-end STCDiT parity fixtures (tools/parity/stcdit_pipeline.py writes
them by running the official pipeline; tests/unit/test_stcdit_pipeline_parity.py replays
them through `run_stream`). Shared so both sides use the same settings and frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "stcdit_pipeline"

#: diffusers' AutoencoderKLWan config of the tiny VAE (= DiffSynth VideoVAE_ dim 8, one res
#: block per level, Wan2.1 temporal downsampling).
TINY_VAE: dict[str, Any] = {
    "base_dim": 8,
    "z_dim": 16,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
}

STILL = (0.0, 0.0, 0.0, 1.0)

#: name → settings. `max_hw` is the official max_process_height/width (output pixels),
#: `tile_frames` its --tile_frame_kernel, `max_segment` --minimal_segment_length.
CASES: dict[str, dict[str, Any]] = {
    # Longer than the old 57-frame window: 118 frames → 13 segments, 40 latent frames, so
    # the temporal tiles start at 0, 19 and 19 again (the official loop repeats a tile).
    "long": dict(
        frames=118,
        size=(32, 16),
        scale=1,
        steps=2,
        tile_frames=21,
        max_hw=(960, 1280),
        max_segment=9,
        motion="pan",
    ),  # fmt: skip
    # Shorter than one segment: 4 frames, padded to 5 inside the VAE (2 latent frames).
    "short4": dict(
        frames=4,
        size=(32, 16),
        scale=1,
        steps=2,
        tile_frames=21,
        max_hw=(960, 1280),
        max_segment=9,
        motion="pan",
    ),  # fmt: skip
    # Odd size at ×2: 27×19 → 54×38, resized to 48×32 for the model and back; spatial tiles
    # of 2×2 latents (repeats included).
    "odd": dict(
        frames=6,
        size=(27, 19),
        scale=2,
        steps=2,
        tile_frames=21,
        max_hw=(16, 16),
        max_segment=9,
        motion="pan",
    ),  # fmt: skip
    # A camera jump the segmenter cuts at, 256 px tall so the VAE runs on two spatial tiles
    # (240 px, stride 120) and the DiT on two 16-latent rows; a --tile_frame_kernel of 3 that
    # the official function ignores (fewer than 21 latent frames: one temporal tile).
    "motion": dict(
        frames=8,
        size=(32, 256),
        scale=1,
        steps=2,
        tile_frames=3,
        max_hw=(128, 1280),
        max_segment=9,
        motion="jump",
    ),  # fmt: skip
}


def texture() -> np.ndarray:
    """A 384×576 RGB picture of random 3-pixel blocks: corners of similar strength
    everywhere, so the official segmenter (quality 0.3) tracks even tiny crops."""
    import cv2

    rng = np.random.default_rng(11)
    blocks = rng.integers(0, 256, (128, 192, 3), dtype=np.uint8)
    return cv2.resize(blocks, (576, 384), interpolation=cv2.INTER_NEAREST)


def case_frames(name: str) -> np.ndarray:
    """(N, H, W, 3) uint8 LR frames of a case: a textured picture seen by a moving camera."""
    from tests.helpers_engine import camera_clip, poses_from_steps

    case = CASES[name]
    n = case["frames"]
    if case["motion"] == "pan":
        steps = [(0.6, 0.2, 0.0, 1.0)] * (n - 1)
    else:  # a still camera that jumps 12 px at frame 4
        steps = [STILL] * 3 + [(12.0, 0.0, 0.0, 1.0)] + [STILL] * (n - 5)
    w, h = case["size"]
    frames = camera_clip(texture(), poses_from_steps(steps), size=(w, h))
    return np.stack(frames)


def official_vae_to_diffusers(state: dict, num_res_blocks: int) -> dict:
    """Rename a native/DiffSynth Wan2.1 VAE state dict (`VideoVAE_`) to diffusers'
    `AutoencoderKLWan` names. The decoder's flat `upsamples` list holds, per level,
    `num_res_blocks + 1` residual blocks and (except the last level) one upsampler."""
    out = {}
    per_level = num_res_blocks + 2
    block = {
        "residual.0.": "norm1.",
        "residual.2.": "conv1.",
        "residual.3.": "norm2.",
        "residual.6.": "conv2.",
        "shortcut.": "conv_shortcut.",
    }

    def rename_block(rest: str) -> str:
        for old, new in block.items():
            if rest.startswith(old):
                return new + rest[len(old) :]
        return rest

    for key, value in state.items():
        part, _, rest = key.partition(".")
        if part in ("conv1", "conv2") and rest in ("weight", "bias"):
            new = f"{'quant_conv' if part == 'conv1' else 'post_quant_conv'}.{rest}"
        else:
            side = part
            sub, _, rest = rest.partition(".")
            if sub == "conv1":
                new = f"{side}.conv_in.{rest}"
            elif sub == "head":
                idx, _, tail = rest.partition(".")
                new = f"{side}.{'norm_out' if idx == '0' else 'conv_out'}.{tail}"
            elif sub == "middle":
                idx, _, tail = rest.partition(".")
                if idx == "1":
                    new = f"{side}.mid_block.attentions.0.{tail}"
                else:
                    j = 0 if idx == "0" else 1
                    new = f"{side}.mid_block.resnets.{j}.{rename_block(tail)}"
            elif sub == "downsamples":
                idx, _, tail = rest.partition(".")
                new = f"{side}.down_blocks.{idx}.{rename_block(tail)}"
            elif sub == "upsamples":
                idx, _, tail = rest.partition(".")
                level, j = divmod(int(idx), per_level)
                if j <= num_res_blocks:
                    new = f"{side}.up_blocks.{level}.resnets.{j}.{rename_block(tail)}"
                else:
                    new = f"{side}.up_blocks.{level}.upsamplers.0.{tail}"
            else:
                raise KeyError(key)
        out[new] = value
    return out
