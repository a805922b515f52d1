"""StableVSR inference on diffusers components, stage by stage as the official pipeline runs.

1. LR frames in [0, 1] → [−1, 1]; bicubic ×4 copies for the flow model.
2. Forward/backward flows, once, before sampling.
3. Bidirectional frame-recurrent sampling (`sampler.bidirectional_sample`); a guided frame gets
   the ControlNet fed with the decoded RGB of the previous frame's x0 estimate, warped by flow.
4. Decode every latent, `(x / 2 + 0.5).clamp(0, 1)`.

`FlowGuidedPipeline` holds stages 1, 2 and 4 and is shared with DGAF-VSR, which only changes
how a guided frame is predicted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from vsrup.methods.sd_family import decode_frames
from vsrup.methods.stablevsr.flows import FlowModel, compute_flows, upscale_for_flow
from vsrup.methods.stablevsr.sampler import bidirectional_sample
from vsrup.nn.warp import flow_warp
from vsrup.util.timing import StageTimer

SCHEDULERS = ("ddpm", "ddim")


def make_scheduler(config: dict[str, Any], kind: str = "ddpm") -> Any:
    """The official scripts replace the pipeline's scheduler with DDPM; DDIM is our option."""
    from diffusers import DDIMScheduler, DDPMScheduler

    if kind == "ddpm":
        return DDPMScheduler.from_config(config)
    if kind == "ddim":
        return DDIMScheduler.from_config(config)
    raise ValueError(f"unknown scheduler {kind!r}; use one of {SCHEDULERS}")


class FlowGuidedPipeline:
    """Stages shared by StableVSR and DGAF-VSR; subclasses implement `guided`."""

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

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent → RGB in [−1, 1] (unclamped), one frame at a time to bound memory."""
        return decode_frames(self.vae, z)

    def flows(self, lr: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if self.flow_model is None:
            raise RuntimeError("no flow model was given and no flows were passed")
        up = upscale_for_flow(lr)
        with torch.autocast(up.device.type, enabled=False):
            return compute_flows(self.flow_model, up.float(), self.flow_batch, self.flow_updates)

    def plain(self, inp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.prompt_embeds.to(inp.dtype)
        with StageTimer("denoise"):
            return self.unet(inp, t, encoder_hidden_states=emb, return_dict=False)[0]

    def guided(
        self, inp: torch.Tensor, t: torch.Tensor, x0_prev: torch.Tensor, flow: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def __call__(
        self,
        frames: torch.Tensor,
        steps: int = 50,
        generator: torch.Generator | None = None,
        flows: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
        on_step: Callable[[int, int], None] | None = None,
        output: str = "rgb",
    ) -> torch.Tensor:
        """Upscale (N, 3, h, w) frames in [0, 1] to (N, 3, 4h, 4w) in [0, 1].

        `flows` replaces stage 2 (forward [f_1…f_{N−1}] and backward [b_1…b_{N−1}], each
        (1, 4h, 4w, 2)); `output="latent"` returns the sampled latents instead of RGB.
        """
        lr = frames.float() * 2.0 - 1.0
        fwd, bwd = flows if flows is not None else self.flows(lr)
        if len(fwd) != lr.shape[0] - 1 or len(bwd) != lr.shape[0] - 1:
            raise ValueError("need N−1 forward and N−1 backward flows for N frames")
        latents = bidirectional_sample(
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
        if output == "latent":
            return latents
        return (self.decode(latents) / 2 + 0.5).clamp(0, 1)


class StableVSRPipeline(FlowGuidedPipeline):
    """Temporal texture guidance: ControlNet on the warped RGB of the previous x0 estimate."""

    def __init__(self, *args: Any, controlnet: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.controlnet = controlnet

    def guided(
        self, inp: torch.Tensor, t: torch.Tensor, x0_prev: torch.Tensor, flow: torch.Tensor
    ) -> torch.Tensor:
        rgb = self.decode(x0_prev)  # no clamp, as the official code
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
