"""StableVSR inference on diffusers components, stage by stage as the official pipeline runs
(the `sd_family.SDPipeline` shape):

1. prepare: LR frames in [0, 1] → [−1, 1], the pixels the ×4 upscaler concatenates to its
   latent;
2. encode: forward/backward flows between neighbours, once, before sampling (RAFT on bicubic
   ×4 copies);
3. denoise: bidirectional frame-recurrent sampling (`sampler.bidirectional_sample`) over two
   per-frame predictions, `plain` (the first frame of a pass) and `guided` (every other: the
   StableVSR ControlNet is fed with the decoded RGB of the previous frame's x0 estimate,
   warped by flow);
4. decode: every latent through the VAE, `(x / 2 + 0.5).clamp(0, 1)`.

`FlowGuidedPipeline` holds the stages and `plain`, and is shared with DGAF-VSR, which only
changes how a guided frame is predicted. The whole-sequence run (`video.SequenceRun`) keeps
the sequence's state off the device and composes the same pieces frame by frame: `prepare`,
`flows` (one pair at a time), `plain`/`guided`, `decode`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import torch

from vsrup.methods.sd_family import SDPipeline, decode_frames, to_model_range, to_unit_range
from vsrup.methods.stablevsr.flows import FlowModel, compute_flows, upscale_for_flow
from vsrup.methods.stablevsr.sampler import bidirectional_sample
from vsrup.nn.warp import flow_warp
from vsrup.util.timing import StageTimer

#: Forward [f_1 … f_{N−1}] and backward [b_1 … b_{N−1}] flows, each (1, 4h, 4w, 2).
Flows = tuple[list[torch.Tensor], list[torch.Tensor]]

SCHEDULERS = ("ddpm", "ddim")


def make_scheduler(config: dict[str, Any], kind: str = "ddpm") -> Any:
    """The official scripts replace the pipeline's scheduler with DDPM; DDIM is our option."""
    from diffusers import DDIMScheduler, DDPMScheduler

    if kind == "ddpm":
        return DDPMScheduler.from_config(config)
    if kind == "ddim":
        return DDIMScheduler.from_config(config)
    raise ValueError(f"unknown scheduler {kind!r}; use one of {SCHEDULERS}")


