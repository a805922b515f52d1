"""RAFT-large optical flow, with torchvision's exact state-dict key names.

torchvision does not import beside our torch build, so this is our own implementation of the
architecture `torchvision.models.optical_flow.raft_large` builds (learned from its public
source). Its parameter names match torchvision's one for one, so the published
`raft_large_*.pth` state dicts load without edits (`load_raft`).

One deliberate knob, `context_norm`:

- ``"per_sample"`` (default): StableVSR and DGAF-VSR never call ``.eval()`` on RAFT, so the
  context encoder's BatchNorm layers normalise with batch statistics. They run one image pair
  at a time, and BatchNorm over a batch of one is instance normalisation with the BatchNorm's
  affine parameters; this mode computes exactly that *per sample*, so batching pairs here gives
  the same flows as the official one-pair-at-a-time calls.
- ``"running"``: the usual eval-mode BatchNorm with the stored running statistics.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import check_keys, save_state_dict

CONTEXT_NORMS = ("per_sample", "running")


class ContextBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d (same keys) whose statistics are chosen by `mode`, never by train/eval."""

    mode: str = "per_sample"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "per_sample":
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
        )


def _norm(kind: str, channels: int) -> nn.Module | None:
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # no affine, no running stats: no keys
    if kind == "batch":
        return ContextBatchNorm(channels)
    return None


