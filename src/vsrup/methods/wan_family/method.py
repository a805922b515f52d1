"""`WanMethod`: the Method class the Wan-family members subclass.

It owns what the three share: `from_weights` (synthetic weights, optionally with the member's
trained weights on top, or the installed ones, every registry id checked first), the instance
settings (steps, scale, seed, device) and the per-window noise generator. A member supplies
its spec, its component builders (`synthetic_parts`, `pretrained_parts`, `with_trained`) and
its pipeline (`make_pipeline`).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vsrup.errors import UsageError
from vsrup.interface.method import Clip, Method, MethodOptions

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.wan_family.components import WanComponents
    from vsrup.methods.wan_family.pipeline import WanPipeline


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
        `own_weights` override this; the engine refuses --weights for the others)."""
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
