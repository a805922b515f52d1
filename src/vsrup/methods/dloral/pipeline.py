"""DLoRAL inference: one denoising step per consecutive frame pair.

For each frame (the "current" one) with its predecessor (the "previous" one), as the official
`test_DLoRAL.py` + `Generator_eval.forward` do:

1. Prepare in 8-bit images with Pillow (`imaging`): frames with a side under 128 are enlarged
   so the short side is 128 (CFR needs ≥ 64 latents), then ×4 bicubic, then a Lanczos resize
   down to multiples of 8; values go to [−1, 1].
2. Encode with the SD VAE, tiled as the official VAE hook tiles (`vsrup.nn.tiled_vae`: only
   above 1024 + 64 px, image-wide GroupNorm statistics). Each frame is encoded once and reused
   as the next pair's "previous". The latent is the posterior mean by default; `latent=sample`
   draws it as the official code does, but seeded per frame (the official draw is unseeded).
3. Per latent tile (96, overlap 32, the official Gaussian blend with its half-pixel y offset):
   SpyNet flow at latent scale, warp the previous latent, cross-frame attention into the
   current latent, then x0 = fused − UNet([warped, fused], t=1, prompt).
4. Decode x0 (tiled above 224 + 22 latents), clamp, truncate to 8 bits, AdaIN colour fix
   against the prepared current frame on the 8-bit images (truncated again), and a Pillow
   bicubic resize back to 4H × 4W when step 1 enlarged the frame. When only the multiple-of-8
   step changed the size (odd input sides), the official output stays 4 px short; we resize
   it to 4H × 4W the same way, so every output has the requested size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, UNet2DConditionModel

from vsrup.engine.tiles import tiled_apply
from vsrup.methods.dloral import imaging
from vsrup.methods.dloral import model as M
from vsrup.methods.dloral.config import (
    BASE_ID,
    MIN_SHORT_SIDE,
    PROMPT_SHAPE,
    SCALE,
    UNET_FULL,
    UNET_TINY,
    VAE_FULL,
    VAE_TINY,
    Tiling,
)
from vsrup.methods.dloral.convert import FILENAME, read_converted
from vsrup.methods.sd_family import (
    SYNTHETIC_SIZES,
    SDComponents,
    SDPipeline,
    Snapshot,
    place,
    posterior_latent,
    to_model_range,
    vae_dtype,
    vae_input,
)
from vsrup.nn import tiled_vae
from vsrup.nn.clip_text import load_prompt_encoder
from vsrup.util.seeding import seeded
from vsrup.util.timing import StageTimer

#: DLoRAL's VAE runs in the run's dtype, fp16 included, as the official code does.
UPCAST_VAE = False


@dataclass
class Components(SDComponents):
    net: M.DLoRALNet
    vae: AutoencoderKL
    prompt_embeds: torch.Tensor
    dtype: torch.dtype
    #: The text encoder, kept only when the prompt is made later (DLoRAL's tags of frame 0).
    encode: Callable[[str], torch.Tensor] | None = None


@dataclass
class Prepared:
    """One frame made ready for pairing: everything a pair step needs, computed once."""

    image: torch.Tensor  # (1, 3, H', W') in [−1, 1], the ×4 bicubic input
    latent: torch.Tensor  # (1, 4, H'/8, W'/8), scaled by the VAE scaling factor
    small: torch.Tensor  # (1, 3, H'/8, W'/8): the image bicubic-downsampled by 8 (for SpyNet)
    out_size: tuple[int, int]  # (4H, 4W)
    source: np.ndarray | None = None  # (H', W', 3) uint8: the prepared frame, for AdaIN


# -- building -----------------------------------------------------------------------------


def _finish(
    net: M.DLoRALNet,
    vae: AutoencoderKL,
    embeds: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> Components:
    M.merge_adapters(net.unet)
    net = place(net, device, dtype)
    vae = place(vae, device, vae_dtype(dtype, UPCAST_VAE))
    return Components(net, vae, embeds.to(device=device, dtype=dtype), dtype)


def synthetic_components(
    size: str, device: torch.device, dtype: torch.dtype, seed: int
) -> Components:
    """Random weights at the tiny or full config (tests, `vsrup bench`); output is noise."""
    if size not in SYNTHETIC_SIZES:
        raise ValueError(f"unknown synthetic size {size!r}")
    # Built on the target device: random init of the full UNet (866 M) is slow on a CPU.
    with seeded(seed), torch.device(device):
        unet = UNet2DConditionModel(**(UNET_TINY if size == "tiny" else UNET_FULL))
        net = M.build_net(unet, cfr_mid_channels=8 if size == "tiny" else 64)
        with torch.no_grad():
            # peft starts lora_B at zero; random B makes the merge do real work.
            for name, p in net.unet.named_parameters():
                if ".lora_B." in name:
                    p.normal_(0.0, 0.02)
        vae = AutoencoderKL(**(VAE_TINY if size == "tiny" else VAE_FULL))
        embeds = torch.randn(PROMPT_SHAPE[size], device="cpu")
    return _finish(net, vae, embeds, device, dtype)


def pretrained_components(
    base_dir: Path,
    dloral_dir: Path,
    device: torch.device,
    dtype: torch.dtype,
    prompt: str,
    keep_text_encoder: bool = False,
) -> Components:
    """Our converted DLoRAL checkpoint (the whole UNet, as the official loader reads it from
    model.pkl) + SD 2.1-base's VAE and text encoder; `prompt` encoded. Only the UNet's config
    comes from sd21-base. `keep_text_encoder` keeps the encoder (`Components.encode`)."""
    path = Path(dloral_dir) / FILENAME
    state, ranks, targets = read_converted(path)
    base = Snapshot(Path(base_dir), BASE_ID)
    config = base.config(UNet2DConditionModel, "unet")
    vae = base.load(AutoencoderKL, "vae", torch.float32)
    # On the CPU: one prompt per clip does not need the GPU's memory.
    encode = load_prompt_encoder(base.root, BASE_ID)
    embeds = encode(prompt)
    # The official width is 64; reading it from the file lets tiny test checkpoints load too.
    mid = state.get("cfr.feat_extract.main.0.weight", torch.empty(64)).shape[0]
    with torch.device("meta"):  # every tensor comes from the file: no random init
        unet = UNet2DConditionModel.from_config(config)
        net = M.build_net(unet, ranks=ranks, targets=targets, cfr_mid_channels=mid)
    M.load_stored_state(net, state, str(path))
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
    """(3, H, W) in [0, 1] → ((1, 3, H', W') in [0, 1], (4H, 4W)): the official 8-bit steps
    (see `imaging.prepare`); H', W' are multiples of 8."""
    h, w = frame.shape[-2:]
    image, _ = imaging.prepare(imaging.to_uint8(frame), min_short_side)
    return imaging.from_uint8(image).to(frame.device), (SCALE * h, SCALE * w)


def latent_seed(seed: int, index: int) -> int:
    """The generator seed of frame `index`'s posterior sample (`latent=sample`)."""
    return (seed * 1_000_003 + index) % (2**63)


