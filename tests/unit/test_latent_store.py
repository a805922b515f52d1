"""engine.latent_store: RAM below the spill size, a memory-mapped file above it, and
per-step checkpoints that survive a crash in the middle of a step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vsrup.engine.latent_store import LatentAppender, LatentStore, SteppedLatents

SHAPE = (2, 5, 3, 4)


def test_small_store_stays_in_ram(tmp_path: Path) -> None:
    store = LatentStore(SHAPE, tmp_path / "x.f32", spill_bytes=10_000)
    assert not store.spilled
    assert not (tmp_path / "x.f32").exists()
    store.write((slice(None), slice(1, 3)), torch.ones(2, 2, 3, 4))
    store.add((slice(None), slice(2, 4)), torch.ones(2, 2, 3, 4))
    got = store.read((0, slice(None), 0, 0))
    assert got.tolist() == [0.0, 1.0, 2.0, 1.0, 0.0]


def test_large_store_spills_to_a_file(tmp_path: Path) -> None:
    store = LatentStore(SHAPE, tmp_path / "x.f32", spill_bytes=100)
    assert store.spilled
    assert (tmp_path / "x.f32").stat().st_size == store.nbytes == 2 * 5 * 3 * 4 * 4
    values = torch.arange(store.nbytes // 4, dtype=torch.float32)
    store.fill_flat(values.split(16))
    store.flush()
    on_disk = np.fromfile(tmp_path / "x.f32", dtype=np.float32)
    assert np.array_equal(on_disk, values.numpy())
    store.delete()
    assert not (tmp_path / "x.f32").exists()


def test_spilling_without_a_path_is_refused() -> None:
    with pytest.raises(ValueError, match="file path"):
        LatentStore(SHAPE, None, spill_bytes=1)


def _step(states: SteppedLatents, k: int, crash: bool = False) -> None:
    out = states.begin_step()
    out.write((slice(None),), states.current.read((slice(None),)) + k)
    if crash:
        raise RuntimeError("killed in the middle of a step")
    states.commit(k)


def test_stepped_latents_resume_after_a_crash(tmp_path: Path) -> None:
    meta = {"run": 1}
    states = SteppedLatents(tmp_path, SHAPE, meta, persistent=True)
    states.current.write((slice(None),), torch.full(SHAPE, 0.5))
    for k in (1, 2):
        _step(states, k)
    with pytest.raises(RuntimeError):
        _step(states, 3, crash=True)
    expected = torch.full(SHAPE, 3.5)  # 0.5 + 1 + 2: step 3's half-written data is ignored

    again = SteppedLatents(tmp_path, SHAPE, meta, persistent=True, resume=True)
    assert again.resumed and again.step == 2
    assert torch.equal(again.current.read((slice(None),)), expected)
    _step(again, 3)
    assert torch.equal(again.current.read((slice(None),)), expected + 3)

    # Another run's checkpoint (other meta) is not picked up.
    other = SteppedLatents(tmp_path, SHAPE, {"run": 2}, persistent=True, resume=True)
    assert not other.resumed and other.step == 0


@pytest.mark.parametrize("spill_bytes", [10**9, 200])
def test_appender_builds_a_store_of_unknown_length(tmp_path: Path, spill_bytes: int) -> None:
    app = LatentAppender((2, 3), tmp_path / "rows.f32", spill_bytes=spill_bytes)
    rows = torch.arange(60, dtype=torch.float32).reshape(10, 2, 3)
    for chunk in rows.split(3):
        app.append(chunk)
    store = app.finish()
    assert store.shape == (10, 2, 3)
    assert store.spilled == (spill_bytes == 200)
    assert torch.equal(store.read((slice(None),)), rows)
