"""Every registered method is stateless between windows: a run resumed at frame k by a fresh
instance (what happens after a crash) gives exactly the frames an uninterrupted run gives.

Tiny synthetic weights on CPU; windows shortened to 9 frames (overlap 4) so a short clip spans
several of them. A method that carried a random generator or a previous frame across
`process` calls would draw other noise or pair other frames after the skipped window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vsrup import methods
from vsrup.engine.runtime import Runtime, position_seed
from vsrup.engine.scheduler import StreamOptions, run_stream
from vsrup.interface.method import MethodOptions


def build(method_id: str):
    """A fresh instance as a fresh process builds it (`run_job` seeds before loading)."""
    torch.manual_seed(5)
    cls = methods.get(method_id)
    spec = cls.spec
    short = dataclasses.replace(
        spec, window=min(spec.window, 9), overlap=min(spec.overlap, 4), tile=None
    )
    sub = type(cls.__name__, (cls,), {"spec": short})
    steps = 2 if spec.kind == "diffusion" and method_id != "dloral" else None
    options = MethodOptions(synthetic_weights="tiny", scale=spec.scales[0], steps=steps, seed=5)
    return sub.from_weights(None, Runtime(), options)


def frames(n: int, h: int = 16, w: int = 16):
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(3, h, w, generator=g), 40 * i) for i in range(n)]


def run(method, src, resume_from=0):
    out: list[np.ndarray] = []
    run_stream(
        src, method, lambda f, p: out.append(f), None, StreamOptions(resume_from=resume_from)
    )
    return out


@pytest.mark.parametrize("method_id", methods.ids())
def test_resumed_by_a_fresh_instance_equals_uninterrupted(method_id):
    # 13 frames: windows [0, 9) and [4, 13); resuming at 10 skips the first, so the second
    # runs alone, in a fresh instance, as after a crash.
    src = frames(13)
    reference = run(build(method_id), src)
    assert len(reference) == 13
    resumed = run(build(method_id), src, resume_from=10)
    assert len(resumed) == 3
    same = [np.array_equal(a, b) for a, b in zip(resumed, reference[10:])]
    assert all(same), f"{method_id}: resumed at frame 10, frames differ: {same}"


def test_position_seed_depends_on_seed_and_position_only():
    assert position_seed(42, 0) == 42  # one window: the seed the official code would use
    assert position_seed(42, 9) == position_seed(42, 9) != position_seed(42, 10)
    assert position_seed(42, 9) != position_seed(43, 9)
