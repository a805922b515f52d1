"""Where and how a method computes: the `Runtime` the engine builds and every method receives.

The engine resolves it (`vsrup.engine.runtime.resolve_runtime`); it lives here, in the method
interface, because `Method.from_weights` takes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclass
class Runtime:
    """Where and how a method computes. Built once per job by `resolve_runtime`."""

    device: str = "cpu"
    dtype_name: str = "fp32"
    offload: str = "none"  # none | model | sequential
    vram_gb: float | None = None
    compile: bool = False
    seed: int = 42

    @property
    def dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, DTYPE_NAMES[self.dtype_name])

    @property
    def torch_device(self) -> torch.device:
        import torch

        return torch.device(self.device)
