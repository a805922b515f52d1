"""Wan VAE helpers: normalised latents, 4k+1 padding, whole-clip and segment-wise encode/decode.

Motion-aware encoding (STCDiT) runs the causal Wan VAE separately on each motion segment, so
a camera cut or fast pan never shares a temporal convolution window with the frames before it.
Each segment of n frames is padded to 4k+1 frames by repeating its last frame, encoded on its
own, and its latents are concatenated; the first latent of every segment is a full (intra)
encoding of that segment's first frame: the segment's anchor-frame latent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from vsrup.util.timing import StageTimer

#: Spatial tiles STCDiT's `test_tlc_seg` passes to its VAE, in latents: (height, width) and
#: stride (240×416 px tiles, stride 120×208 px).
OFFICIAL_TILE = (30, 52)
OFFICIAL_STRIDE = (15, 26)


def latent_stats(vae: torch.nn.Module, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the VAE's latent space, shaped (1, C, 1, 1, 1)."""
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean, dtype=like.dtype, device=like.device)
    std = torch.tensor(vae.config.latents_std, dtype=like.dtype, device=like.device)
    return mean.view(shape), std.view(shape)


def pad_frames_4k1(video: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Pad (B, C, T, H, W) to 4k+1 frames by repeating the last frame; returns (video, pad)."""
    t = video.shape[2]
    pad = (-(t - 1)) % 4
    if pad:
        video = torch.cat([video, video[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2)
    return video, pad


def pixels_to_video(frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) frames in [0, 1] → the VAE's (1, 3, T, H, W) video in [-1, 1]."""
    return (frames * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0)


def video_to_pixels(video: torch.Tensor) -> torch.Tensor:
    """The VAE's (1, 3, T, H, W) video in [-1, 1] → (T, 3, H, W) frames in [0, 1]."""
    return ((video[0].permute(1, 0, 2, 3) + 1) / 2).clamp(0, 1)


@torch.no_grad()
def encode_normalised(vae: torch.nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) frames in [0, 1] → normalised latent (1, C, F, H/s, W/s) of the frames
    padded to 4k+1 (the last one repeated), the posterior's mode in one untiled pass."""
    video, _ = pad_frames_4k1(pixels_to_video(frames.float()))
    mean, std = latent_stats(vae, video)
    with StageTimer("vae_encode"):
        return (vae.encode(video).latent_dist.mode() - mean) / std


@torch.no_grad()
def decode_normalised(vae: torch.nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Normalised latent (1, C, F, h, w) → (4F − 3, 3, H, W) frames in [0, 1], one untiled
    pass (callers drop the frames that 4k+1 padding added)."""
    mean, std = latent_stats(vae, latents.float())
    with StageTimer("vae_decode"):
        video = vae.decode(latents.float() * std + mean, return_dict=False)[0]
    return video_to_pixels(video)


def _tile_tasks(h: int, w: int, size: tuple[int, int], stride: tuple[int, int]):  # noqa: ANN202
    """Tile boxes of DiffSynth's `WanVideoVAE.tiled_encode/decode` loop: a fixed stride, a
    start skipped once the previous tile already reached the end; tiles past the end are
    simply cut short."""
    out = []
    for y in range(0, h, stride[0]):
        if y - stride[0] >= 0 and y - stride[0] + size[0] >= h:
            continue
        for x in range(0, w, stride[1]):
            if x - stride[1] >= 0 and x - stride[1] + size[1] >= w:
                continue
            out.append((y, y + size[0], x, x + size[1]))
    return out


def _ramp(length: int, lo_bound: bool, hi_bound: bool, border: int) -> torch.Tensor:
    x = torch.ones(length)
    ramp = (torch.arange(border) + 1) / border
    if not lo_bound:
        x[:border] = ramp[: min(border, length)]
    if not hi_bound:
        x[-border:] = ramp.flip(0)[-min(border, length) :]
    return x


def official_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    size: tuple[int, int],
    stride: tuple[int, int],
    factor: float,
    out_channels: int,
    out_frames: int,
) -> torch.Tensor:
    """Run a VAE half on spatial tiles of (1, C, T, H, W) and blend them as DiffSynth's Wan
    VAE does: weights ramp linearly (1/b … 1) over the `size - stride` border on every side
    that is not the image edge, the minimum of the two axes' ramps, normalised by their sum.
    `size`/`stride` are in `x`'s pixels; `factor` maps them to the output's."""
    _, _, _, h, w = x.shape
    oh, ow = round(h * factor), round(w * factor)
    values = torch.zeros(1, out_channels, out_frames, oh, ow, dtype=x.dtype, device=x.device)
    weight = torch.zeros(1, 1, out_frames, oh, ow, dtype=x.dtype, device=x.device)
    border = (round((size[0] - stride[0]) * factor), round((size[1] - stride[1]) * factor))
    for y0, y1, x0, x1 in _tile_tasks(h, w, size, stride):
        out = fn(x[:, :, :, y0:y1, x0:x1])
        th, tw = out.shape[-2:]
        mh = _ramp(th, y0 == 0, y1 >= h, border[0]).view(-1, 1)
        mw = _ramp(tw, x0 == 0, x1 >= w, border[1]).view(1, -1)
        mask = torch.minimum(mh.expand(th, tw), mw.expand(th, tw)).to(x.device, x.dtype)
        ty, tx = round(y0 * factor), round(x0 * factor)
        values[:, :, :, ty : ty + th, tx : tx + tw] += out.to(x.dtype) * mask
        weight[:, :, :, ty : ty + th, tx : tx + tw] += mask
    return values / weight


def latent_frames(n_frames: int) -> int:
    """Latent frames the Wan VAE makes from n frames after 4k+1 padding."""
    return (n_frames + 2) // 4 + 1


def split_segments(segment_starts: Sequence[int], n_frames: int, max_len: int) -> list[range]:
    """Frame ranges of the segments starting at `segment_starts`, none longer than `max_len`
    (longer ones are cut into equal-as-possible pieces) and together covering every frame."""
    starts = sorted({s for s in segment_starts if 0 <= s < n_frames} | {0})
    bounds = [*starts, n_frames]
    out: list[range] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        pieces = -(-(b - a) // max_len)
        edges = [a + round(i * (b - a) / pieces) for i in range(pieces + 1)]
        out.extend(range(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]))
    return out


@dataclass(frozen=True)
class SegmentLatents:
    """Latents of separately encoded segments, concatenated along time."""

    latents: torch.Tensor  # (1, C, F, h, w), normalised
    latent_counts: tuple[int, ...]  # latent frames per segment
    frame_counts: tuple[int, ...]  # pixel frames per segment (before padding)

    @property
    def anchor_indices(self) -> list[int]:
        """Latent index of each segment's first latent frame."""
        return first_latents(self.latent_counts)


def first_latents(latent_counts: Sequence[int]) -> list[int]:
    """Latent index of each segment's first latent frame (its anchor), given the latent
    frames per segment."""
    out, pos = [], 0
    for n in latent_counts:
        out.append(pos)
        pos += n
    return out


def _encode(vae: torch.nn.Module, clip: torch.Tensor, tiles: bool) -> torch.Tensor:
    clip = clip.to(next(vae.parameters()).dtype)
    if not tiles:
        return vae.encode(clip).latent_dist.mode()
    f = vae.config.scale_factor_spatial
    size = (OFFICIAL_TILE[0] * f, OFFICIAL_TILE[1] * f)
    stride = (OFFICIAL_STRIDE[0] * f, OFFICIAL_STRIDE[1] * f)
    frames = (clip.shape[2] + 3) // 4
    return official_tiled(
        lambda t: vae.encode(t).latent_dist.mode(),
        clip,
        size,
        stride,
        1 / f,
        vae.config.z_dim,
        frames,
    )


def decode_unclamped(vae: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """diffusers' `AutoencoderKLWan._decode` (frame by frame through the causal cache)
    without its final clamp: DiffSynth blends its tiles unclamped and clamps the blend."""
    if vae.config.patch_size is not None:
        raise ValueError("decode_unclamped supports the Wan2.1 VAE (no patchify) only")
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    outs = []
    for i in range(z.shape[2]):
        vae._conv_idx = [0]
        extra = {"first_chunk": True} if i == 0 else {}
        step = x[:, :, i : i + 1]
        outs.append(vae.decoder(step, feat_cache=vae._feat_map, feat_idx=vae._conv_idx, **extra))
    vae.clear_cache()
    return torch.cat(outs, dim=2)


def _decode(vae: torch.nn.Module, z: torch.Tensor, tiles: bool) -> torch.Tensor:
    if not tiles:
        return vae.decode(z, return_dict=False)[0]
    f = vae.config.scale_factor_spatial
    frames = z.shape[2] * 4 - 3
    decode = lambda t: decode_unclamped(vae, t)  # noqa: E731
    out = official_tiled(decode, z, OFFICIAL_TILE, OFFICIAL_STRIDE, f, 3, frames)
    return out.clamp(-1, 1)


@torch.no_grad()
def encode_segments(
    vae: torch.nn.Module, video: torch.Tensor, segments: Sequence[range], tiles: bool = True
) -> SegmentLatents:
    """Encode (1, 3, T, H, W) in [-1, 1] segment by segment into normalised latents, on the
    official spatial tiles unless `tiles` is False."""
    parts, counts, frames = [], [], []
    mean, std = None, None
    for seg in segments:
        clip, _ = pad_frames_4k1(video[:, :, seg.start : seg.stop])
        with StageTimer("vae_encode"):
            mu = _encode(vae, clip, tiles)
        if mean is None:
            mean, std = latent_stats(vae, mu)
        parts.append((mu - mean) / std)
        counts.append(parts[-1].shape[2])
        frames.append(len(seg))
    return SegmentLatents(torch.cat(parts, dim=2), tuple(counts), tuple(frames))


@torch.no_grad()
def decode_segments(
    vae: torch.nn.Module,
    latents: torch.Tensor,
    latent_counts: Sequence[int],
    frame_counts: Sequence[int],
    tiles: bool = True,
) -> torch.Tensor:
    """Decode each segment's latents on its own (on the official spatial tiles unless
    `tiles` is False) and keep its real frames: (1, 3, T, H, W)."""
    out, pos = [], 0
    dtype = next(vae.parameters()).dtype
    mean, std = latent_stats(vae, latents.to(dtype))
    for n_lat, n_frames in zip(latent_counts, frame_counts):
        z = latents[:, :, pos : pos + n_lat].to(dtype) * std + mean
        with StageTimer("vae_decode"):
            out.append(_decode(vae, z, tiles)[:, :, :n_frames].float())
        pos += n_lat
    return torch.cat(out, dim=2)
