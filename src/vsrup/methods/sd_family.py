"""The shared base of the Stable Diffusion family (stablevsr, dgaf, dloral).

- `Snapshot`: a diffusers-layout folder (`unet/`, `vae/`, `scheduler/`, `text_encoder/`,
  `tokenizer/`) of one registry entry, and every way a member reads it: the folders it needs
  (one-line WeightsError naming the folder), a network loaded with every key and shape
  checked (`load`; diffusers alone only warns and initialises a missing weight randomly), a
  config without weights, the scheduler config. Prompts are encoded by the family's one CLIP
  encoder, `vsrup.nn.clip_text.load_prompt_encoder(snapshot.root, snapshot.model_id)`.
- `SDComponents`: what every member's component set has, an SD VAE (and its `scaling`) and
  the prompt embedding; the VAE's two directions: `posterior_latent` after encoding,
  `vae_input` and `decode_frames` for decoding.
- Placement: `place` (device, dtype, eval, frozen: `vsrup.util.placement`, the rule the Wan
  family uses too) and `vae_dtype` (the VAE's dtype rule).
- `SDPipeline`: the staged shape of every member's pipeline (prepare → encode → denoise →
  decode, as `WanPipeline`), with the pixel-range conversions they share.
- Synthetic weights: `synthetic_size` checks `--synthetic-weights`; members build their random
  networks under `vsrup.util.seeding.seeded`.

A member's folder keeps what differs: its configs, its guidance or adapters, its sampler.
One module, not a folder: `methods/` holds one folder per method. Importing it loads no torch:
heavy imports are inside functions.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.errors import UsageError, WeightsError
from vsrup.util.placement import place as place  # the family's placement rule, shared

if TYPE_CHECKING:
    import torch

    from vsrup.interface.method import MethodOptions

#: The sizes of `--synthetic-weights`: "tiny" for tests, "full" for GPU timing runs.
SYNTHETIC_SIZES = ("tiny", "full")


def synthetic_size(options: MethodOptions) -> str | None:
    """The requested synthetic size, None for real weights; a UsageError for an unknown one."""
    size = options.synthetic_weights
    if size is not None and size not in SYNTHETIC_SIZES:
        raise UsageError(f"--synthetic-weights {size} is not valid", hint="use tiny or full")
    return size


# -- the diffusers-layout snapshot ------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The diffusers-layout folder `root` of the registry entry `model_id`."""

    root: Path
    model_id: str

    @classmethod
    def open(cls, root: Path | None, model_id: str, folders: Sequence[str]) -> Snapshot:
        """The installed snapshot, with every one of `folders` present (checked before any
        network loads, so a broken install fails at once, naming what it lacks)."""
        from vsrup.hub.registry import missing_weights

        if root is None or not Path(root).is_dir():
            raise missing_weights(model_id)
        snapshot = cls(Path(root), model_id)
        snapshot.require(folders)
        return snapshot

    def require(self, folders: Sequence[str]) -> None:
        """WeightsError naming the first of `folders` that the snapshot lacks."""
        for name in folders:
            if not (self.root / name).is_dir():
                raise WeightsError(
                    f"the {self.model_id!r} snapshot has no {name}/ folder",
                    path=self.root,
                    hint=f"run: vsrup models download {self.model_id}",
                )

    def load(self, cls: Any, folder: str, dtype: torch.dtype) -> Any:
        """`cls.from_pretrained(root/folder)` in `dtype`, refusing any missing or unexpected
        key: diffusers only warns and initialises a missing weight randomly, which would make a
        damaged snapshot upscale with noise instead of failing."""
        from vsrup.hub.safe_load import check_keys
        from vsrup.nn.pretrained import load_pretrained

        self.require((folder,))
        path = self.root / folder
        # A shape mismatch already fails inside diffusers (a WeightsError from load_pretrained).
        model, info = load_pretrained(
            cls, path, self.model_id, torch_dtype=dtype, output_loading_info=True
        )
        expected = model.state_dict()
        # What the files held, from diffusers' report: the model's keys less the missing ones,
        # plus the unexpected ones (their shapes are never compared), for the one strict check.
        found: dict[str, Any] = {k: v for k, v in expected.items() if k not in info["missing_keys"]}
        found.update(dict.fromkeys(info["unexpected_keys"]))
        check_keys(
            found,
            expected,
            what=f"{self.model_id}/{folder}",
            path=path,
            hint="the snapshot is damaged or another model's; "
            f"run: vsrup models download {self.model_id}",
        )
        return model

    def config(self, cls: Any, folder: str) -> dict[str, Any]:
        """The config of `cls` in `root/folder`, without reading any weights."""
        from vsrup.nn.pretrained import load_pretrained

        return load_pretrained(cls, self.root / folder, self.model_id, config_only=True)

    def scheduler_config(self) -> dict[str, Any]:
        """`scheduler/scheduler_config.json`, for `Scheduler.from_config`."""
        path = self.root / "scheduler" / "scheduler_config.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise WeightsError(
                f"unreadable scheduler config ({exc.__class__.__name__})",
                path=path,
                hint=f"run: vsrup models download {self.model_id}",
            ) from None


