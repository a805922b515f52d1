"""STCDiT: a Wan2.1 DiT with LoRA, anchor frames and motion-aware VAE segments.

Variants (`--model`): `tiny` (default; Wan2.1-T2V-1.3B + `tiny_8k.bin`, CFG 1) and `large`
(Wan2.1-I2V-14B-720P + `large_5k.bin`, CFG 4 with the official negative prompt). Official
checkpoints are imported with `vsrup models import stcdit-tiny|stcdit-large FILE`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vsrup.errors import UsageError
from vsrup.interface.method import Clip, MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.wan_family import WanMethod

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.stcdit.pipeline import STCDiTParts, STCDiTPipeline
    from vsrup.methods.stcdit.video import VideoRun

#: Registry ids each variant loads: base Wan DiT/VAE/UMT5, then the converted checkpoint.
VARIANT_WEIGHTS: dict[str, tuple[str, str]] = {
    "tiny": ("wan21-t2v-1.3b", "stcdit-tiny"),
    "large": ("wan21-i2v-14b-720p", "stcdit-large"),
}


@register
class STCDiTMethod(WanMethod):
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

    # Noise from (seed, position) drawn on the CPU, so a seed gives the same result on every
    # device (the official code draws on the CPU too).
    cpu_noise = True
    #: `--weights RUN_DIR/final` from `vsrup train stcdit`: a peft LoRA merged on top.
    lora_weights = True

    def __init__(self, parts: STCDiTParts, runtime: Runtime, options: MethodOptions) -> None:
        super().__init__(parts, runtime, options)
        #: `--window N`: independent windows (the old behaviour); None: the official run.
        self.window = options.window
        self._work_dir: Path | None = None
        self._resume = False
        self._run: VideoRun | None = None
        self._shots = 0  # runs started (a new one per independent shot)

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
    def synthetic_parts(cls, size: str, runtime: Runtime, options: MethodOptions) -> STCDiTParts:
        from vsrup.methods.stcdit.pipeline import synthetic_parts

        return synthetic_parts(
            size,
            runtime.torch_device,
            runtime.dtype,
            options.seed,
            cls.variant(options),
            cls.cfg_override(options),
        )

    @classmethod
    def pretrained_parts(
        cls, weights: WeightSet, runtime: Runtime, options: MethodOptions
    ) -> STCDiTParts:
        from vsrup.methods.stcdit.pipeline import pretrained_parts

        base_id, ckpt_id = VARIANT_WEIGHTS[cls.variant(options)]
        parts = pretrained_parts(
            weights[base_id],
            weights[ckpt_id],
            runtime.torch_device,
            runtime.dtype,
            options.prompt,
            options.negative_prompt,
            cls.cfg_override(options),
        )
        # The installed checkpoint stays; a LoRA fine-tune goes on top of it.
        return (
            parts if options.weights is None else cls.with_trained(parts, options.weights, options)
        )

    @classmethod
    def with_trained(
        cls, parts: STCDiTParts, directory: Path, options: MethodOptions
    ) -> STCDiTParts:
        """A `vsrup train stcdit` LoRA merged into the transformer's base weights."""
        del options
        from vsrup.methods.stcdit.finetune import merge_adapter

        merge_adapter(parts.model.transformer, directory)
        return parts

    def make_pipeline(self) -> STCDiTPipeline:
        from vsrup.methods.stcdit.pipeline import STCDiTPipeline

        return STCDiTPipeline(self.parts, self.steps, self.scale)

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
