"""STCDiT inference: motion-aware VAE encode → tiled flow-matching sampling → segment decode.

1. Upsample the LR frames to the output size (Lanczos, as the official loader) and pad to 16.
2. Encode each motion segment (≤ 9 frames) separately; the first latent of each segment is
   its anchor latent.
3. From pure noise, 10 Euler steps on shift-5 sigmas. At each step the velocity is computed on
   latent tiles of ≤ 21 frames × ≤ 960×1280 px (95 % stride, gaussian blend); each tile's
   anchors are its segment-start latents, every 4th kept plus the last. CFG with the negative
   prompt when the variant's scale is not 1.
4. Decode each segment's latents on its own, keep its real frames, crop the padding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from vsrup.engine.tiles import tiled_apply
from vsrup.errors import WeightsError
from vsrup.methods.stcdit import config as cfg
from vsrup.methods.stcdit.convert import lora_modules, wrap_lora_base
from vsrup.methods.stcdit.frames import Geometry, model_input, model_output
from vsrup.methods.stcdit.model import STCDiT, build
from vsrup.methods.wan_family import (
    WanComponents,
    WanPipeline,
    place_parts,
    pretrained_vae,
    synthetic_vae,
)
from vsrup.nn.wan.flow import euler_sample
from vsrup.nn.wan.tiling import stride_overlap, temporal_window, tile_starts
from vsrup.nn.wan.vae import (
    SegmentLatents,
    decode_segments,
    encode_segments,
    pixels_to_video,
    split_segments,
)
from vsrup.util.seeding import seeded
from vsrup.util.timing import StageTimer


@dataclass
class STCDiTParts(WanComponents):
    model: STCDiT
    #: The negative prompt's embedding when classifier-free guidance is on (cfg_scale ≠ 1).
    negative: torch.Tensor | None
    cfg_scale: float
    tile_frames: int = cfg.TILE_FRAMES
    #: Largest latent tile in output pixels (height, width).
    tile_max_hw: tuple[int, int] = cfg.TILE_MAX_HW


# -- building ---------------------------------------------------------------------------------


def _fresh_rope(model: STCDiT, device: torch.device | str = "cpu") -> None:
    """Recompute the (non-persistent) RoPE tables in float32: after a meta-device build they
    hold no data, and a half-precision cast would round them."""
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    rope = model.transformer.rope
    fresh = WanRotaryPosEmbed(rope.attention_head_dim, rope.patch_size, rope.max_seq_len)
    model.transformer.rope = fresh.to(device=device, dtype=torch.float32)


def _assemble(
    model: STCDiT,
    vae: torch.nn.Module,
    text: torch.Tensor,
    negative: torch.Tensor | None,
    cfg_scale: float,
    device: torch.device,
    dtype: torch.dtype,
) -> STCDiTParts:
    # The Wan VAE stays in fp32 (the official code runs it in bf16). Its spatial tiles are
    # vsrup.nn.wan.vae's official ones (diffusers' own off).
    model, vae, text = place_parts(model, vae, text, device, dtype)
    # RoPE tables are buffers: keep them in float32 whatever the compute dtype.
    _fresh_rope(model, device)
    neg = None if negative is None else negative.to(device, dtype)
    return STCDiTParts(model=model, vae=vae, prompt_embeds=text, negative=neg, cfg_scale=cfg_scale)


def _random_full(
    config: cfg.STCDiTConfig, device: torch.device, dtype: torch.dtype, seed: int
) -> STCDiT:
    """A full-size model filled with noise directly in the compute dtype on the device (the
    14B one would not fit in fp32 default init on one GPU)."""
    model = build(config, device="meta").to_empty(device=device).to(dtype)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.normal_(0.0, 0.02, generator=gen)
    _fresh_rope(model, device)
    return model


def synthetic_parts(
    size: str,
    device: torch.device,
    dtype: torch.dtype,
    seed: int,
    variant: str = "tiny",
    cfg_scale: float | None = None,
) -> STCDiTParts:
    """Random weights: `size` "tiny" is the few-KB test config of the variant's structure,
    "full" the real variant's architecture (output is noise either way; for tests and
    benchmarks)."""
    preset = {"tiny": "test", "large": "test-large"}[variant] if size == "tiny" else variant
    config = cfg.PRESETS[preset]
    cfg_scale = config.cfg_scale if cfg_scale is None else cfg_scale
    with seeded(seed):
        model = build(config) if size == "tiny" else _random_full(config, device, dtype, seed)
        vae = synthetic_vae(config.vae)
        text_dim = config.transformer["text_dim"]
        text = torch.randn(1, config.text_len, text_dim)
        negative = torch.randn(1, config.text_len, text_dim) if cfg_scale != 1 else None
    return _assemble(model, vae, text, negative, cfg_scale, device, dtype)


def _read_safetensors_dir(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise WeightsError("holds no .safetensors weights", path=directory)
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(f))
    return state


def load_model(base_dir: Path, ckpt_dir: Path, dtype: torch.dtype) -> STCDiT:
    """Base Wan DiT (diffusers layout, `base_dir`/transformer) + our converted checkpoint,
    every key and shape checked, built on meta and filled in place (no double allocation)."""
    from safetensors.torch import load_file

    from vsrup.hub.safe_load import check_keys

    meta_path, weights_path = ckpt_dir / "config.json", ckpt_dir / "model.safetensors"
    if not meta_path.is_file() or not weights_path.is_file():
        raise WeightsError("config.json or model.safetensors is missing", path=ckpt_dir)
    info = json.loads(meta_path.read_text())
    config = cfg.PRESETS[info["preset"]]
    config = replace(config, lora_rank=info["lora_rank"], lora_alpha=info["lora_alpha"])
    model = build(config, device="meta")
    expected = model.state_dict()
    wrapped = lora_modules(expected.keys())
    # Some I2V exports carry an unused `norm_added_q`; diffusers ignores it too.
    state = {
        wrap_lora_base(f"transformer.{k}", wrapped): v.to(dtype)
        for k, v in _read_safetensors_dir(base_dir / "transformer").items()
        if "norm_added_q" not in k
    }
    state.update({k: v.to(dtype) for k, v in load_file(weights_path).items()})
    check_keys(state, expected, path=ckpt_dir)
    model.load_state_dict(state, assign=True)
    _fresh_rope(model)
    return model


def pretrained_parts(
    base_dir: Path,
    ckpt_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
    prompt: str | None,
    negative_prompt: str | None,
    cfg_scale: float | None = None,
) -> STCDiTParts:
    """Real weights. Text embeddings come first (cached; the encoder is freed before the DiT
    is even read from disk)."""
    from vsrup.methods.stcdit.text_cache import prompt_embeddings

    info = json.loads((ckpt_dir / "config.json").read_text()) if ckpt_dir.is_dir() else {}
    if cfg_scale is None:
        cfg_scale = cfg.PRESETS[info.get("preset", "tiny")].cfg_scale
    text, negative = prompt_embeddings(base_dir, prompt, negative_prompt, cfg_scale != 1, device)
    model = load_model(base_dir, ckpt_dir, dtype)
    return _assemble(model, pretrained_vae(base_dir), text, negative, cfg_scale, device, dtype)


# -- sampling ---------------------------------------------------------------------------------


def select_anchors(segment_latents: Sequence[int], start: int, length: int) -> list[int]:
    """Anchor frames of the latent tile [start, start + length), tile-relative: the segment
    starts inside it (its first frame if none), then every 4th of those plus the last."""
    inside = [i - start for i in segment_latents if start <= i < start + length] or [0]
    kept = inside[:: cfg.ANCHOR_STRIDE]
    if kept[-1] != inside[-1]:
        kept.append(inside[-1])
    return kept


def guided_velocity(
    parts: STCDiTParts, x: torch.Tensor, lq: torch.Tensor, anchors: list[int], t: torch.Tensor
) -> torch.Tensor:
    with StageTimer("denoise"):
        v = parts.model(x, lq, anchors, t, parts.prompt_embeds)
        if parts.negative is None or parts.cfg_scale == 1:
            return v
        v_neg = parts.model(x, lq, anchors, t, parts.negative)
        return v_neg + parts.cfg_scale * (v - v_neg)


def tiled_velocity(
    parts: STCDiTParts,
    x: torch.Tensor,
    lq: torch.Tensor,
    segment_latents: Sequence[int],
    t: torch.Tensor,
) -> torch.Tensor:
    """Velocity of the whole latent, computed on blended 3-D tiles."""
    _, c, frames, h, w = x.shape
    spatial = parts.vae.config.scale_factor_spatial
    kf = min(parts.tile_frames, frames)
    kh = min(h, parts.tile_max_hw[0] // spatial) // 2 * 2
    kw = min(w, parts.tile_max_hw[1] // spatial) // 2 * 2
    overlap = max(stride_overlap(kh, cfg.TILE_STRIDE), stride_overlap(kw, cfg.TILE_STRIDE))
    both = torch.cat([x, lq], dim=1)
    out = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    weight = torch.zeros(frames, dtype=torch.float64, device=x.device)
    window = temporal_window(kf).to(x.device)
    for t0 in tile_starts(frames, kf, cfg.TILE_STRIDE):
        anchors = select_anchors(segment_latents, t0, kf)

        def tile_fn(tile: torch.Tensor, anchors: list[int] = anchors) -> torch.Tensor:
            return guided_velocity(parts, tile[:, :c], tile[:, c:], anchors, t)

        v = tiled_apply(
            tile_fn, both[:, :, t0 : t0 + kf], (kh, kw), overlap, multiple=2, blend="gaussian"
        )
        out[:, :, t0 : t0 + kf] += v.float() * window.view(1, 1, -1, 1, 1).float()
        weight[t0 : t0 + kf] += window
    return (out / weight.view(1, 1, -1, 1, 1).float()).to(x.dtype)


def prepare_video(
    parts: STCDiTParts, frames: torch.Tensor, scale: int
) -> tuple[torch.Tensor, Geometry]:
    """(T, 3, H, W) in [0, 1] → (1, 3, T, H', W') in [-1, 1] on the model's device, resized
    as the official loader does (`frames.model_input`), and the geometry to undo it."""
    x, geometry = model_input(frames, scale)
    return pixels_to_video(x).to(parts.device), geometry


class STCDiTPipeline(WanPipeline[STCDiTParts]):
    """One independent window (`--window N`; the whole-video run is `video.VideoRun`):
    official resize → per-segment tiled encode → tiled Euler sampling with anchors and CFG →
    per-segment tiled decode, resize undone."""

    def prepare(self, frames: torch.Tensor) -> tuple[torch.Tensor, Geometry]:
        return prepare_video(self.parts, frames, self.scale)

    def encode(self, pixels: torch.Tensor, segment_starts: Sequence[int]) -> SegmentLatents:
        segments = split_segments(segment_starts, pixels.shape[2], cfg.MAX_SEGMENT)
        return encode_segments(self.parts.vae, pixels, segments)

    def denoise(self, encoded: SegmentLatents, generator: torch.Generator) -> torch.Tensor:
        parts = self.parts
        lq = encoded.latents.to(parts.dtype)
        noise = self.noise(lq.shape, generator)

        def velocity(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return tiled_velocity(parts, latents, lq, encoded.anchor_indices, t)

        return euler_sample(velocity, noise, self.steps, cfg.SHIFT, timestep_dtype=parts.dtype)

    def decode(
        self, latents: torch.Tensor, encoded: SegmentLatents, geometry: Geometry
    ) -> torch.Tensor:
        vae = self.parts.vae
        out = decode_segments(vae, latents, encoded.latent_counts, encoded.frame_counts)
        return model_output(out[0].permute(1, 0, 2, 3), geometry)


def upscale_clip(
    parts: STCDiTParts,
    frames: torch.Tensor,
    segment_starts: Sequence[int],
    scale: int,
    steps: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """One independent window: (T, 3, H, W) in [0, 1] → (T, 3, H·s, W·s)."""
    return STCDiTPipeline(parts, steps, scale)(frames, generator, segment_starts)
