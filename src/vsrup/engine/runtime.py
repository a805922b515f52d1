"""Device, dtype and memory settings for one job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vsrup.errors import DeviceError, UsageError

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


def resolve_device(name: str = "auto") -> str:
    """Turn `auto|cuda[:N]|mps|cpu` into a concrete device string, or fail clearly."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available")
        if ":" in name:
            index = int(name.split(":", 1)[1])
            if index >= torch.cuda.device_count():
                raise DeviceError(
                    f"device {name!r} requested but only {torch.cuda.device_count()} GPU(s) exist"
                )
        return name
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceError("device 'mps' requested but MPS is not available")
        return name
    if name == "cpu":
        return name
    raise UsageError(f"unknown device {name!r}", hint="use auto, cuda, cuda:N, mps or cpu")


def resolve_dtype(name: str, device: str, supported: tuple[str, ...]) -> str:
    """Pick the compute dtype: `auto` is the method's best dtype that the device runs well."""
    import torch

    if name != "auto":
        if name not in DTYPE_NAMES:
            raise UsageError(f"unknown dtype {name!r}", hint="use auto, bf16, fp16 or fp32")
        return name
    if device == "cpu":
        return "fp32"  # half precision on CPU is slow and lossy for these models
    for candidate in supported:
        if candidate == "bf16" and device.startswith("cuda") and not torch.cuda.is_bf16_supported():
            continue
        return candidate
    return "fp32"


def resolve_runtime(
    device: str = "auto",
    dtype: str = "auto",
    supported_dtypes: tuple[str, ...] = ("fp32",),
    offload: str = "none",
    vram_gb: float | None = None,
    compile: bool = False,
    seed: int = 42,
) -> Runtime:
    if offload not in ("none", "model", "sequential"):
        raise UsageError(f"unknown offload mode {offload!r}", hint="use none, model or sequential")
    concrete = resolve_device(device)
    return Runtime(
        device=concrete,
        dtype_name=resolve_dtype(dtype, concrete, supported_dtypes),
        offload=offload,
        vram_gb=vram_gb,
        compile=compile,
        seed=seed,
    )
