"""Progress on stderr: a rich bar on a terminal, plain lines every few seconds otherwise.

Speed and ETA come from the last half minute of work (`RateMeter`), not from the start of
the run: model loading and a slow first window would otherwise make the ETA wrong for the
whole run. Progress is fractional inside long diffusion windows (steps × tiles).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable

from vsrup.cli.common import info

#: Seconds between plain progress lines when stderr is not a terminal.
PLAIN_EVERY_S = 5.0


class RateMeter:
    """Frames per second over the last `span_s` seconds of reports."""

    def __init__(self, span_s: float = 30.0) -> None:
        self.span_s = span_s
        self.samples: deque[tuple[float, float]] = deque()

    def add(self, t: float, done: float) -> None:
        self.samples.append((t, done))
        # Keep one sample at or before the span's start so the rate covers the whole span.
        while len(self.samples) > 2 and self.samples[1][0] <= t - self.span_s:
            self.samples.popleft()

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None

    def eta_s(self, done: float, total: int) -> float | None:
        rate = self.rate()
        if rate is None or not total:
            return None
        return max(total - done, 0.0) / rate


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "ETA ?"
    s = round(seconds)
    return f"ETA {s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressView:
    """Rich bar on a terminal; plain lines every few seconds otherwise; nothing with -q."""

    def __init__(self, quiet: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.clock = clock
        self._bar = None
        self._task = None
        self._last = 0.0
        self._meter = RateMeter()

    def start(self, label: str) -> None:
        self._label = label
        self._meter = RateMeter()
        self._last = self.clock()
        if self.quiet or not self.tty:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[frames]}"),
            TextColumn("{task.fields[fps]}"),
            TextColumn("{task.fields[eta]}"),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(label, total=None, frames="", fps="", eta="")

    def line(self, done: float, total: int) -> tuple[str, str, str]:
        """(frames, fps, eta) texts."""
        rate = self._meter.rate()
        frames = f"{done:.1f}/{total}" if done != int(done) else f"{int(done)}/{total}"
        fps = f"{rate:.2f} fps" if rate is not None and rate < 10 else f"{rate or 0:.1f} fps"
        return f"{frames} frames", fps, clock_text(self._meter.eta_s(done, total))

    def update(self, p) -> None:  # noqa: ANN001 - vsrup.engine.pipeline.Progress
        if self.quiet:
            return
        now = self.clock()
        self._meter.add(now, p.done)
        frames, fps, eta = self.line(p.done, p.total)
        if self._bar is not None:
            self._bar.update(self._task, completed=p.done, total=p.total or None,
                             frames=frames, fps=fps, eta=eta)  # fmt: skip
            return
        if now - self._last >= PLAIN_EVERY_S or (p.total and p.done >= p.total):
            self._last = now
            info(f"{self._label}: {frames}, {fps}, {eta}")

    def relabel(self, label: str) -> None:
        """A new description (a distributed run counts files and segments in it)."""
        self._label = label
        if self._bar is not None:
            self._bar.update(self._task, description=label)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