class FlowGuidedPipeline(SDPipeline):
    """The stages shared by StableVSR and DGAF-VSR; subclasses implement `guided`."""

    def __init__(
        self,
        unet: Any,
        vae: Any,
        scheduler: Any,
        prompt_embeds: torch.Tensor,
        flow_model: FlowModel | None,
        warp: str = "official",
        conditioning_scale: float = 1.0,
        flow_batch: int = 2,
        flow_updates: int = 12,
    ) -> None:
        self.unet, self.vae, self.scheduler = unet, vae, scheduler
        self.prompt_embeds = prompt_embeds
        self.flow_model = flow_model
        self.warp = warp
        self.conditioning_scale = conditioning_scale
        self.flow_batch = flow_batch
        self.flow_updates = flow_updates

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @torch.no_grad()
    def __call__(
        self,
        frames: torch.Tensor,
        steps: int = 50,
        generator: torch.Generator | None = None,
        flows: Flows | None = None,
        on_step: Callable[[int, int], None] | None = None,
        output: str = "rgb",
    ) -> torch.Tensor:
        """Upscale (N, 3, h, w) frames in [0, 1] to (N, 3, 4h, 4w) in [0, 1].

        `flows` replaces the flow model in stage 2 (N−1 forward and N−1 backward flows, each
        (1, 4h, 4w, 2)); `output="latent"` returns the sampled latents instead of RGB.
        """
        # 1. prepare: the LR pixels in [−1, 1].
        lr = self.prepare(frames)
        # 2. encode: the flows between neighbours, the guidance's alignment.
        flows = self.encode(lr, flows)
        # 3. denoise: the bidirectional sampler, from noise drawn by `generator`.
        latents = self.denoise(lr, flows, steps, generator, on_step)
        if output == "latent":
            return latents
        # 4. decode: the VAE, one frame at a time, to [0, 1].
        return self.decode(latents)

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, h, w) in [0, 1] → float32 in [−1, 1]: the UNet's LR input, un-encoded."""
        return to_model_range(frames)

    def encode(self, lr: torch.Tensor, flows: Flows | None = None) -> Flows:
        """The forward and backward flows of `lr` (`flows` when given, checked: N−1 each)."""
        fwd, bwd = flows if flows is not None else self.flows(lr)
        if len(fwd) != lr.shape[0] - 1 or len(bwd) != lr.shape[0] - 1:
            raise ValueError("need N−1 forward and N−1 backward flows for N frames")
        return fwd, bwd

    def flows(self, lr: torch.Tensor) -> Flows:
        """RAFT's flows between the neighbours of `lr` (N, 3, h, w) in [−1, 1], on bicubic ×4
        copies, in fp32 whatever the run's dtype."""
        if self.flow_model is None:
            raise RuntimeError("no flow model was given and no flows were passed")
        up = upscale_for_flow(lr)
        with torch.autocast(up.device.type, enabled=False):
            return compute_flows(self.flow_model, up.float(), self.flow_batch, self.flow_updates)

    def denoise(
        self,
        lr: torch.Tensor,
        flows: Flows,
        steps: int,
        generator: torch.Generator | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> torch.Tensor:
        """The sampled latents (N, C, h, w): `steps` bidirectional passes over the frames,
        each frame predicted by `plain` or `guided` (see `sampler`)."""
        fwd, bwd = flows
        return bidirectional_sample(
            lr,
            fwd,
            bwd,
            self.scheduler,
            steps,
            self.plain,
            self.guided,
            generator=generator,
            latent_channels=self.vae.config.latent_channels,
            model_dtype=self.dtype,
            on_step=on_step,
        )

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (N, C, h, w) → RGB (N, 3, 4h, 4w) in [0, 1]."""
        return to_unit_range(self.vae_decode(latents))

    def vae_decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent → RGB in [−1, 1] (unclamped), one frame at a time to bound memory."""
        return decode_frames(self.vae, z)

    def plain(self, inp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The UNet's output for the first frame of a pass (no guidance); `inp` is the scaled
        latent with the LR frame concatenated (1, C + 3, h, w)."""
        emb = self.prompt_embeds.to(inp.dtype)
        with StageTimer("denoise"):
            return self.unet(inp, t, encoder_hidden_states=emb, return_dict=False)[0]

    @abstractmethod
    def guided(
        self, inp: torch.Tensor, t: torch.Tensor, x0_prev: torch.Tensor, flow: torch.Tensor
    ) -> torch.Tensor:
        """The output for a guided frame: `x0_prev` is the x0 estimate of the frame denoised
        just before (same step), `flow` (1, 4h, 4w, 2) aligns it with this frame."""


class StableVSRPipeline(FlowGuidedPipeline):
    """Temporal texture guidance: ControlNet on the warped RGB of the previous x0 estimate."""

    def __init__(self, *args: Any, controlnet: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controlnet = controlnet

    def guided(
        self, inp: torch.Tensor, t: torch.Tensor, x0_prev: torch.Tensor, flow: torch.Tensor
    ) -> torch.Tensor:
        rgb = self.vae_decode(x0_prev)  # no clamp, as the official code
        cond = flow_warp(rgb, flow.to(rgb.dtype), "bilinear", convention=self.warp)
        emb = self.prompt_embeds.to(inp.dtype)
        with StageTimer("denoise"):
            down, mid = self.controlnet(
                inp,
                t,
                encoder_hidden_states=emb,
                controlnet_cond=cond.to(inp.dtype),
                conditioning_scale=self.conditioning_scale,
                return_dict=False,
            )
            return self.unet(
                inp,
                t,
                encoder_hidden_states=emb,
                down_block_additional_residuals=down,
                mid_block_additional_residual=mid,
                return_dict=False,
            )[0]
