"""DGAFNet: DGAF-VSR's guidance U-Net (the paper's FTCM), with the official key names.

A full U-Net without attention: `conv_in_condition` over [x_t (4), LR (3), aligned previous x0
(4)] = 11 channels, its own time embedding, `DownBlock2D` encoder blocks, a two-resnet
`MidBlock2D`, `UpBlock2D` decoder blocks (layers_per_block + 1 resnets). Every encoder feature
(conv_in output, each resnet, each downsampler), the mid output, and every decoder feature
(each resnet, each upsampler) goes through its own zero-initialised 1×1 conv; the results are
added into the frozen denoising UNet at the matching points (BrushNet style, see `inject.py`).

State-dict prefixes equal the official `DGAFNetModel`'s: `conv_in_condition.`,
`time_embedding.`, `down_blocks.N.`, `mid_block.`, `up_blocks.N.`, `dgafnet_down_blocks.N.`,
`dgafnet_mid_block.`, `dgafnet_up_blocks.N.`.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.unets.unet_2d_blocks import DownBlock2D, UpBlock2D
from torch import nn

from vsrup.methods.dgaf.config import CONDITIONING_CHANNELS


def _zero_conv(channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(channels, channels, kernel_size=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class MidBlock2D(nn.Module):
    """The fork's attention-free mid block: two resnets (keys `resnets.0`, `resnets.1`)."""

    def __init__(
        self,
        channels: int,
        temb_channels: int,
        eps: float,
        groups: int,
        act_fn: str,
        output_scale_factor: float,
        time_scale_shift: str,
    ) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            [
                ResnetBlock2D(
                    in_channels=channels,
                    out_channels=channels,
                    temb_channels=temb_channels,
                    eps=eps,
                    groups=groups,
                    time_embedding_norm=time_scale_shift,
                    non_linearity=act_fn,
                    output_scale_factor=output_scale_factor,
                )
                for _ in range(2)
            ]
        )

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        for resnet in self.resnets:
            x = resnet(x, temb)
        return x


