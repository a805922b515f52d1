"""DLoRAL: one-step video SR on Stable Diffusion 2.1-base with dual LoRAs and Cross-Frame
Retrieval (Sun et al., "One-Step Diffusion for Detail-Rich and Temporally Consistent Video
Super-Resolution"). Weights: `sd21-base` (Hub) + `dloral` (the official model.pkl, imported).

Pairing (our choice; the official script drops frame 0): frame k > 0 is restored from the pair
(k−1, k). Frame 0 uses the pair (1, 0), i.e. frame 1 plays "previous"; a one-frame video pairs
the frame with itself. The previous frame of a window's first frame comes from the engine as a
context frame (`spec.context = 1`), so the method keeps nothing between calls: any window gives
the same frames whether computed in order, alone, after a resume or in spatial tiles. The
context frame is encoded once more per window (1 VAE encode per `window` frames).

Prompt: RAM + DAPE tags of frame 0 when the tagger is installed (see `prompt`), else --prompt.

Latent: the VAE posterior's mean by default, so a run is deterministic and a frame gives the
same latent as "current" and as "previous". `--opt latent=sample` draws from the posterior as
the official code does, seeded by --seed and the frame index (the official draw is unseeded and
re-made for every pair, so no run reproduces it exactly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsrup.errors import UsageError
from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.dloral import prompt as P
from vsrup.methods.dloral.config import DEFAULT_PROMPT, TILE_OPTIONS, TINY_MIN_SIDE, Tiling

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.dloral.pipeline import PairRunner
    from vsrup.methods.dloral.prompt import PendingPrompt


@register
class DLoRAL(Method):
    spec = MethodSpec(
        id="dloral",
        summary="DLoRAL: one-step SD 2.1 + dual LoRA + cross-frame retrieval (frame pairs)",
        kind="diffusion",
        scales=(4,),
        window=8,  # any length works; the pair of a window's first frame is its context
        overlap=0,
        context=1,
        dtypes=("fp16", "bf16", "fp32"),
        weights=("sd21-base", "dloral"),
        default_steps=1,
        speed="fast (one step)",
        option_keys=("tags", "color", *TILE_OPTIONS),
        prompts=("prompt",),
    )

    def __init__(
        self,
        runner: PairRunner,
        pending: PendingPrompt | None = None,
        missing_taggers: tuple[str, ...] = (),
        prompt_text: str = "",
    ) -> None:
        self.runner = runner
        #: Set while the tag prompt still has to be made from the first frame (`begin`).
        self._pending = pending
        self._missing_taggers = missing_taggers
        self._prompt_text = prompt_text
        self._tags = "off" if pending is None else ("ram+dape" if pending.files.dape else "ram")

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.dloral import pipeline
        from vsrup.methods.sd_family import synthetic_size

        if options.steps not in (None, 1):
            raise UsageError("dloral is a one-step method", hint="drop --steps or use --steps 1")
        size = synthetic_size(options)
        files, missing = P.find_tagger(weights, str(options.extra.get("tags", "auto")))
        fixed_prompt = options.prompt or DEFAULT_PROMPT
        pending = None
        if size is not None:
            parts = pipeline.synthetic_components(
                size, runtime.torch_device, runtime.dtype, options.seed
            )
        else:
            assert weights is not None
            parts = pipeline.pretrained_components(
                weights["sd21-base"],
                weights["dloral"],
                runtime.torch_device,
                runtime.dtype,
                fixed_prompt,
                keep_text_encoder=files is not None,
            )
            if files is not None and parts.encode is not None:
                pending = P.PendingPrompt(files, parts.encode, options.prompt)
                parts.encode = None  # the pending prompt holds it until `begin`
        tiling = Tiling()
        if size == "tiny":
            tiling.min_short_side = TINY_MIN_SIDE
        for key, attr in TILE_OPTIONS.items():
            if key in options.extra:
                try:
                    setattr(tiling, attr, int(options.extra[key]))
                except ValueError:
                    raise UsageError(f"--opt {key} needs an integer") from None
        color = str(options.extra.get("color", "adain"))
        if color not in ("adain", "none"):
            raise UsageError(f"unknown colour fix {color!r}", hint="use --opt color=adain|none")
        latent = str(options.extra.get("latent", "mean"))
        if latent not in ("mean", "sample"):
            raise UsageError(f"unknown latent {latent!r}", hint="use --opt latent=mean|sample")
        runner = pipeline.PairRunner(parts, tiling, color, latent, options.seed)
        return cls(runner, pending, tuple(missing), fixed_prompt)

    @classmethod
    def weights_for(cls, options: MethodOptions) -> tuple[str, ...]:
        """The base and DLoRAL, plus the (optional) tagger unless `--opt tags=off`."""
        if str(options.extra.get("tags", "auto")) == "off":
            return cls.spec.weights
        return cls.spec.weights + P.TAGGER_IDS

    def resume_settings(self) -> dict[str, Any]:
        return {"tags": self._tags}

    def begin(self, first: torch.Tensor) -> str | None:
        """Make the tag prompt from the video's first frame (see `prompt`)."""
        from vsrup.methods.dloral.pipeline import prepare_image

        pending, self._pending = self._pending, None  # the text encoder goes with it
        if pending is None:
            if not self._missing_taggers:
                return None
            return (f"dloral: prompt {self._prompt_text!r}; automatic tags need "
                    f"{', '.join(self._missing_taggers)} (vsrup models download dloral "
                    "--optional; --opt tags=off hides this)")  # fmt: skip
        # On the device, as `PairRunner.prepare` does: the ×4 frame is large (4K → 16K).
        frame = first.to(self.runner.device).float()
        image, _ = prepare_image(frame, self.runner.tiling.min_short_side)
        parts = self.runner.parts
        tags = P.tag_image(pending.files, image, self.runner.device, parts.dtype)
        text = P.compose(tags, pending.user_prompt)
        self.runner.set_prompt(pending.encode(text))
        return f"dloral: prompt from RAM tags of frame 0: {text!r}"

    def process(self, clip: Clip) -> torch.Tensor:
        import torch

        outputs = self.runner(clip.frames, clip.start, clip.context)
        # Context frames' outputs are discarded by the engine: zeros cost nothing.
        skipped = [torch.zeros_like(outputs[0])] * clip.context
        return torch.stack([*skipped, *outputs]).to(clip.frames.device)
