"""DLoRAL inference: one denoising step per consecutive frame pair.

For each frame (the "current" one) with its predecessor (the "previous" one), as the official
`test_DLoRAL.py` + `Generator_eval.forward` do:

1. Prepare: small frames are first resized so the short side is 128 (CFR needs ≥ 64 latents),
   then ×4 bicubic, then a Lanczos resize down to a multiple of 8; values go to [−1, 1].
2. Encode with the SD VAE (pixel tiles of ~1024 px); each frame is encoded once and reused as
   the next pair's "previous" (we take the posterior mean; the official code samples it).
3. Per latent tile (96, overlap 32, gaussian blend as the official loop): SpyNet flow at latent
   scale (the ×4 input bicubic-downsampled by 8), warp the previous latent, cross-frame
   attention into the current latent, then x0 = fused − UNet([warped, fused], t=1, prompt).
4. Decode x0 (latent tiles of ~224), clamp, AdaIN colour fix against the prepared current
   frame, and resize to exactly 4H × 4W when step 1 or the multiple-of-8 step changed the size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, UNet2DConditionModel

from vsrup.engine.tiles import tiled_apply
from vsrup.errors import WeightsError
from vsrup.methods.dloral import model as M
from vsrup.methods.dloral.convert import FILENAME, read_converted
from vsrup.util.resize import lanczos_resize

SCALE = 4
#: The official process size 512 divided by the scale: shorter inputs are enlarged first.
MIN_SHORT_SIDE = 128
DEFAULT_PROMPT = "clean, high-resolution, 8k"

VAE_FULL: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 768,
}
VAE_TINY: dict = {
    **VAE_FULL,
    "block_out_channels": (8, 8, 8, 8),
    "layers_per_block": 1,
    "norm_num_groups": 4,
    "sample_size": 64,
}
PROMPT_SHAPE = {"tiny": (1, 8, M.UNET_TINY["cross_attention_dim"]), "full": (1, 77, 1024)}


@dataclass
class Tiling:
    """Tile sizes of the official defaults: VAE encoder (pixels), decoder and UNet (latents)."""

    encoder: int = 1024
    encoder_overlap: int = 64
    decoder: int = 224
    decoder_overlap: int = 16
    latent: int = 96
    latent_overlap: int = 32
    #: Shorter LR sides are enlarged to this first (official: 512 / 4, so latents are ≥ 64).
    min_short_side: int = MIN_SHORT_SIDE


@dataclass
class Components:
    net: M.DLoRALNet
    vae: AutoencoderKL
    prompt_embeds: torch.Tensor
    dtype: torch.dtype
    #: The text encoder, kept only when the prompt is made later (DLoRAL's tags of frame 0).
    encode: Callable[[str], torch.Tensor] | None = None

    @property
    def scaling(self) -> float:
        return float(self.vae.config.scaling_factor)


@dataclass
class Prepared:
    """One frame made ready for pairing: everything a pair step needs, computed once."""

    image: torch.Tensor  # (1, 3, H', W') in [−1, 1], the ×4 bicubic input
    latent: torch.Tensor  # (1, 4, H'/8, W'/8), scaled by the VAE scaling factor
    small: torch.Tensor  # (1, 3, H'/8, W'/8): the image bicubic-downsampled by 8 (for SpyNet)
    out_size: tuple[int, int]  # (4H, 4W)


# -- building -----------------------------------------------------------------------------


def _finish(
    net: M.DLoRALNet,
    vae: AutoencoderKL,
    embeds: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> Components:
    M.merge_adapters(net.unet)
    net = net.to(device=device, dtype=dtype).eval().requires_grad_(False)
    vae = vae.to(device=device).eval().requires_grad_(False)
    if dtype != torch.float32:
        vae = vae.to(dtype=dtype)
    return Components(net, vae, embeds.to(device=device, dtype=dtype), dtype)


def synthetic_components(
    size: str, device: torch.device, dtype: torch.dtype, seed: int
) -> Components:
    """Random weights at the tiny or full config (tests, `vsrup bench`); output is noise."""
    if size not in ("tiny", "full"):
        raise ValueError(f"unknown synthetic size {size!r}")
    # Built on the target device: random init of the full UNet (866 M) is slow on a CPU.
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**(M.UNET_TINY if size == "tiny" else M.UNET_FULL))
        net = M.build_net(unet, cfr_mid_channels=8 if size == "tiny" else 64)
        with torch.no_grad():
            # peft starts lora_B at zero; random B makes the merge do real work.
            for name, p in net.unet.named_parameters():
                if ".lora_B." in name:
                    p.normal_(0.0, 0.02)
        vae = AutoencoderKL(**(VAE_TINY if size == "tiny" else VAE_FULL))
        embeds = torch.randn(PROMPT_SHAPE[size], device="cpu")
    return _finish(net, vae, embeds, device, dtype)


def _from_pretrained(cls, directory: Path):  # noqa: ANN001, ANN202
    try:
        return cls.from_pretrained(str(directory))
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"cannot load {cls.__name__} ({exc.__class__.__name__})",
            path=directory,
            hint="run: vsrup models download sd21-base",
        ) from None


def text_encoder(base_dir: Path) -> Callable[[str], torch.Tensor]:
    """A prompt → CLIP text embeddings (1, 77, 1024) function (SD 2.1's encoder, on the CPU:
    one prompt per video does not need the GPU's memory)."""
    from transformers import CLIPTextModel, CLIPTokenizer

    tokenizer = _from_pretrained(CLIPTokenizer, base_dir / "tokenizer")
    model = _from_pretrained(CLIPTextModel, base_dir / "text_encoder").eval()

    def encode(prompt: str) -> torch.Tensor:
        ids = tokenizer(
            prompt,
            max_length=tokenizer.model_max_length,
            padding="max_length",
            truncation=True,
            return_tensors="pt",
        ).input_ids
        with torch.no_grad():
            return model(ids)[0]

    return encode


def pretrained_components(
    base_dir: Path,
    dloral_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
    prompt: str,
    keep_text_encoder: bool = False,
) -> Components:
    """SD 2.1-base (diffusers layout) + our converted DLoRAL checkpoint, merged; `prompt`
    encoded. `keep_text_encoder` keeps the encoder (`Components.encode`) for a later prompt."""
    state, ranks, targets = read_converted(Path(dloral_dir) / FILENAME)
    unet = _from_pretrained(UNet2DConditionModel, Path(base_dir) / "unet")
    vae = _from_pretrained(AutoencoderKL, Path(base_dir) / "vae")
    encode = text_encoder(Path(base_dir))
    embeds = encode(prompt)
    # The official width is 64; reading it from the file lets tiny test checkpoints load too.
    mid = state.get("cfr.feat_extract.main.0.weight", torch.empty(64)).shape[0]
    net = M.build_net(unet, ranks=ranks, targets=targets, cfr_mid_channels=mid)
    M.load_stored_state(net, state, str(Path(dloral_dir) / FILENAME))
    parts = _finish(net, vae, embeds, device, dtype)
    parts.encode = encode if keep_text_encoder else None
    return parts


def components_from_state(
    unet: UNet2DConditionModel,
    vae: AutoencoderKL,
    stored: dict[str, torch.Tensor],
    ranks: dict[str, int],
    targets: dict[str, list[str]],
    embeds: torch.Tensor,
    cfr_mid_channels: int = 64,
) -> Components:
    """Assemble from in-memory parts (tests and parity: any config, CPU fp32)."""
    net = M.build_net(unet, ranks=ranks, targets=targets, cfr_mid_channels=cfr_mid_channels)
    M.load_stored_state(net, stored, "<memory>")
    return _finish(net, vae, embeds, torch.device("cpu"), torch.float32)


# -- geometry -----------------------------------------------------------------------------


def prepare_image(
    frame: torch.Tensor, min_short_side: int = MIN_SHORT_SIDE
) -> tuple[torch.Tensor, tuple[int, int]]:
    """(3, H, W) in [0, 1] → ((1, 3, H', W') in [0, 1], (4H, 4W)); H', W' multiples of 8."""
    x = frame.unsqueeze(0).float()
    h, w = x.shape[-2:]
    out_size = (SCALE * h, SCALE * w)
    if min(h, w) < min_short_side:
        s = min_short_side / min(h, w)
        x = F.interpolate(x, size=(int(s * h), int(s * w)), mode="bicubic", align_corners=False)
    x = F.interpolate(x, scale_factor=SCALE, mode="bicubic", align_corners=False).clamp(0, 1)
    hh, ww = x.shape[-2:]
    if hh % 8 or ww % 8:
        x = lanczos_resize(x, hh - hh % 8, ww - ww % 8).clamp(0, 1)
    return x, out_size


def adain(target: torch.Tensor, source: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Give `target` the per-channel mean and std of `source` (StableSR's AdaIN colour fix).

    Kept here because the engine has no colour module yet; same formula (unbiased variance)."""
    t, s = target.flatten(2), source.flatten(2)
    t_mean, t_std = t.mean(2), (t.var(2) + eps).sqrt()
    s_mean, s_std = s.mean(2), (s.var(2) + eps).sqrt()
    out = (t - t_mean[..., None]) / t_std[..., None] * s_std[..., None] + s_mean[..., None]
    return out.view_as(target)


# -- running ------------------------------------------------------------------------------


class PairRunner:
    """Runs DLoRAL on prepared frames; stateless, so the Method decides the pairing."""

    def __init__(self, parts: Components, tiling: Tiling | None = None, color: str = "adain"):
        if color not in ("adain", "none"):
            raise ValueError(f"unknown colour fix {color!r}")
        self.parts = parts
        self.tiling = tiling or Tiling()
        self.color = color

    @property
    def device(self) -> torch.device:
        return self.parts.prompt_embeds.device

    def set_prompt(self, embeds: torch.Tensor) -> None:
        """Use these text embeddings from now on (DLoRAL's tag prompt, made at frame 0)."""
        self.parts.prompt_embeds = embeds.to(device=self.device, dtype=self.parts.dtype)

    @torch.no_grad()
    def prepare(self, frame: torch.Tensor) -> Prepared:
        x, out_size = prepare_image(frame.to(self.device), self.tiling.min_short_side)
        c = (x * 2 - 1).to(self.parts.dtype)
        vae, t = self.parts.vae, self.tiling
        latent = tiled_apply(
            lambda tile: vae.encode(tile).latent_dist.mode(),
            c,
            t.encoder,
            t.encoder_overlap,
            scale=1 / 8,
            multiple=8,
        )
        small = F.interpolate(c.float(), scale_factor=1 / 8, mode="bicubic", align_corners=False)
        return Prepared(c, latent * self.parts.scaling, small.to(c.dtype), out_size)

    def _step(self, packed: torch.Tensor) -> torch.Tensor:
        """One tile: packed = [prev latent, cur latent, prev small, cur small] (14 ch)."""
        zp, zc, ip, ic = packed.split((4, 4, 3, 3), dim=1)
        return self.parts.net(zp, zc, ip, ic, self.parts.prompt_embeds)

    @torch.no_grad()
    def denoise(self, prev: Prepared, cur: Prepared) -> torch.Tensor:
        """x0 latent for `cur` given `prev` (latent tiles as the official loop places them)."""
        packed = torch.cat([prev.latent, cur.latent, prev.small, cur.small], dim=1)
        h, w = packed.shape[-2:]
        size, overlap = self.tiling.latent, self.tiling.latent_overlap
        if h * w <= size * size:  # the official loop tiles only above tile² latent pixels
            return self._step(packed)
        tile = min(size, h, w)
        return tiled_apply(self._step, packed, tile, min(overlap, tile - 1), blend="gaussian")

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        vae, t = self.parts.vae, self.tiling
        z = (latent / self.parts.scaling).to(self.parts.dtype)
        image = tiled_apply(
            lambda tile: vae.decode(tile).sample, z, t.decoder, t.decoder_overlap, scale=8
        )
        return image.clamp(-1, 1)

    @torch.no_grad()
    def run(self, prev: Prepared, cur: Prepared) -> torch.Tensor:
        """The output frame (3, 4H, 4W) in [0, 1] for `cur`."""
        out = (self.decode(self.denoise(prev, cur)).float() + 1) / 2
        if self.color == "adain":
            out = adain(out, (cur.image.float() + 1) / 2)
        out = out.clamp(0, 1)
        if tuple(out.shape[-2:]) != cur.out_size:
            down = out.shape[-2] > cur.out_size[0] or out.shape[-1] > cur.out_size[1]
            out = F.interpolate(
                out, size=cur.out_size, mode="bicubic", align_corners=False, antialias=down
            ).clamp(0, 1)
        return out[0]
