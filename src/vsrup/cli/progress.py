"""Progress on stderr: a rich bar on a terminal, plain lines every few seconds otherwise."""

from __future__ import annotations

import sys
import time

from vsrup.cli.common import info


class ProgressView:
    """Rich bar on a terminal; plain lines every few seconds otherwise; nothing with -q."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._bar = None
        self._task = None
        self._last = 0.0

    def start(self, label: str) -> None:
        self._label = label
        if self.quiet or not self.tty:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,  # fmt: skip
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:.1f} fps"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(label, total=None, fps=0.0)

    def update(self, p) -> None:  # noqa: ANN001 - vsrup.engine.pipeline.Progress
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=p.done, total=p.total or None, fps=p.fps)
            return
        now = time.monotonic()
        if now - self._last >= 5.0 or p.done == p.total:
            self._last = now
            eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
            info(f"{self._label}: {p.done}/{p.total} frames, {p.fps:.1f} fps{eta}")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
