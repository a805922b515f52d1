"""The shared base of the Wan-family methods (stcdit, litevsr, simplegvr).

- `WanComponents`: denoiser + Wan VAE + prompt embedding, and how every family member builds
  and places them (random init under `vsrup.util.seeding.seeded`, `place_parts` with the VAE
  in fp32, `pretrained_vae`, `with_model` for a trained denoiser on a synthetic base);
- `WanPipeline`: the staged run prepare → encode → denoise → decode, with the whole-clip VAE
  stages and the noise draw every member uses;
- `WanMethod`: the Method class with the one `from_weights` (synthetic, trained or installed
  weights) and the per-window generator.

A member's folder keeps only what differs: its denoiser (`model.py`), its configs, its
checkpoint conversion, its component builders and the stages it overrides (`pipeline.py`).
One module, not a folder: `methods/` holds one folder per method. Importing it (as every
member's `method.py` does at registration) loads no torch: heavy imports are inside functions.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from vsrup.errors import UsageError
from vsrup.interface.method import Clip, Method, MethodOptions
from vsrup.util.placement import place

if TYPE_CHECKING:
    import torch
    from torch import nn

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime


# -- components -------------------------------------------------------------------------------


@dataclass
class WanComponents:
    """The denoiser (compute dtype), the Wan VAE (always fp32) and the prompt embedding
    (compute dtype), all on one device. Members add their own fields."""

    model: nn.Module
    vae: nn.Module
    prompt_embeds: torch.Tensor

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


PartsT = TypeVar("PartsT", bound=WanComponents)


def synthetic_vae(config: dict) -> nn.Module:
    """A randomly initialised Wan VAE (draws from the global generator: call under
    `vsrup.util.seeding.seeded`)."""
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(**config)


def pretrained_vae(base_dir: Path) -> nn.Module:
    """The base model's Wan VAE (`base_dir`/vae, diffusers layout), in fp32."""
    import torch
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan.from_pretrained(Path(base_dir) / "vae", torch_dtype=torch.float32)


