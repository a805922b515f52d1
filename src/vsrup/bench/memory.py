"""Peak memory of one run: host RSS (sampled) and, on CUDA, the allocator's peak."""

from __future__ import annotations

import threading
from types import TracebackType


class PeakMemory:
    """Context manager measuring peak RSS (psutil, sampled every `interval` s in a thread, so a
    spike shorter than that can be missed) and peak VRAM (torch.cuda.max_memory_allocated and
    max_memory_reserved, reset on entry) while the block runs."""

    def __init__(self, device: str = "cpu", interval: float = 0.01) -> None:
        self.device = device
        self.interval = interval
        self.peak_rss: int = 0
        self.peak_vram: int | None = None
        self.peak_vram_reserved: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process()
        while True:
            self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, name="vsrup-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample_once()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.peak_vram = int(torch.cuda.max_memory_allocated())
            self.peak_vram_reserved = int(torch.cuda.max_memory_reserved())

    def _sample_once(self) -> None:
        import psutil

        self.peak_rss = max(self.peak_rss, psutil.Process().memory_info().rss)
