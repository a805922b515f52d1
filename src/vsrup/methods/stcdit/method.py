"""STCDiT: a Wan2.1 DiT with LoRA, anchor frames and motion-aware VAE segments.

Variants (`--model`): `tiny` (default; Wan2.1-T2V-1.3B + `tiny_8k.bin`, CFG 1) and `large`
(Wan2.1-I2V-14B-720P + `large_5k.bin`, CFG 4 with the official negative prompt). Official
checkpoints are imported with `vsrup models import stcdit-tiny|stcdit-large FILE`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsrup.errors import UsageError
from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.stcdit.video import VideoRun

#: Registry ids each variant loads: base Wan DiT/VAE/UMT5, then the converted checkpoint.
VARIANT_WEIGHTS: dict[str, tuple[str, str]] = {
    "tiny": ("wan21-t2v-1.3b", "stcdit-tiny"),
    "large": ("wan21-i2v-14b-720p", "stcdit-large"),
}


@register
class STCDiTMethod(Method):
    spec = MethodSpec(
        id="stcdit",
        summary="STCDiT: Wan2.1 DiT + LoRA with anchor frames and motion-aware VAE segments",
        kind="diffusion",
        scales=(4, 2, 1),  # 1: restoration at the input size (the official .sh's --upscale 1)
        # ~21 latent frames after per-segment 4k+1 padding (segments of ≤ 9 frames).
        window=57,
        overlap=8,
        alignment=1,  # segments are padded to 4k+1 inside the method
        size_multiple=1,  # padded to 16 output pixels inside the method
        min_size=8,
        dtypes=("bf16", "fp16", "fp32"),
        tile=None,  # tiles live in latent space (≤ 960×1280 output pixels), per step
        weights=VARIANT_WEIGHTS["tiny"],
        uses_segments=True,
        whole_video=True,
        default_steps=10,
        speed="very slow (10-step DiT at output size)",
        variants=tuple(VARIANT_WEIGHTS),
        option_keys=("cfg",),
        prompts=("prompt", "negative_prompt"),
    )
    #: `--weights RUN_DIR/final` from `vsrup train stcdit`: a peft LoRA merged on top.
    lora_weights = True

    def __init__(self, parts: Any, runtime: Runtime, options: MethodOptions) -> None:

        self.parts = parts
        self.steps = self.steps_for(options)
        self._scale = options.scale if options.scale in self.spec.scales else self.spec.scales[0]
        self.device = runtime.torch_device
        self.seed = options.seed
        #: `--window N`: independent windows (the old behaviour); None: the official run.
        self.window = options.window
        self._work_dir: Path | None = None
        self._resume = False
        self._run: VideoRun | None = None
        self._shots = 0  # runs started (a new one per independent shot)

    @property
    def scale(self) -> int:
        return self._scale

    @staticmethod
    def variant(options: MethodOptions) -> str:
        name = options.variant or "tiny"
        if name not in VARIANT_WEIGHTS:
            raise UsageError(f"unknown stcdit model {name!r}", hint="use --model tiny or large")
        return name

    @staticmethod
    def cfg_override(options: MethodOptions) -> float | None:
        """`--opt cfg=X` replaces the variant's guidance scale (1 tiny, 4 large)."""
        raw = options.extra.get("cfg")
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"--opt cfg={raw!r}: expected a number") from None
        if value < 0:
            raise UsageError(f"--opt cfg={raw}: must not be negative")
        return value

    @classmethod
    def weights_for(cls, options: MethodOptions) -> tuple[str, ...]:
        """Registry ids this run needs (`spec.weights` lists the default tiny variant's)."""
        return VARIANT_WEIGHTS[cls.variant(options)]

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.stcdit import pipeline

        variant = cls.variant(options)
        cfg_scale = cls.cfg_override(options)
        if options.synthetic_weights:
            parts = pipeline.synthetic_parts(
                options.synthetic_weights,
                runtime.torch_device,
                runtime.dtype,
                options.seed,
                variant,
                cfg_scale,
            )
        else:
            from vsrup.hub.registry import missing_weights

            base_id, ckpt_id = VARIANT_WEIGHTS[variant]
            for model_id in (base_id, ckpt_id):
                if weights is None or weights.get(model_id) is None:
                    raise missing_weights(model_id)
            assert weights is not None
            parts = pipeline.pretrained_parts(
                weights[base_id],
                weights[ckpt_id],
                runtime.torch_device,
                runtime.dtype,
                options.prompt,
                options.negative_prompt,
                cfg_scale,
            )
        if options.weights is not None:
            from vsrup.methods.stcdit.finetune import merge_adapter

            merge_adapter(parts.model.transformer, options.weights)
        return cls(parts, runtime, options)

    # -- the official whole-video run -------------------------------------------------------
    def whole_video(self) -> bool:
        return self.window is None

    def use_work_dir(self, directory: Path | None, resume: bool) -> None:
        self._work_dir, self._resume = directory, resume

    def add_segment(self, clip: Clip) -> None:
        if self._run is None:
            from vsrup.engine.runtime import position_seed
            from vsrup.methods.stcdit.video import VideoRun

            work = None if self._work_dir is None else self._work_dir / f"shot-{self._shots:05d}"
            self._shots += 1
            self._run = VideoRun(
                # The run's noise starts at frame 0 of its shot: position 0's seed, which is
                # the plain seed (what the official code draws for it).
                self.parts,
                self.scale,
                self.steps,
                position_seed(self.seed, 0),
                work,
                resume=self._resume,
            )
        self._run.add_segment(clip.frames.to(self.device))

    def finish_video(self, skip_before: int = 0) -> Iterator[torch.Tensor]:
        run, self._run = self._run, None
        if run is None:
            return
        try:
            yield from run.frames(skip_before)
        finally:
            run.close()

    def process(self, clip: Clip) -> torch.Tensor:
        import torch

        from vsrup.engine.runtime import position_seed
        from vsrup.methods.stcdit.pipeline import upscale_clip

        return upscale_clip(
            self.parts,
            clip.frames.to(self.device),
            clip.segment_starts,
            self.scale,
            self.steps,
            # Noise from (seed, position), drawn on the CPU so a seed gives the same result on
            # every device; no generator state is carried between windows.
            torch.Generator().manual_seed(position_seed(self.seed, clip.start)),
        )
