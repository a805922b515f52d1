"""Outputs recorded before a refactoring, replayed after it (the family-base tests).

A test module keeps `CASES` (name → a function giving a tensor) and a fixture file; running
`python tests/unit/test_<x>.py record` on the code before the change writes the file, and
the test compares each case with it afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

Cases = dict[str, Callable[[], torch.Tensor]]


def replay(fixture: Path, name: str, cases: Cases) -> tuple[torch.Tensor, torch.Tensor]:
    """(this code's output, the recorded one) of case `name`, of the same shape."""
    from safetensors.torch import load_file

    expected = load_file(fixture)[name]
    with torch.no_grad():
        got = cases[name]().float().cpu()
    assert got.shape == expected.shape
    return got, expected


def record(fixture: Path, cases: Cases) -> None:
    """Write every case's output to `fixture`."""
    from safetensors.torch import save_file

    fixture.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)  # as tests/conftest.py: reductions split the same way
    with torch.no_grad():
        save_file({k: f().float().contiguous().cpu() for k, f in cases.items()}, fixture)
