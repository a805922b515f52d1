"""Progress inside one long computation: sampling loops report their steps here.

A diffusion window can take minutes, so frame counts alone leave the progress bar still.
Sampling loops (at any layer: nn, methods) call `report_step(done, total)` after each step;
the engine listens with `listening_to_steps` around each `Method.process` call and turns
steps × tiles into fractional frames. With nobody listening a report costs one check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

StepListener = Callable[[int, int], None]

_listener: StepListener | None = None


def report_step(done: int, total: int) -> None:
    """`done` of `total` steps of the current computation are finished."""
    if _listener is not None:
        _listener(done, total)


@contextmanager
def listening_to_steps(listener: StepListener | None) -> Iterator[None]:
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous
