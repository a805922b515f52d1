"""The resume store: keyed work dirs, exact lossless chunks, atomic manifest, clean-up."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vsrup.engine.resume import ResumeStore, job_key, quantize


@pytest.fixture
def video(tmp_path):
    p = tmp_path / "in.mp4"
    p.write_bytes(b"pretend video")
    return p


SETTINGS = {"scale": 2, "steps": 4, "color_fix": "none"}


def rand_frames(n, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    hi = 256 if dtype == np.uint8 else 65536
    return rng.integers(0, hi, (n, 17, 23, 3)).astype(dtype)  # odd sizes on purpose


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_chunks_round_trip_exactly_across_a_resume(tmp_path, video, dtype):
    store = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path / "w")
    a, b = rand_frames(3, dtype, 1), rand_frames(2, dtype, 2)
    store.add_chunk(a, [0, 1001, 2002])
    store.add_chunk(b, [3003, None])
    again = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path / "w", resume=True)
    assert again.directory == store.directory and again.frames_done == 5
    got = list(again.iter_frames())
    assert [i for i, _, _ in got] == [0, 1, 2, 3, 4]
    assert [p for _, _, p in got] == [0, 1001, 2002, 3003, None]
    assert np.array_equal(np.stack([f for _, f, _ in got]), np.concatenate([a, b]))
    assert got[0][1].dtype == dtype


def test_without_resume_the_old_work_is_discarded(tmp_path, video):
    store = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path)
    store.add_chunk(rand_frames(2), [0, 1])
    fresh = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path)
    assert fresh.frames_done == 0 and list(fresh.directory.glob("chunk-*")) == []


def test_key_depends_on_input_method_and_settings(tmp_path, video):
    k = job_key(video, "bicubic", SETTINGS)
    assert k == job_key(video, "bicubic", dict(reversed(list(SETTINGS.items()))))
    assert k != job_key(video, "lanczos", SETTINGS)
    assert k != job_key(video, "bicubic", {**SETTINGS, "steps": 5})
    video.write_bytes(b"another pretend video")
    assert k != job_key(video, "bicubic", SETTINGS)


def test_damaged_state_falls_back_to_a_safe_prefix(tmp_path, video):
    store = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path)
    for i in range(3):
        store.add_chunk(rand_frames(2, seed=i), [2 * i, 2 * i + 1])
    (store.directory / store.chunks[1].file).unlink()  # a lost chunk: keep only chunk 0
    again = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path, resume=True)
    assert again.frames_done == 2
    (again.directory / "manifest.json").write_text("{ torn")
    assert (
        ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path, resume=True).frames_done
        == 0
    )
    manifest = json.loads((again.directory / "manifest.json").read_text())
    assert manifest["chunks"] == [] and not list(again.directory.glob("*.tmp"))


def test_remove_and_input_validation(tmp_path, video):
    store = ResumeStore.open(video, "bicubic", SETTINGS, work_root=tmp_path)
    with pytest.raises(ValueError):
        store.add_chunk(np.zeros((1, 4, 4, 3), np.float32), [0])
    with pytest.raises(ValueError):
        store.add_chunk(rand_frames(2), [0])
    store.remove()
    assert not store.directory.exists()


def test_quantize():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    q8 = quantize(x)
    assert q8.shape == (1, 1, 4, 3) and q8.dtype == np.uint8
    assert q8[0, 0, :, 0].tolist() == [0, 128, 255, 255]
    assert quantize(x, 10)[0, 0, :, 0].tolist() == [0, 32768, 65535, 65535]
