"""Device, dtype and memory settings for one job."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from vsrup.errors import DeviceError, UsageError
from vsrup.interface.runtime import DTYPE_NAMES, Runtime

if TYPE_CHECKING:
    import torch

M = TypeVar("M")


def resolve_device(name: str = "auto") -> str:
    """Turn `auto|cuda[:N]|mps|cpu` into a concrete device string, or fail clearly."""
    if name == "cpu":
        return name  # without importing torch: the CPU resamplers never need it
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
    if name != "auto":
        if name not in DTYPE_NAMES:
            raise UsageError(f"unknown dtype {name!r}", hint="use auto, bf16, fp16 or fp32")
        return name
    if device == "cpu":
        return "fp32"  # half precision on CPU is slow and lossy for these models
    import torch

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


# -- out-of-memory fallback -------------------------------------------------------------------

T = TypeVar("T")


def is_oom(exc: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA's own class, or MPS/ROCm messages)."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def empty_cache() -> None:
    """Return cached blocks to the device so a smaller retry can actually use them."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if (
        mps is not None
        and getattr(torch.backends, "mps", None)
        and torch.backends.mps.is_available()
    ):
        mps.empty_cache()


#: What to try when even the smallest tile does not fit (every option named here works for
#: every method: see `vsrup.engine.placement`).
OOM_HINT = "try --offload model, --dtype fp16/bf16, or --device cpu"


def run_with_oom_fallback(
    fn: Callable[[int], T],
    tile: int,
    *,
    min_tile: int = 64,
    multiple: int = 8,
    on_retry: Callable[[int, int], None] | None = None,
) -> T:
    """Call `fn(tile)`; on a device OOM halve the tile (aligned down to `multiple`) and retry.

    `on_retry(old, new)` is told about every retry (the CLI prints a warning); without it a
    `RuntimeWarning` is issued. Below `min_tile` we give up with a DeviceError that names the
    last tile tried and what to do next. Any other exception passes through unchanged.
    """
    if tile < min_tile:
        raise ValueError(f"tile {tile} is below the minimum {min_tile}")
    while True:
        try:
            return fn(tile)
        except RuntimeError as exc:
            if not is_oom(exc):
                raise
            # Drop the traceback's references to the failed attempt's tensors before retrying.
            del exc
            empty_cache()
            smaller = (tile // 2) // multiple * multiple
            if smaller < min_tile:
                raise DeviceError(
                    f"out of device memory even with {tile}px tiles",
                    hint=OOM_HINT,
                ) from None
            if on_retry is not None:
                on_retry(tile, smaller)
            else:
                warnings.warn(
                    f"out of device memory with {tile}px tiles; retrying with {smaller}px",
                    RuntimeWarning,
                    stacklevel=2,
                )
            tile = smaller


def tile_for_vram(
    advised: int, vram_gb: float, *, multiple: int = 8, reference_gb: float = 24.0
) -> int:
    """A method's tile advice (for a `reference_gb` card) scaled to a `--vram` budget: the
    activation area scales with memory, so the side with its square root."""
    side = int(advised * math.sqrt(max(vram_gb, 0.1) / reference_gb))
    return max(side // multiple * multiple, max(multiple, 64 // multiple * multiple))


# -- seeds, compile, offload --------------------------------------------------------------------


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (all devices); ask for deterministic kernels where the
    backend has them (warn-only: an op without one still runs)."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs this workspace setting for deterministic matmuls; set before first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def generator(runtime: Runtime, seed: int | None = None) -> torch.Generator:
    """A torch.Generator on the runtime's device seeded with `seed` (default runtime.seed)."""
    import torch

    device = runtime.device if runtime.device.startswith("cuda") else "cpu"
    return torch.Generator(device=device).manual_seed(runtime.seed if seed is None else seed)


def position_seed(seed: int, position: int) -> int:
    """The seed of the random draws for the window starting at frame `position`: a function
    of (seed, position) only, so a window draws the same noise whether it is computed in an
    uninterrupted run, after a resume or alone in another process. Position 0 keeps the seed
    itself (a one-window video draws what the official code draws for that seed)."""
    if position == 0:
        return seed
    import hashlib

    digest = hashlib.sha256(f"vsrup:{seed}:{position}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def position_generator(runtime: Runtime, seed: int, position: int) -> torch.Generator:
    """`generator` seeded with `position_seed(seed, position)`."""
    return generator(runtime, position_seed(seed, position))