# -- running ------------------------------------------------------------------------------


class PairRunner(SDPipeline):
    """DLoRAL's staged pipeline (`sd_family.SDPipeline`): a window of frames through
    prepare → encode → denoise → decode, one denoising step per frame pair (`pairs`). It keeps
    nothing between calls, so any window gives the same frames.

    A frame is prepared and encoded once (`prepare` runs stages 1 and 2 for it), as it is the
    "current" frame of its own pair and the "previous" one of the next. `run` takes one pair
    through stages 3 and 4.

    `latent` is "mean" (the posterior mean: deterministic, our default) or "sample" (a draw
    from the posterior as the official code makes, seeded by `seed` and the frame index)."""

    def __init__(
        self,
        parts: Components,
        tiling: Tiling | None = None,
        color: str = "adain",
        latent: str = "mean",
        seed: int = 0,
    ):
        if color not in ("adain", "none"):
            raise ValueError(f"unknown colour fix {color!r}")
        if latent not in ("mean", "sample"):
            raise ValueError(f"unknown latent choice {latent!r}")
        self.parts = parts
        self.tiling = tiling or Tiling()
        self.color = color
        self.latent = latent
        self.seed = seed

    @property
    def device(self) -> torch.device:
        return self.parts.prompt_embeds.device

    @property
    def _park(self) -> torch.device | None:
        """Where VAE tiles wait for each other: host memory when the model is on a GPU."""
        return torch.device("cpu") if self.device.type != "cpu" else None

    def set_prompt(self, embeds: torch.Tensor) -> None:
        """Use these text embeddings from now on (DLoRAL's tag prompt, made at frame 0)."""
        self.parts.prompt_embeds = embeds.to(device=self.device, dtype=self.parts.dtype)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, start: int = 0, context: int = 0) -> torch.Tensor:
        """(T, 3, H, W) in [0, 1], frame `start` of the video first, the first `context` of
        them only there to be "previous" → (T − context, 3, 4H, 4W) in [0, 1] (8-bit values)
        for the others."""
        # 1. prepare and 2. encode, once per frame (see `prepare`).
        prepared = [self.prepare(frame, start + i) for i, frame in enumerate(frames)]
        outputs = []
        for prev, cur in pairs(prepared, context):
            # 3. denoise: one step from the pair's latents to the current frame's x0.
            x0 = self.denoise(prev, cur)
            # 4. decode: the VAE, then the official 8-bit finish (colour fix, size).
            outputs.append(self.finish(self.decode(x0), cur))
        return torch.stack(outputs)

    @torch.no_grad()
    def prepare(self, frame: torch.Tensor, index: int = 0) -> Prepared:
        """Frame `index` of the video, (3, H, W) in [0, 1], made ready for pairing: the
        official 8-bit steps (`imaging.prepare`) to the ×4 input in [−1, 1], then its stage 2
        (`encode`)."""
        h, w = frame.shape[-2:]
        source, _ = imaging.prepare(imaging.to_uint8(frame), self.tiling.min_short_side)
        image = to_model_range(imaging.from_uint8(source).to(self.device)).to(self.parts.dtype)
        latent, small = self.encode(image, index)
        return Prepared(image, latent, small, (SCALE * h, SCALE * w), source)

    @torch.no_grad()
    def encode(self, image: torch.Tensor, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame `index`'s ×4 input (1, 3, H', W') in [−1, 1] → its scaled latent (the tiled
        VAE encode; the posterior mean, or a draw seeded by the frame) and the image
        bicubic-downsampled by 8, which SpyNet reads."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        with StageTimer("vae_encode"):
            moments = tiled_vae.encode_moments(
                self.parts.vae, image, self.tiling.encoder, self._park
            )
        gen = None
        if self.latent == "sample":
            gen = torch.Generator().manual_seed(latent_seed(self.seed, index))
        latent = posterior_latent(self.parts.vae, DiagonalGaussianDistribution(moments), gen)
        small = F.interpolate(
            image.float(), scale_factor=1 / 8, mode="bicubic", align_corners=False
        )
        return latent, small.to(image.dtype)

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
        with StageTimer("denoise"):
            if h * w <= size * size:  # the official loop tiles only above tile² latent pixels
                return self._step(packed)
            tile = min(size, h, w)
            return tiled_apply(
                self._step, packed, tile, min(overlap, tile - 1), blend="gaussian_offset_y"
            )

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Image in [−1, 1], in the model's dtype (the official code truncates from it)."""
        z = vae_input(self.parts.vae, latent)
        with StageTimer("vae_decode"):
            image = tiled_vae.decode(self.parts.vae, z, self.tiling.decoder, self._park)
        return image.clamp(-1, 1)

    def finish(self, image: torch.Tensor, cur: Prepared) -> torch.Tensor:
        """A decoded image of `cur` → the output frame (3, 4H, 4W) in [0, 1] (8-bit values):
        truncated to 8 bits, colour-fixed against the prepared frame, resized to 4H × 4W."""
        image = imaging.truncate(image.cpu() * 0.5 + 0.5)
        if self.color == "adain":
            if cur.source is None:
                raise ValueError("the colour fix needs the prepared 8-bit frame")
            image = imaging.adain_8bit(image, cur.source)
        image = imaging.resize_bicubic(image, *cur.out_size)
        return imaging.from_uint8(image)[0].to(self.device)

    @torch.no_grad()
    def run(self, prev: Prepared, cur: Prepared) -> torch.Tensor:
        """The output frame (3, 4H, 4W) in [0, 1] (8-bit values) for `cur`: stages 3 and 4 of
        one pair."""
        return self.finish(self.decode(self.denoise(prev, cur)), cur)


def pairs(prepared: list[Prepared], context: int) -> Iterator[tuple[Prepared, Prepared]]:
    """(previous, current) for every frame from `context` on: the frame before it; the
    video's frame 0 (a window without context) is paired with its successor (1, 0), a lone
    frame with itself (see `method`)."""
    for i in range(context, len(prepared)):
        if i > 0:
            yield prepared[i - 1], prepared[i]  # at i == context: the context frame
        elif len(prepared) > 1:
            yield prepared[1], prepared[0]
        else:
            yield prepared[0], prepared[0]