def place_parts(
    model: nn.Module,
    vae: nn.Module,
    prompt_embeds: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """The parts on `device` in eval mode (`vsrup.util.placement.place`): the denoiser and
    the embedding in the compute dtype, the denoiser's `requires_grad` flags as the member set
    them (LiteVSR's adapter stays trainable for `vsrup train`); the VAE frozen, in fp32
    (numerically sensitive, and small next to the DiT)."""
    import torch

    model = place(model, device, dtype, freeze=False)
    vae = place(vae, device, torch.float32)
    return model, vae, prompt_embeds.to(device=device, dtype=dtype)


def with_model(parts: PartsT, model: nn.Module) -> PartsT:
    """The same components with `model` as the denoiser, placed where the old one was (a
    trained model loaded onto a synthetic base: `--synthetic-weights` with `--weights`)."""
    model = place(model, parts.device, parts.dtype, freeze=False)
    return dataclasses.replace(parts, model=model)


# -- the staged pipeline ----------------------------------------------------------------------


@dataclass(frozen=True)
class Crop:
    """The output frames that are real: the first `frames`, `height` × `width` pixels."""

    frames: int
    height: int
    width: int

    def apply(self, out: torch.Tensor) -> torch.Tensor:
        return out[: self.frames, :, : self.height, : self.width]


class WanPipeline(ABC, Generic[PartsT]):
    """One window of low-resolution frames through a Wan-family model."""

    def __init__(self, parts: PartsT, steps: int, scale: int) -> None:
        self.parts = parts
        self.steps = steps
        self.scale = scale

    def __call__(
        self,
        frames: torch.Tensor,
        generator: torch.Generator,
        segment_starts: Sequence[int] = (0,),
    ) -> torch.Tensor:
        """(T, 3, H, W) in [0, 1] → (T, 3, H·s, W·s) in [0, 1]. `segment_starts`: where the
        clip's motion segments begin (members that encode per segment use them)."""
        import torch

        with torch.no_grad():
            # 1. prepare: the pixels the VAE sees, and how to cut the output back to the input.
            pixels, geometry = self.prepare(frames)
            # 2. encode: the low-quality latent the denoiser is conditioned on.
            encoded = self.encode(pixels, segment_starts)
            # 3. denoise: from noise drawn by `generator` to the clean latent.
            latents = self.denoise(encoded, generator)
            # 4. decode: back to pixels, cropped to the input's frames and scaled size.
            return self.decode(latents, encoded, geometry)

    @abstractmethod
    def prepare(self, frames: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """(model-input pixels, geometry that `decode` uses to undo padding and resizing)."""

    def encode(self, pixels: torch.Tensor, segment_starts: Sequence[int]) -> Any:
        """Normalised latent of the whole clip, in the denoiser's dtype."""
        from vsrup.nn.wan.vae import encode_normalised

        del segment_starts  # one VAE pass over the clip
        return encode_normalised(self.parts.vae, pixels).to(self.parts.dtype)

    @abstractmethod
    def denoise(self, encoded: Any, generator: torch.Generator) -> torch.Tensor:
        """The clean normalised latent."""

    def decode(self, latents: torch.Tensor, encoded: Any, geometry: Any) -> torch.Tensor:
        """One VAE pass, then the real frames and pixels only (`geometry` is a `Crop`)."""
        from vsrup.nn.wan.vae import decode_normalised

        del encoded
        return geometry.apply(decode_normalised(self.parts.vae, latents))

    def noise(self, shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
        """Standard normal noise drawn in fp32 on the generator's device (so a seed gives the
        same values whatever the compute dtype), moved to the model's device and dtype."""
        import torch

        drawn = torch.randn(
            tuple(shape), generator=generator, device=generator.device, dtype=torch.float32
        )
        return drawn.to(device=self.parts.device, dtype=self.parts.dtype)


# -- the Method class -------------------------------------------------------------------------


class WanMethod(Method):
    #: True: noise is drawn by a CPU generator whatever the device (STCDiT, as its official
    #: code does, so a seed gives the same video on every device); False: on the run's device.
    cpu_noise: ClassVar[bool] = False

    def __init__(self, parts: WanComponents, runtime: Runtime, options: MethodOptions) -> None:
        self.parts = parts
        self.steps = self.steps_for(options)
        self._scale = options.scale if options.scale in self.spec.scales else self.spec.scales[0]
        self.device = runtime.torch_device
        self.runtime = runtime
        self.seed = options.seed

    @property
    def scale(self) -> int:
        return self._scale

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        if options.synthetic_weights:
            parts = cls.synthetic_parts(options.synthetic_weights, runtime, options)
            if options.weights is not None:  # trained weights on the random base
                parts = cls.with_trained(parts, options.weights, options)
        else:
            from vsrup.hub.registry import missing_weights

            for model_id in cls.weights_for(options):
                if weights is None or weights.get(model_id) is None:
                    raise missing_weights(model_id)
            assert weights is not None
            parts = cls.pretrained_parts(weights, runtime, options)
        return cls(parts, runtime, options)

    @classmethod
    def own_weights_dir(cls, weights: WeightSet, options: MethodOptions) -> Path:
        """`--weights DIR` when given, else the installed copy of the member's own weights."""
        if options.weights is not None:
            return options.weights
        assert cls.own_weights is not None
        return weights[cls.own_weights]

    @classmethod
    @abstractmethod
    def synthetic_parts(cls, size: str, runtime: Runtime, options: MethodOptions) -> Any:
        """Random components at the "tiny" or "full" size (output is noise)."""

    @classmethod
    @abstractmethod
    def pretrained_parts(cls, weights: WeightSet, runtime: Runtime, options: MethodOptions) -> Any:
        """Components from installed weights (every id of `weights_for` is present)."""

    @classmethod
    def with_trained(cls, parts: Any, directory: Path, options: MethodOptions) -> Any:
        """`parts` with the member's trained weights from `directory` (members that set
        `own_weights` or `lora_weights` override this; the engine refuses --weights for the
        others)."""
        del parts, options
        raise UsageError(f"{cls.spec.id} takes no --weights ({directory})")

    # -- running ------------------------------------------------------------------------------
    @abstractmethod
    def make_pipeline(self) -> WanPipeline:
        """The member's staged pipeline over `self.parts` with this run's settings."""

    def generator(self, position: int) -> torch.Generator:
        """Noise for the window starting at frame `position`: from (seed, position) only, so
        no generator state is carried between windows."""
        import torch

        from vsrup.engine.runtime import position_generator, position_seed

        if self.cpu_noise:
            return torch.Generator().manual_seed(position_seed(self.seed, position))
        return position_generator(self.runtime, self.seed, position)

    def process(self, clip: Clip) -> torch.Tensor:
        frames = clip.frames.to(self.device)
        return self.make_pipeline()(frames, self.generator(clip.start), clip.segment_starts)
