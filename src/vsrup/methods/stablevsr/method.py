"""The `stablevsr` method: registration, weights, and the whole-sequence run.

The official code samples all frames of a sequence together (every step is a pass over all of
them). By default we do the same (`video.SequenceRun`: the engine hands us every frame, the
state lives in host RAM or a memory-mapped file, the GPU holds one frame's work), so a video
of any length, a 4-frame clip included, gets the official result. `--window N` instead
samples independent windows of N frames (sharing `spec.overlap` frames, blended by the
engine): a documented deviation, where frames near a window edge see fewer neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register

if TYPE_CHECKING:
    from collections.abc import Iterator

    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime

#: Windows: 12 frames, 2 shared. Sampling cost is linear in frames; memory is a handful of
#: latents plus one frame's UNet/VAE activations, so the window bounds memory, not speed.
WINDOW, OVERLAP = 12, 2

SPEC_COMMON: dict[str, Any] = {
    "kind": "diffusion",
    "option_keys": (
        "scheduler",
        "warp",
        "raft_norm",
        "flow_batch",
        "flow_updates",
        "conditioning_scale",
        "fit",
    ),  # fmt: skip
    "prompts": ("prompt",),
    "scales": (4,),
    "window": WINDOW,
    "overlap": OVERLAP,
    # The official pre-processing rounds LR sides down to a multiple of 4 (so HR sides are
    # multiples of 16, as RAFT needs), `sizes.fit_frames` in a whole-video run; the engine
    # pads windows and tiles (`--window N`) to the multiple. RAFT also needs HR sides ≥ 128.
    "size_multiple": 4,
    "min_size": 32,
    # fp32 first: the official scripts run in fp32 (and the paper's 16.6 GB is an fp32 figure);
    # --dtype bf16/fp16 halves memory (the VAE stays fp32 under fp16).
    "dtypes": ("fp32", "bf16", "fp16"),
    # REDS-size inputs (320×180) run whole, as in the papers; larger inputs are tiled.
    "tile": 384,
    "tile_overlap": 32,
    "default_steps": 50,
    "whole_video": True,  # the whole sequence in one run; --window N: independent windows
}


class FlowGuidedMethod(Method):
    """What StableVSR and DGAF share: fit the frame size, sample, crop."""

    def __init__(
        self,
        pipeline: Any,
        steps: int,
        seed: int,
        window: int | None = None,
        fit: str = "official",
    ) -> None:
        self.pipeline = pipeline
        self.fit = fit
        self.steps = steps
        self.seed = seed
        self.window = window
        self._work_dir: Any = None
        self._resume = False
        self._run: Any = None
        self._size: tuple[int, int] | None = None

    @classmethod
    def build_guide(
        cls, unet: Any, weights: WeightSet | None, size: str | None, runtime: Runtime
    ) -> tuple[type, dict[str, Any]]:
        """The pipeline class and its guidance module as a keyword argument: random and shaped
        after the base `unet` for a synthetic `size`, else loaded from `weights` (`unet` None)."""
        raise NotImplementedError

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.sd_family import place, synthetic_size
        from vsrup.methods.stablevsr import config, model
        from vsrup.methods.stablevsr.pipeline import make_scheduler
        from vsrup.util.seeding import seeded

        choices = config.Choices.parse(options.extra)
        size = synthetic_size(options)
        if options.weights is not None and cls.own_weights is not None:
            from vsrup.hub.registry import WeightSet

            own = {cls.own_weights: options.weights}
            weights = WeightSet({**(weights.paths if weights is not None else {}), **own})
        if size is not None:
            with seeded(options.seed):  # the random guide continues the base's random stream
                base = model.synthetic_base(size, runtime, options.seed)
                pipeline_cls, guide = cls.build_guide(base.unet, weights, size, runtime)
        else:
            # The method's own weights first: a missing file is named before the base loads.
            pipeline_cls, guide = cls.build_guide(None, weights, None, runtime)
            root = weights.get("stablevsr") if weights is not None else None
            base = model.load_base(root, "stablevsr", runtime, options.prompt or "")
        flow = model.load_flow(weights, size is not None, runtime, choices.raft_norm)
        pipe = pipeline_cls(
            base.unet,
            base.vae,
            make_scheduler(base.scheduler_config, choices.scheduler),
            base.prompt_embeds,
            flow,
            warp=choices.warp,
            conditioning_scale=choices.conditioning_scale,
            flow_batch=choices.flow_batch,
            flow_updates=choices.flow_updates,
            **{name: place(m, runtime.device, runtime.dtype) for name, m in guide.items()},
        )
        return cls(pipe, cls.steps_for(options), options.seed, options.window, choices.fit)

    def whole_video(self) -> bool:
        return self.window is None

    def begin(self, first: torch.Tensor) -> str | None:
        if not self.whole_video() or self.fit != "official":
            return None
        from vsrup.methods.stablevsr.sizes import official_note

        return official_note(self.spec.id, *first.shape[-2:])

    def use_work_dir(self, directory: Any, resume: bool) -> None:
        self._work_dir, self._resume = directory, resume

    def add_segment(self, clip: Clip) -> None:
        from vsrup.methods.stablevsr.sizes import fit_frames
        from vsrup.methods.stablevsr.video import SequenceRun

        if self._run is None:
            work = None if self._work_dir is None else self._work_dir / "sequence"
            self._run = SequenceRun(self.pipeline, self.steps, self.seed, work, self._resume)
        # Official sizes by default: the output is 4× the rounded-down size, and the engine's
        # exact-size resize (which every frame passes) brings it to the requested size.
        frames, self._size = fit_frames(clip.frames, self.fit, self.spec.min_size)
        self._run.add(frames)

    def finish_video(self, skip_before: int = 0) -> Iterator[torch.Tensor]:
        run, self._run = self._run, None
        if run is None or self._size is None:
            return
        h, w = self._size
        try:
            for frame in run.frames(skip_before):
                yield frame[..., : h * 4, : w * 4]
        finally:
            run.close()

    def process(self, clip: Clip) -> torch.Tensor:
        """One `--window N` window; the engine pads windows and tiles to the size multiple
        (`fit` applies to whole-video runs only)."""
        import torch

        from vsrup.engine.tiles import pad_to

        frames, (h, w) = pad_to(clip.frames, self.spec.size_multiple, self.spec.min_size)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        out = self.pipeline(frames, steps=self.steps, generator=gen)
        return out[..., : h * 4, : w * 4].to(clip.frames.dtype)


@register
class StableVSR(FlowGuidedMethod):
    spec = MethodSpec(
        id="stablevsr",
        summary="StableVSR: SD ×4 upscaler + ControlNet guided by the flow-warped previous "
        "frame, bidirectional; 50 DDPM steps (slow, GPU).",
        weights=("stablevsr", "raft-large"),
        speed="very slow",
        **SPEC_COMMON,
    )

    @classmethod
    def build_guide(
        cls, unet: Any, weights: WeightSet | None, size: str | None, runtime: Runtime
    ) -> tuple[type, dict[str, Any]]:
        from vsrup.hub.registry import missing_weights
        from vsrup.methods.stablevsr.model import build_controlnet, load_controlnet
        from vsrup.methods.stablevsr.pipeline import StableVSRPipeline

        if size is not None:
            return StableVSRPipeline, {"controlnet": build_controlnet(unet, size)}
        root = weights.get("stablevsr") if weights is not None else None
        if root is None:
            raise missing_weights("stablevsr")
        return StableVSRPipeline, {"controlnet": load_controlnet(root, runtime)}