class DGAFNet(ModelMixin, ConfigMixin):
    """Constructor arguments are the official config keys (unused attention keys included,
    so an official `config.json` maps onto this class one to one)."""

    @register_to_config
    def __init__(
        self,
        in_channels: int = 7,
        conditioning_channels: int = CONDITIONING_CHANNELS,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        down_block_types: tuple[str, ...] = ("DownBlock2D",) * 4,
        mid_block_type: str = "MidBlock2D",
        up_block_types: tuple[str, ...] = ("UpBlock2D",) * 4,
        block_out_channels: tuple[int, ...] = (256, 512, 512, 1024),
        layers_per_block: int = 2,
        downsample_padding: int = 1,
        mid_block_scale_factor: float = 1,
        act_fn: str = "silu",
        norm_num_groups: int = 32,
        norm_eps: float = 1e-5,
        resnet_time_scale_shift: str = "default",
        class_embed_type: str | None = None,
        num_class_embeds: int | None = None,
        addition_embed_type: str | None = None,
        dgafnet_conditioning_channel_order: str = "rgb",
        conditioning_embedding_out_channels: tuple[int, ...] | None = (16, 32, 96, 256),
        cross_attention_dim: int = 1024,
        attention_head_dim: Any = 8,
        only_cross_attention: Any = False,
        use_linear_projection: bool = False,
    ) -> None:
        super().__init__()
        if set(down_block_types) != {"DownBlock2D"} or set(up_block_types) != {"UpBlock2D"}:
            raise ValueError("DGAFNet uses DownBlock2D/UpBlock2D blocks only")
        if mid_block_type != "MidBlock2D":
            raise ValueError(f"unsupported DGAFNet mid block {mid_block_type!r}")
        if class_embed_type or num_class_embeds or addition_embed_type:
            raise ValueError("class/addition embeddings are not used by DGAF-VSR")
        if len(block_out_channels) != len(down_block_types):
            raise ValueError("block_out_channels and down_block_types differ in length")
        c0 = block_out_channels[0]
        temb = c0 * 4
        self.conv_in_condition = nn.Conv2d(in_channels + conditioning_channels, c0, 3, padding=1)
        self.time_proj = Timesteps(c0, flip_sin_to_cos, freq_shift)
        self.time_embedding = TimestepEmbedding(c0, temb, act_fn=act_fn)
        common = {
            "temb_channels": temb,
            "resnet_eps": norm_eps,
            "resnet_act_fn": act_fn,
            "resnet_groups": norm_num_groups,
            "resnet_time_scale_shift": resnet_time_scale_shift,
        }
        n = len(block_out_channels)
        self.down_blocks = nn.ModuleList()
        self.dgafnet_down_blocks = nn.ModuleList([_zero_conv(c0)])
        out = c0
        for i in range(n):
            cin, out = out, block_out_channels[i]
            last = i == n - 1
            self.down_blocks.append(
                DownBlock2D(
                    in_channels=cin,
                    out_channels=out,
                    num_layers=layers_per_block,
                    add_downsample=not last,
                    downsample_padding=downsample_padding,
                    **common,
                )
            )
            for _ in range(layers_per_block + (0 if last else 1)):
                self.dgafnet_down_blocks.append(_zero_conv(out))
        mid = block_out_channels[-1]
        self.mid_block = MidBlock2D(
            mid,
            temb,
            norm_eps,
            norm_num_groups,
            act_fn,
            mid_block_scale_factor,
            resnet_time_scale_shift,
        )
        self.dgafnet_mid_block = _zero_conv(mid)
        rev = list(reversed(block_out_channels))
        self.up_blocks = nn.ModuleList()
        self.dgafnet_up_blocks = nn.ModuleList()
        out = rev[0]
        for i in range(n):
            last = i == n - 1
            prev, out = out, rev[i]
            cin = rev[min(i + 1, n - 1)]
            self.up_blocks.append(
                UpBlock2D(
                    in_channels=cin,
                    prev_output_channel=prev,
                    out_channels=out,
                    num_layers=layers_per_block + 1,
                    add_upsample=not last,
                    resolution_idx=i,
                    **common,
                )
            )
            for _ in range(layers_per_block + 1 + (0 if last else 1)):
                self.dgafnet_up_blocks.append(_zero_conv(out))

    @classmethod
    def from_unet(cls, unet: Any, conditioning_channels: int = CONDITIONING_CHANNELS) -> DGAFNet:
        """Initialise from the denoising UNet as the official training does: copy the UNet's
        config and its resnet/sampler weights; `conv_in_condition` = [conv_in, conv_in[:, :4]]
        with the UNet's bias; the 1×1 output convs stay zero."""
        cfg = unet.config
        net = cls(
            in_channels=cfg.in_channels,
            conditioning_channels=conditioning_channels,
            flip_sin_to_cos=cfg.flip_sin_to_cos,
            freq_shift=cfg.freq_shift,
            down_block_types=("DownBlock2D",) * len(cfg.down_block_types),
            up_block_types=("UpBlock2D",) * len(cfg.down_block_types),
            block_out_channels=tuple(cfg.block_out_channels),
            layers_per_block=cfg.layers_per_block,
            downsample_padding=cfg.downsample_padding,
            mid_block_scale_factor=cfg.mid_block_scale_factor,
            act_fn=cfg.act_fn,
            norm_num_groups=cfg.norm_num_groups,
            norm_eps=cfg.norm_eps,
            resnet_time_scale_shift=cfg.resnet_time_scale_shift,
            cross_attention_dim=cfg.cross_attention_dim,
        )
        with torch.no_grad():
            w = torch.zeros_like(net.conv_in_condition.weight)
            cin = cfg.in_channels
            w[:, :cin] = unet.conv_in.weight
            extra = min(conditioning_channels, unet.conv_in.weight.shape[1])
            w[:, cin : cin + extra] = unet.conv_in.weight[:, :extra]
            net.conv_in_condition.weight.copy_(w)
            net.conv_in_condition.bias.copy_(unet.conv_in.bias)
        net.time_embedding.load_state_dict(unet.time_embedding.state_dict())
        # strict=False: the UNet's attention weights have no counterpart here.
        net.down_blocks.load_state_dict(unet.down_blocks.state_dict(), strict=False)
        net.mid_block.load_state_dict(unet.mid_block.state_dict(), strict=False)
        net.up_blocks.load_state_dict(unet.up_blocks.state_dict(), strict=False)
        return net

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        cond: torch.Tensor,
        conditioning_scale: float = 1.0,
    ) -> tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor]]:
        """Return (down, mid, up) additions for the UNet; `sample` is the UNet's 7-channel input
        and `cond` the aligned previous x0 latent."""
        if self.config.dgafnet_conditioning_channel_order == "bgr":
            cond = torch.flip(cond, dims=[1])
        t = timestep if torch.is_tensor(timestep) else torch.tensor([timestep])
        t = t.reshape(-1).to(sample.device).expand(sample.shape[0])
        emb = self.time_embedding(self.time_proj(t).to(sample.dtype))
        h = self.conv_in_condition(torch.cat([sample, cond], dim=1))
        skips: tuple[torch.Tensor, ...] = (h,)
        for block in self.down_blocks:
            h, res = block(h, emb)
            skips += res
        down = [conv(s) for s, conv in zip(skips, self.dgafnet_down_blocks, strict=True)]
        h = self.mid_block(h, emb)
        mid = self.dgafnet_mid_block(h)
        ups: list[torch.Tensor] = []
        for i, block in enumerate(self.up_blocks):
            n = len(block.resnets)
            res, skips = skips[-n:], skips[:-n]
            size = skips[-1].shape[2:] if i < len(self.up_blocks) - 1 else None
            for resnet in block.resnets:
                h = resnet(torch.cat([h, res[-1]], dim=1), emb)
                res = res[:-1]
                ups.append(h)
            if block.upsamplers is not None:
                for upsampler in block.upsamplers:
                    h = upsampler(h, size)
                ups.append(h)
        up = [conv(s) for s, conv in zip(ups, self.dgafnet_up_blocks, strict=True)]
        s = conditioning_scale
        return [d * s for d in down], mid * s, [u * s for u in up]
