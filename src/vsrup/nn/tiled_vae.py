"""Stable Diffusion VAE encoder/decoder in tiles with image-wide GroupNorm statistics.

This is the tiling DLoRAL's official inference uses (its `VAEHook`, the "Tiled VAE" of
multidiffusion-upscaler): every convolution runs per tile, but GroupNorm does not normalise a
tile by its own statistics. All tiles run up to the next GroupNorm, each tile's per-group
variance and mean (over the tile *with* its padding) are combined, weighted by the tile's
pixel count, and every tile is normalised with that one combined estimate. Attention in the
mid block stays within a tile. Its geometry, reproduced here:

- no tiling while the longer side is at most `tile + 2·pad` (pad 32 px for the encoder,
  11 latents for the decoder);
- ⌈(side − 2·pad) / tile⌉ tiles per axis, their size shrunk to the even split and rounded
  up to a multiple of 32/16/…/2 when that stays within `tile`;
- each tile is read with `pad` extra on every side and written back without it, tiles next
  to a border keeping the border strip.

Each tile is a Python generator that yields at every GroupNorm its statistics and receives
the combined ones; the driver advances all tiles in lock-step. Between GroupNorms the tiles'
activations can be parked on the host (`park`), so device memory holds one tile's work.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import torch
import torch.nn.functional as F
from torch import nn

#: Padding around each tile: pixels for the encoder, latents for the decoder (official values).
ENCODER_PAD, DECODER_PAD = 32, 11
SCALE = 8

Box = tuple[int, int, int, int]  # x0, x1, y0, y1
Stats = tuple[torch.Tensor, torch.Tensor, int]  # var, mean (per group), pixels
TileRun = Generator[Stats, tuple[torch.Tensor, torch.Tensor], torch.Tensor]


def needs_tiles(height: int, width: int, tile: int, pad: int) -> bool:
    return max(height, width) > tile + 2 * pad


def _best_tile_size(lower: int, upper: int) -> int:
    """Round `lower` up to a multiple of 32 (else 16, 8, 4, 2) when that stays ≤ `upper`."""
    divider = 32
    while divider >= 2:
        if lower % divider == 0:
            return lower
        candidate = lower - lower % divider + divider
        if candidate <= upper:
            return candidate
        divider //= 2
    return lower


def split_tiles(
    height: int, width: int, tile: int, pad: int, decoder: bool
) -> list[tuple[Box, Box]]:
    """(input box with padding, output box) per tile, row by row; output boxes are in the
    output's units (×8 for the decoder, ÷8 for the encoder)."""
    rows = max(math.ceil((height - 2 * pad) / tile), 1)
    cols = max(math.ceil((width - 2 * pad) / tile), 1)
    tile_h = _best_tile_size(math.ceil((height - 2 * pad) / rows), tile)
    tile_w = _best_tile_size(math.ceil((width - 2 * pad) / cols), tile)
    out = []
    for i in range(rows):
        for j in range(cols):
            core = (
                pad + j * tile_w,
                min(pad + (j + 1) * tile_w, width),
                pad + i * tile_h,
                min(pad + (i + 1) * tile_h, height),
            )
            # A tile next to a border also owns the border strip.
            kept = (
                core[0] if core[0] > pad else 0,
                core[1] if core[1] < width - pad else width,
                core[2] if core[2] > pad else 0,
                core[3] if core[3] < height - pad else height,
            )
            scaled = tuple(v * SCALE if decoder else v // SCALE for v in kept)
            read = (
                max(0, core[0] - pad),
                min(width, core[1] + pad),
                max(0, core[2] - pad),
                min(height, core[3] + pad),
            )
            out.append((read, scaled))
    return out


# -- one tile, as a generator that pauses at every GroupNorm ---------------------------------


class _Tile:
    """Runs one tile; `park` is where activations wait while the other tiles catch up."""

    def __init__(self, park: torch.device | None) -> None:
        self.park = park

    def _away(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.park is None else x.to(self.park)

    def norm(self, layer: nn.GroupNorm, x: torch.Tensor) -> TileRun:
        groups = layer.num_groups
        b, c = x.shape[:2]
        grouped = x.contiguous().view(1, b * groups, c // groups, *x.shape[2:])
        var, mean = torch.var_mean(grouped, dim=[0, 2, 3, 4], unbiased=False)
        device, x = x.device, self._away(x)
        var, mean = yield var, mean, x.shape[2] * x.shape[3]
        x = x.to(device)
        grouped = x.contiguous().view(1, b * groups, c // groups, *x.shape[2:])
        y = F.batch_norm(grouped, mean, var, training=False, momentum=0, eps=layer.eps)
        y = y.view(x.shape)
        if layer.affine:
            y = y * layer.weight.view(1, -1, 1, 1) + layer.bias.view(1, -1, 1, 1)
        return y

    def resnet(self, block: nn.Module, x: torch.Tensor) -> TileRun:
        shortcut = getattr(block, "conv_shortcut", None)
        residual = self._away(x if shortcut is None else shortcut(x))
        h = yield from self.norm(block.norm1, x)
        h = block.conv1(F.silu(h))
        h = yield from self.norm(block.norm2, h)
        h = block.conv2(F.silu(h))
        return h + residual.to(h.device)

    def attention(self, attn: nn.Module, x: torch.Tensor) -> TileRun:
        """diffusers' VAE attention (one head per block in SD) within this tile only."""
        residual = self._away(x)
        h = yield from self.norm(attn.group_norm, x)
        b, c, height, width = h.shape
        seq = h.view(b, c, height * width).transpose(1, 2)
        heads = attn.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, -1, heads, t.shape[-1] // heads).transpose(1, 2)

        q, k, v = split(attn.to_q(seq)), split(attn.to_k(seq)), split(attn.to_v(seq))
        o = F.scaled_dot_product_attention(q, k, v, scale=attn.scale)
        o = attn.to_out[0](o.transpose(1, 2).reshape(b, height * width, -1))
        o = o.transpose(1, 2).reshape(b, c, height, width)
        return o / attn.rescale_output_factor + residual.to(o.device)

    def mid(self, block: nn.Module, x: torch.Tensor) -> TileRun:
        x = yield from self.resnet(block.resnets[0], x)
        for attn, resnet in zip(block.attentions, block.resnets[1:]):
            if attn is not None:
                x = yield from self.attention(attn, x)
            x = yield from self.resnet(resnet, x)
        return x

    def out(self, net: nn.Module, x: torch.Tensor) -> TileRun:
        x = yield from self.norm(net.conv_norm_out, x)
        return net.conv_out(F.silu(x))

    def encoder(self, net: nn.Module, x: torch.Tensor) -> TileRun:
        x = net.conv_in(x)
        for block in net.down_blocks:
            for resnet in block.resnets:
                x = yield from self.resnet(resnet, x)
            if block.downsamplers:
                x = block.downsamplers[0](x)
        x = yield from self.mid(net.mid_block, x)
        return (yield from self.out(net, x))

    def decoder(self, net: nn.Module, x: torch.Tensor) -> TileRun:
        x = net.conv_in(x)
        x = yield from self.mid(net.mid_block, x)
        for block in net.up_blocks:
            for resnet in block.resnets:
                x = yield from self.resnet(resnet, x)
            if block.upsamplers:
                x = block.upsamplers[0](x)
        return (yield from self.out(net, x))


def _combine(stats: list[Stats]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-weighted average of the tiles' variances and means (the official estimate: not
    the exact variance of the union, and padded strips count in every tile that reads them)."""
    var = torch.vstack([s[0] for s in stats])
    mean = torch.vstack([s[1] for s in stats])
    pixels = torch.tensor([s[2] for s in stats], dtype=torch.float32, device=var.device)
    pixels = pixels / pixels.max()
    weights = (pixels / pixels.sum()).unsqueeze(1)
    return (var * weights).sum(0), (mean * weights).sum(0)


@torch.no_grad()
def tiled_run(
    net: nn.Module, x: torch.Tensor, tile: int, decoder: bool, park: torch.device | None = None
) -> torch.Tensor:
    """`net` (a diffusers VAE Encoder or Decoder) on `x`, tiled as described above; the whole
    image at once when it is small enough."""
    pad = DECODER_PAD if decoder else ENCODER_PAD
    height, width = x.shape[-2:]
    if not needs_tiles(height, width, tile, pad):
        return net(x)
    boxes = split_tiles(height, width, tile, pad, decoder)
    runs = []
    for read, _ in boxes:
        worker = _Tile(park)
        part = x[..., read[2] : read[3], read[0] : read[1]]
        runs.append(worker.decoder(net, part) if decoder else worker.encoder(net, part))
    pending = [run.send(None) for run in runs]
    outputs: list[torch.Tensor | None] = [None] * len(runs)
    while pending:
        combined = _combine(pending)
        pending = []
        for i, run in enumerate(runs):
            try:
                pending.append(run.send(combined))
            except StopIteration as done:
                outputs[i] = done.value
    factor = SCALE if decoder else 1 / SCALE
    result: torch.Tensor | None = None
    for (read, kept), tile_out in zip(boxes, outputs):
        assert tile_out is not None
        if result is None:
            size = (int(height * factor), int(width * factor))
            result = tile_out.new_zeros(*tile_out.shape[:2], *size)
        # Where the kept box starts inside the tile read with padding.
        top = kept[2] - (read[2] * SCALE if decoder else read[2] // SCALE)
        left = kept[0] - (read[0] * SCALE if decoder else read[0] // SCALE)
        h, w = kept[3] - kept[2], kept[1] - kept[0]
        result[..., kept[2] : kept[3], kept[0] : kept[1]] = tile_out[
            ..., top : top + h, left : left + w
        ]
    assert result is not None
    return result


def encode_moments(vae: nn.Module, image: torch.Tensor, tile: int, park=None) -> torch.Tensor:  # noqa: ANN001
    """The posterior parameters (mean ‖ log-variance) of an `AutoencoderKL` for `image`."""
    h = tiled_run(vae.encoder, image, tile, decoder=False, park=park)
    return vae.quant_conv(h) if getattr(vae, "quant_conv", None) is not None else h


def decode(vae: nn.Module, latent: torch.Tensor, tile: int, park=None) -> torch.Tensor:  # noqa: ANN001
    """An `AutoencoderKL`'s decoder on an unscaled latent."""
    if getattr(vae, "post_quant_conv", None) is not None:
        latent = vae.post_quant_conv(latent)
    return tiled_run(vae.decoder, latent, tile, decoder=True, park=park)
