"""Training clips: every source kind, determinism per (seed, index), hold-out, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers_train import data_dir
from vsrup.errors import InputError, UsageError
from vsrup.train.data import ClipSampler, find_sources, make_pair


def test_sources_found_and_samples_depend_only_on_seed_and_index(tmp_path: Path) -> None:
    sources = find_sources([data_dir(tmp_path, size=(96, 80))])
    assert sorted(s.path.name for s in sources) == ["a.mkv", "seq"]
    assert all(s.count == 12 for s in sources)
    a = ClipSampler(sources, frames=3, crop=32, seed=7)
    b = ClipSampler(sources, frames=3, crop=32, seed=7)
    assert a.sample(5).shape == (3, 32, 32, 3)
    assert np.array_equal(a.sample(5), b.sample(5))
    assert any(not np.array_equal(a.sample(5), a.sample(i)) for i in range(6, 9))
    assert not np.array_equal(a.sample(5), ClipSampler(sources, 3, 32, seed=8).sample(5))
    hr, lr = make_pair(a, "realworld", 4, 5)
    assert lr.shape == (3, 8, 8, 3) and np.array_equal(make_pair(a, "realworld", 4, 5)[1], lr)


def test_held_out_tail_is_never_trained_on(tmp_path: Path) -> None:
    sources = find_sources([data_dir(tmp_path, frames=8, size=(64, 48))])
    sampler = ClipSampler(sources, frames=4, crop=32, seed=0)
    assert [start for _, start in sampler.held_out()] == [4, 4]
    assert sampler.train_counts == [4, 4]  # only frames 0..3 can start a training clip


def test_too_short_sources_and_empty_folders_are_one_clear_error(tmp_path: Path) -> None:
    sources = find_sources([data_dir(tmp_path, frames=4, size=(64, 48))])
    with pytest.raises(UsageError, match="no source has 5 frames"):
        ClipSampler(sources, frames=5, crop=32, seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos"):
        find_sources([tmp_path / "empty"])
    with pytest.raises(InputError, match="no such"):
        find_sources([tmp_path / "missing"])