def conv_norm_act(
    cin: int,
    cout: int,
    kernel: int | tuple[int, int],
    stride: int = 1,
    norm: str = "none",
    act: bool = True,
) -> nn.Sequential:
    """torchvision's Conv2dNormActivation layout: indices 0 conv, 1 norm (if any), then ReLU."""
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride=stride, padding=(k[0] // 2, k[1] // 2), bias=True)
    ]
    n = _norm(norm, cout)
    if n is not None:
        layers.append(n)
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: str, stride: int = 1) -> None:
        super().__init__()
        self.convnormrelu1 = conv_norm_act(cin, cout, 3, stride, norm)
        self.convnormrelu2 = conv_norm_act(cout, cout, 3, 1, norm)
        self.downsample: nn.Module = (
            nn.Identity() if stride == 1 else conv_norm_act(cin, cout, 1, stride, norm, act=False)
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convnormrelu2(self.convnormrelu1(x))
        return self.relu(self.downsample(x) + y)


class FeatureEncoder(nn.Module):
    """Downsamples by 8: a 7×7 stride-2 conv, three pairs of residual blocks, a 1×1 conv."""

    def __init__(self, norm: str, layers: tuple[int, ...] = (64, 64, 96, 128, 256)) -> None:
        super().__init__()
        self.convnormrelu = conv_norm_act(3, layers[0], 7, 2, norm)
        strides = (1, 2, 2)
        for i, stride in enumerate(strides):
            cin, cout = layers[i], layers[i + 1]
            pair = nn.Sequential(
                ResidualBlock(cin, cout, norm, stride), ResidualBlock(cout, cout, norm, 1)
            )
            setattr(self, f"layer{i + 1}", pair)
        self.conv = nn.Conv2d(layers[3], layers[4], kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convnormrelu(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv(x)


class MotionEncoder(nn.Module):
    def __init__(self, corr_channels: int) -> None:
        super().__init__()
        self.convcorr1 = conv_norm_act(corr_channels, 256, 1)
        self.convcorr2 = conv_norm_act(256, 192, 3)
        self.convflow1 = conv_norm_act(2, 128, 7)
        self.convflow2 = conv_norm_act(128, 64, 3)
        self.conv = conv_norm_act(192 + 64, 128 - 2, 3)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        c = self.convcorr2(self.convcorr1(corr))
        f = self.convflow2(self.convflow1(flow))
        return torch.cat([self.conv(torch.cat([c, f], dim=1)), flow], dim=1)


class ConvGRU(nn.Module):
    def __init__(self, input_size: int, hidden: int, kernel: tuple[int, int]) -> None:
        super().__init__()
        pad = (kernel[0] // 2, kernel[1] // 2)
        for name in ("convz", "convr", "convq"):
            setattr(self, name, nn.Conv2d(hidden + input_size, hidden, kernel, padding=pad))

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(self.convz(hx))
        r = torch.sigmoid(self.convr(hx))
        q = torch.tanh(self.convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q


class RecurrentBlock(nn.Module):
    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.convgru1 = ConvGRU(input_size, hidden, (1, 5))
        self.convgru2 = ConvGRU(input_size, hidden, (5, 1))
        self.hidden_size = hidden

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.convgru2(self.convgru1(h, x), x)


class FlowHead(nn.Module):
    def __init__(self, cin: int, hidden: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, hidden, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    def __init__(self, corr_channels: int, hidden: int = 128, context: int = 128) -> None:
        super().__init__()
        self.motion_encoder = MotionEncoder(corr_channels)
        self.recurrent_block = RecurrentBlock(128 + context, hidden)
        self.flow_head = FlowHead(hidden, 256)
        self.hidden_state_size = hidden

    def forward(
        self, h: torch.Tensor, context: torch.Tensor, corr: torch.Tensor, flow: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([context, self.motion_encoder(flow, corr)], dim=1)
        h = self.recurrent_block(h, x)
        return h, self.flow_head(h)


class MaskPredictor(nn.Module):
    def __init__(self, cin: int = 128, hidden: int = 256, multiplier: float = 0.25) -> None:
        super().__init__()
        self.convrelu = conv_norm_act(cin, hidden, 3)
        self.conv = nn.Conv2d(hidden, 8 * 8 * 9, 1, padding=0)
        self.multiplier = multiplier  # RAFT's gradient down-weighting, kept for equal outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multiplier * self.conv(self.convrelu(x))


def _coords_grid(b: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    return torch.stack((xs, ys), dim=0).float()[None].repeat(b, 1, 1, 1)


def _sample_abs(img: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """grid_sample with absolute pixel coordinates (align_corners=True normalisation)."""
    h, w = img.shape[-2:]
    gx = 2 * coords[..., :1] / (w - 1) - 1
    gy = 2 * coords[..., 1:] / (h - 1) - 1
    return F.grid_sample(img, torch.cat([gx, gy], dim=-1), mode="bilinear", align_corners=True)


class CorrPyramid:
    """All-pairs correlation volume, pooled into `levels` levels, looked up in a radius."""

    def __init__(self, f1: torch.Tensor, f2: torch.Tensor, levels: int = 4, radius: int = 4):
        b, c, h, w = f1.shape
        corr = torch.matmul(f1.view(b, c, h * w).transpose(1, 2), f2.view(b, c, h * w))
        corr = (corr / torch.sqrt(torch.tensor(float(c)))).reshape(b * h * w, 1, h, w)
        self.pyramid = [corr]
        for _ in range(levels - 1):
            corr = F.avg_pool2d(corr, kernel_size=2, stride=2)
            self.pyramid.append(corr)
        self.radius = radius

    def lookup(self, coords: torch.Tensor) -> torch.Tensor:
        r = self.radius
        d = torch.linspace(-r, r, 2 * r + 1, device=coords.device)
        delta = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1).view(1, 2 * r + 1, -1, 2)
        b, _, h, w = coords.shape
        centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
        out = []
        for level in self.pyramid:
            out.append(_sample_abs(level, centre + delta).view(b, h, w, -1))
            centre = centre / 2
        return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


def upsample_flow(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Convex upsampling ×8: each fine pixel is a softmax-weighted mix of 3×3 coarse ones."""
    b, _, h, w = flow.shape
    mask = torch.softmax(mask.view(b, 1, 9, 8, 8, h, w), dim=2)
    patches = F.unfold(8 * flow, kernel_size=3, padding=1).view(b, 2, 9, 1, 1, h, w)
    up = torch.sum(mask * patches, dim=2)
    return up.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, 8 * h, 8 * w)


class RAFT(nn.Module):
    """RAFT-large. `forward(image1, image2)` returns the final flow (B, 2, H, W) from 1 to 2."""

    def __init__(self, context_norm: str = "per_sample", levels: int = 4, radius: int = 4):
        super().__init__()
        self.feature_encoder = FeatureEncoder("instance")
        self.context_encoder = FeatureEncoder("batch")
        self.levels, self.radius = levels, radius
        self.update_block = UpdateBlock(levels * (2 * radius + 1) ** 2)
        self.mask_predictor = MaskPredictor()
        self.set_context_norm(context_norm)

    def set_context_norm(self, mode: str) -> None:
        if mode not in CONTEXT_NORMS:
            raise ValueError(f"unknown context_norm {mode!r}; use one of {CONTEXT_NORMS}")
        for m in self.context_encoder.modules():
            if isinstance(m, ContextBatchNorm):
                m.mode = mode

    def forward(
        self, image1: torch.Tensor, image2: torch.Tensor, num_flow_updates: int = 12
    ) -> torch.Tensor:
        b, _, h, w = image1.shape
        if h % 8 or w % 8 or min(h, w) < 128:
            # Below 128 px the coarsest correlation level is 1 px wide and its lookup divides
            # by zero (torchvision documents the same minimum size).
            raise ValueError(f"RAFT needs sides divisible by 8 and at least 128, got {h}x{w}")
        f1, f2 = torch.chunk(self.feature_encoder(torch.cat([image1, image2], dim=0)), 2, dim=0)
        corr = CorrPyramid(f1, f2, self.levels, self.radius)
        ctx = self.context_encoder(image1)
        hidden = self.update_block.hidden_state_size
        h_state, context = torch.split(ctx, [hidden, ctx.shape[1] - hidden], dim=1)
        h_state, context = torch.tanh(h_state), F.relu(context)
        coords0 = _coords_grid(b, h // 8, w // 8, f1.device).to(f1.dtype)
        coords1 = coords0.clone()
        for _ in range(num_flow_updates):
            feats = corr.lookup(coords1)
            h_state, delta = self.update_block(h_state, context, feats, coords1 - coords0)
            coords1 = coords1 + delta
        # Only the last prediction is used, so only it is upsampled (same values as torchvision).
        return upsample_flow(coords1 - coords0, self.mask_predictor(h_state))


def load_raft(path: Path, device: str = "cpu", context_norm: str = "per_sample") -> RAFT:
    """Build RAFT-large and load a torchvision-layout state dict (.pth or .safetensors)."""
    if not path.is_file():
        raise WeightsError("RAFT weights file is missing", path=path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = RAFT(context_norm=context_norm)
    load_strict(model, state, path)
    return model.to(device).eval().requires_grad_(False)


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], path: Path | None) -> None:
    """Load a state dict, naming every missing/unexpected key and shape mismatch."""
    check_keys(state, model.state_dict(), what="state dict", path=path)
    model.load_state_dict(state, strict=True)


def convert_raft(src: Path, dst_dir: Path) -> Path:
    """models.toml converter for `raft-large`: torchvision .pth -> model.safetensors."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    load_strict(RAFT(), state, src)  # check every key and shape before writing anything
    dst_dir.mkdir(parents=True, exist_ok=True)
    return save_state_dict(state, dst_dir / "model.safetensors")
