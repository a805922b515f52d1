"""The Method interface: what every upscaling method declares and implements.

A method is a frozen `MethodSpec` (what the engine needs to know to feed it) plus a class with
`from_weights(...)`, `process(clip)` and `flush()`. The engine owns decoding, temporal chunks,
spatial tiles, colour correction and encoding; a method only turns a clip of low-resolution
frames into the same number of high-resolution frames. Heavy imports (diffusers, peft, ...)
belong inside `from_weights` so that `vsrup --help` stays instant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime

Kind = Literal["classical", "learned", "diffusion"]


@dataclass(frozen=True)
class MethodSpec:
    """Everything the engine needs to know about a method, and nothing it has to ask for."""

    id: str
    summary: str
    kind: Kind
    #: Native integer scales. Other scales are made by resizing the nearest native result.
    scales: tuple[int, ...]
    #: True when any scale is native (classical resamplers).
    any_scale: bool = False
    #: Frames per temporal window the method wants (1 = frame by frame).
    window: int = 1
    #: Frames shared by consecutive windows, blended by the engine.
    overlap: int = 0
    #: Frames before each window the method reads as context only (DLoRAL: the previous
    #: frame of a pair). The engine prepends them to the clip (`Clip.context`) and discards
    #: their outputs, so no method needs to keep frames between calls.
    context: int = 0
    #: Window lengths must be `alignment * k + 1` (Wan's VAE: 4) when > 1.
    alignment: int = 1
    #: Input height and width are padded to a multiple of this.
    size_multiple: int = 1
    #: Smallest input side the method accepts; smaller inputs are padded by the engine.
    min_size: int = 1
    #: Supported compute dtypes, best first; "auto" resolves to the first the device supports.
    dtypes: tuple[str, ...] = ("fp32",)
    #: Advice for spatial tiling in input pixels: None means no tiling is needed.
    tile: int | None = None
    tile_overlap: int = 0
    #: Registry ids of the weights the method loads (models.toml).
    weights: tuple[str, ...] = ()
    #: True when the method wants motion-segment boundaries with each clip.
    uses_segments: bool = False
    #: True when the method samples the whole video in one run, as its official code does
    #: (`Method.whole_video`); `--window N` then replaces that run with independent windows.
    whole_video: bool = False
    #: Default sampling steps for diffusion methods.
    default_steps: int | None = None
    #: True when `process` takes the decoded uint8/uint16 frames as they are (and may return
    #: them as such): the engine then converts nothing to float (classical resamplers).
    integer_frames: bool = False
    #: Human-readable speed class for the README and `vsrup methods`.
    speed: str = ""
    #: `--model` values the method knows (empty: it has no variants).
    variants: tuple[str, ...] = ()
    #: `--opt` keys the method reads (empty: none).
    option_keys: tuple[str, ...] = ()
    #: The text options it uses: "prompt" and/or "negative_prompt".
    prompts: tuple[str, ...] = ()


@dataclass
class MethodOptions:
    """Per-run choices a user makes; each method reads the ones it understands."""

    scale: int = 4
    steps: int | None = None
    seed: int = 42
    prompt: str | None = None
    negative_prompt: str | None = None
    #: "tiny" or "full": build the architecture with random weights (output is noise).
    synthetic_weights: str | None = None
    #: A method-specific model variant, e.g. realesrgan's "animevideov3".
    variant: str | None = None
    #: `--weights DIR`: the method's own trained weights (what `vsrup train` exports), used
    #: instead of the installed ones; with `synthetic_weights` the other parts stay random.
    weights: Path | None = None
    #: `--window N`: independent temporal windows of N frames instead of a method's
    #: whole-video run (a deviation from official semantics, for methods that have one).
    window: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Clip:
    """A run of consecutive low-resolution frames handed to a method.

    `frames` is (T, C, H, W) float in [0, 1] on the method's device, or the decoded uint8 /
    uint16 values (full scale) for methods whose spec sets `integer_frames`. `start` is the index of
    the first frame in the whole video. `segment_starts` holds the clip-relative indices where
    a new motion segment begins (always containing 0) for methods that use segments.

    Methods are stateless between calls: the output for a clip depends only on the clip (and
    the run's options and seed), so any window can be computed alone, in any process, and a
    resumed run equals an uninterrupted one. Random draws derive from (seed, `start`).
    """

    frames: torch.Tensor
    start: int = 0
    segment_starts: tuple[int, ...] = (0,)
    #: Leading frames that are context only: the method may return anything for them
    #: (zeros), the engine drops those outputs. `start` is the index of the first context frame.
    context: int = 0


def check_options(spec: MethodSpec, options: MethodOptions) -> None:
    """Refuse options the method would silently ignore: an unknown `--model`, `--opt` keys
    it does not read, a prompt it does not use. Each error names the valid choices."""
    from vsrup.errors import UsageError

    def choices(values: tuple[str, ...]) -> str:
        return "use one of: " + ", ".join(values)

    if options.variant is not None and options.variant not in spec.variants:
        if not spec.variants:
            raise UsageError(f"--model {options.variant}: {spec.id} has no model variants")
        raise UsageError(f"unknown --model {options.variant!r} for {spec.id}",
                         hint=choices(spec.variants))  # fmt: skip
    unknown = sorted(set(options.extra) - set(spec.option_keys))
    if unknown:
        keys = ", ".join(unknown)
        if not spec.option_keys:
            raise UsageError(f"--opt {keys}: {spec.id} takes no --opt settings")
        raise UsageError(f"unknown --opt {keys} for {spec.id}", hint=choices(spec.option_keys))
    for name in ("prompt", "negative_prompt"):
        if getattr(options, name) is not None and name not in spec.prompts:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag}: {spec.id} does not use a {name.replace('_', ' ')}")


class Method(ABC):
    """Base class for all methods. Subclasses set `spec` and implement the three calls."""

    spec: ClassVar[MethodSpec]
    #: Registry id of the weights `vsrup train` produces for this method and `--weights`
    #: replaces (None: the method takes no --weights).
    own_weights: ClassVar[str | None] = None
    #: True: `--weights DIR` is a peft LoRA adapter (`vsrup train` fine-tuning) applied on
    #: top of the method's own weights, which are still all needed.
    lora_weights: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        """Build the method on `runtime.device` from resolved weights (or synthetic ones)."""

    @abstractmethod
    def process(self, clip: Clip) -> torch.Tensor:
        """Return (T, C, H*s, W*s) frames in [0, 1] for the T frames of `clip` (or, for an
        integer clip, integers of the same dtype)."""

    @classmethod
    def steps_for(cls, options: MethodOptions) -> int:
        """Sampling steps for this run: `--steps`, else the spec's default; at least 1."""
        steps = cls.spec.default_steps if options.steps is None else options.steps
        if steps is None or steps < 1:
            from vsrup.errors import MethodError

            raise MethodError(f"{cls.spec.id}: --steps must be at least 1, got {steps}")
        return steps

    @classmethod
    def weights_for(cls, options: MethodOptions) -> tuple[str, ...]:
        """Registry ids this run needs: `spec.weights` unless a variant or scale picks a
        subset (so the weights of variants not asked for need not be installed). `--weights`
        stands in for the method's own id."""
        if options.weights is not None and cls.own_weights is not None:
            return tuple(i for i in cls.spec.weights if i != cls.own_weights)
        return cls.spec.weights

    def begin(self, first: torch.Tensor) -> str | None:
        """Called once per video, before any `process`, with its first input frame ((C, H, W)
        in [0, 1], on the CPU), also when a resumed run computes nothing before frame k > 0.
        For what a method derives from the video as a whole (DLoRAL's prompt tags). Returns a
        line for the user (what was derived), or None."""
        return None

    def resume_settings(self) -> dict[str, Any]:
        """What this instance does that changes its output beyond the job's options (e.g.
        which optional weights it found): part of the `--resume` key, so a resumed run never
        mixes frames of two behaviours."""
        return {}

    def flush(self) -> torch.Tensor | None:
        """Called once after the last `process`. Every method returns exactly as many frames as
        each `process` call was given, so there is nothing left to emit: return None (the
        engine raises MethodError if frames come back); a method may release state here."""
        return None

    # -- whole-video methods (official semantics over the entire video) ---------------------
    def whole_video(self) -> bool:
        """True when this instance computes the whole video in one run, as its official code
        does: the engine then hands it every motion segment (`add_segment`) and takes the
        frames from `finish_video`, instead of calling `process` per window."""
        return False

    def use_work_dir(self, directory: Path | None, resume: bool) -> None:
        """Where a whole-video run keeps its state (None: a temporary directory), and
        whether to continue an interrupted run found there."""
        del directory, resume  # methods without a whole-video run keep no state

    def add_segment(self, clip: Clip) -> None:
        """Take one motion segment's input frames (whole-video methods)."""
        raise NotImplementedError

    def finish_video(self, skip_before: int = 0) -> Iterator[torch.Tensor]:
        """Compute and yield the output frames (C, H*s, W*s) in order, from frame
        `skip_before` on (whole-video methods); afterwards a new video may begin."""
        raise NotImplementedError

    @property
    def scale(self) -> int:
        """The native scale this instance produces."""
        return self.spec.scales[0]
