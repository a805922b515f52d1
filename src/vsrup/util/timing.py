"""Stage timing: a cheap API the pipeline and methods call, recorded only while benchmarking.

    from vsrup.util.timing import StageTimer

    with StageTimer("decode"):
        frames = next(reader)

Outside a benchmark (`recording()` not active) a `StageTimer` costs one global lookup on entry
and exit: nothing is measured, no device is synchronised. Given a `totals` dict it always
adds its seconds there too (the engine's own per-run counters, `JobResult.timings`), so one
set of calls feeds both. While recording, each stage's wall
time is added to its total, and the device (CUDA or MPS, when the recorder was given one) is
synchronised at the stage's entry and exit so asynchronous kernels are charged to the stage
that launched them.

Stages nest: a stage entered inside another records that parent (e.g. `denoise` inside
`method`), so reports can show sub-stages under their stage rather than adding them twice.
Stage names the reports know, in pipeline order, are listed in `STAGES`; others are allowed.
Reports add `other`: run time outside every top-level stage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")

#: Known stages in pipeline order; `method` is a method's whole process/flush call and the
#: finer diffusion stages (vae_encode, denoise, vae_decode) are recorded inside it.
STAGES: tuple[str, ...] = (
    "load",
    "decode",
    "decode_wait",
    "segmentation",
    "method",
    "vae_encode",
    "denoise",
    "vae_decode",
    "blend",
    "temporal",
    "colour",
    "resize",
    "store",
    "encode",
    "other",
)


@dataclass
class StageTotal:
    seconds: float = 0.0
    calls: int = 0
    parent: str | None = None


@dataclass
class StageTimes:
    """Wall time per stage for one run. Thread-safe: a decoder thread may record too."""

    #: "cuda..." or "mps" to synchronise that device at stage boundaries; None for CPU.
    sync_device: str | None = None
    totals: dict[str, StageTotal] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def sync(self) -> None:
        if self.sync_device is not None:
            synchronize(self.sync_device)

    def _stack(self) -> list[str]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def add(self, name: str, seconds: float, parent: str | None) -> None:
        with self._lock:
            total = self.totals.setdefault(name, StageTotal(parent=parent))
            total.seconds += seconds
            total.calls += 1

    def ordered(self) -> list[tuple[str, StageTotal]]:
        """Stages in pipeline order (known ones first), unknown ones after, by name."""
        known = [(n, self.totals[n]) for n in STAGES if n in self.totals]
        extra = sorted((n, t) for n, t in self.totals.items() if n not in STAGES)
        return known + extra


_recorder: StageTimes | None = None


class StageTimer:
    """Context manager timing one stage into the active recorder, if any, and into
    `totals[name]` when a dict is given."""

    __slots__ = ("name", "_rec", "_t0", "_parent", "_totals")

    def __init__(self, name: str, totals: dict[str, float] | None = None) -> None:
        self.name = name
        self._rec: StageTimes | None = None
        self._t0 = 0.0
        self._parent: str | None = None
        self._totals = totals

    def __enter__(self) -> StageTimer:
        rec = self._rec = _recorder
        if rec is not None:
            stack = rec._stack()
            self._parent = stack[-1] if stack else None
            stack.append(self.name)
            rec.sync()
        if rec is not None or self._totals is not None:
            self._t0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        rec, totals = self._rec, self._totals
        if rec is not None:
            rec.sync()
        if rec is None and totals is None:
            return
        seconds = time.perf_counter() - self._t0
        if totals is not None:
            totals[self.name] = totals.get(self.name, 0.0) + seconds
        if rec is not None:
            rec.add(self.name, seconds, self._parent)
            rec._stack().pop()


def timed_iter(
    name: str, items: Iterable[T], totals: dict[str, float] | None = None
) -> Iterator[T]:
    """Yield from `items`, charging the time spent producing each item to stage `name`
    (for decoders and other generators, whose work happens inside `next`)."""
    it = iter(items)
    while True:
        with StageTimer(name, totals):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item


@contextmanager
def recording(sync_device: str | None = None) -> Iterator[StageTimes]:
    """Record every StageTimer entered (in any thread) until the block ends."""
    global _recorder
    previous, _recorder = _recorder, StageTimes(sync_device=sync_device)
    try:
        yield _recorder
    finally:
        _recorder = previous


def synchronize(device: str) -> None:
    """Wait for queued kernels on an asynchronous device (no-op for the CPU)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def is_recording() -> bool:
    return _recorder is not None
