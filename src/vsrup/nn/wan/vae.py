"""Wan2.1 VAE helpers: normalised latents, 4k+1 padding, and segment-wise encode/decode.

Motion-aware encoding (STCDiT) runs the causal Wan VAE separately on each motion segment, so
a camera cut or fast pan never shares a temporal convolution window with the frames before it.
Each segment of n frames is padded to 4k+1 frames by repeating its last frame, encoded on its
own, and its latents are concatenated; the first latent of every segment is a full (intra)
encoding of that segment's first frame: the segment's anchor-frame latent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


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
        out, pos = [], 0
        for n in self.latent_counts:
            out.append(pos)
            pos += n
        return out


@torch.no_grad()
def encode_segments(
    vae: torch.nn.Module, video: torch.Tensor, segments: Sequence[range]
) -> SegmentLatents:
    """Encode (1, 3, T, H, W) in [-1, 1] segment by segment into normalised latents."""
    parts, counts, frames = [], [], []
    mean, std = None, None
    for seg in segments:
        clip, _ = pad_frames_4k1(video[:, :, seg.start : seg.stop])
        mu = vae.encode(clip.to(next(vae.parameters()).dtype)).latent_dist.mode()
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
) -> torch.Tensor:
    """Decode each segment's latents on its own and keep its real frames: (1, 3, T, H, W)."""
    out, pos = [], 0
    dtype = next(vae.parameters()).dtype
    mean, std = latent_stats(vae, latents.to(dtype))
    for n_lat, n_frames in zip(latent_counts, frame_counts):
        z = latents[:, :, pos : pos + n_lat].to(dtype) * std + mean
        out.append(vae.decode(z, return_dict=False)[0][:, :, :n_frames].float())
        pos += n_lat
    return torch.cat(out, dim=2)