def load_checked(cls: Any, folder: Path, dtype: torch.dtype, model_id: str) -> Any:
    """`Snapshot(folder.parent, model_id).load(cls, folder.name, dtype)`: one network folder
    of a snapshot, strictly checked."""
    return Snapshot(Path(folder).parent, model_id).load(cls, Path(folder).name, dtype)


# -- components and placement -----------------------------------------------------------------


class SDComponents:
    """What every member's component set has (members are dataclasses that add their
    denoiser): `vae`, an SD `AutoencoderKL`, and `prompt_embeds`, the text condition."""

    vae: Any
    prompt_embeds: torch.Tensor

    @property
    def scaling(self) -> float:
        """The VAE's latent scaling factor (latents are stored multiplied by it)."""
        return vae_scaling(self.vae)


def vae_scaling(vae: Any) -> float:
    return float(vae.config.scaling_factor)


def vae_dtype(dtype: torch.dtype, upcast_fp16: bool) -> torch.dtype:
    """The VAE's dtype for a run in `dtype`. SD VAEs can overflow in fp16 (diffusers'
    `force_upcast`): StableVSR and DGAF decode in fp32 then (`upcast_fp16`); DLoRAL keeps the
    run's dtype, as its official code does."""
    import torch

    return torch.float32 if upcast_fp16 and dtype == torch.float16 else dtype


# -- the VAE's two directions -----------------------------------------------------------------


def posterior_latent(
    vae: Any, posterior: Any, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The scaled latent of an encoded image: the posterior's mean, or a draw from it with
    `generator` (a `DiagonalGaussianDistribution`, as `vae.encode(x).latent_dist`)."""
    latent = posterior.mode() if generator is None else posterior.sample(generator=generator)
    return latent * vae_scaling(vae)


def vae_input(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents → what `vae.decode` takes: unscaled, in the VAE's dtype."""
    return (latents / vae_scaling(vae)).to(vae.dtype)


def decode_frames(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) scaled latents → (N, 3, H, W) RGB in [−1, 1], float32 and unclamped, one
    frame at a time to bound memory."""
    import torch

    from vsrup.util.timing import StageTimer

    with StageTimer("vae_decode"):
        frames = [
            vae.decode(vae_input(vae, latents[i : i + 1])).sample.float()
            for i in range(latents.shape[0])
        ]
    return torch.cat(frames, dim=0)


# -- the staged pipeline ----------------------------------------------------------------------


class SDPipeline(ABC):
    """The shape of every SD-family pipeline: its `__call__` runs four stages, each a method,
    in this order (the same shape as the Wan family's `WanPipeline`):

    1. `prepare`: input frames → the pixels the networks see, in [−1, 1];
    2. `encode`: what the denoiser is conditioned on besides the prompt (DLoRAL: the VAE
       latent of every frame; StableVSR/DGAF: the flows between neighbours, as the ×4
       upscaler takes the LR pixels themselves, un-encoded);
    3. `denoise`: the clean latents (StableVSR/DGAF: the 50-step bidirectional sampler;
       DLoRAL: one step per frame pair);
    4. `decode`: latents → images through the VAE, and those → output frames in [0, 1]
       (DLoRAL's official 8-bit finish is its own method, `finish`).

    The members' runs differ too much for one `__call__` (a whole sequence sampled at every
    step against independent frame pairs), so each writes its own, and the stages take what
    that run needs. StableVSR's whole-sequence run (`stablevsr.video.SequenceRun`) composes
    the same methods one frame at a time.
    """

    @abstractmethod
    def prepare(self, *args: Any, **kwargs: Any) -> Any:
        """Input frames in [0, 1] → model pixels in [−1, 1] (and what the later stages need)."""

    @abstractmethod
    def encode(self, *args: Any, **kwargs: Any) -> Any:
        """The denoiser's conditions, computed once per frame or frame pair."""

    @abstractmethod
    def denoise(self, *args: Any, **kwargs: Any) -> Any:
        """The clean latents."""

    @abstractmethod
    def decode(self, *args: Any, **kwargs: Any) -> Any:
        """Latents → decoded images (and, where the member finishes there, frames in [0, 1])."""


def to_model_range(frames: torch.Tensor) -> torch.Tensor:
    """Frames in [0, 1] → float32 in [−1, 1], the range SD VAEs and UNets take."""
    return frames.float() * 2.0 - 1.0


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Decoded images in [−1, 1] (unclamped) → [0, 1], clamped."""
    return (images / 2 + 0.5).clamp(0, 1)
