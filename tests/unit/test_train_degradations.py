"""Degradations for training: reproducible from a seed, different across seeds, right sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsrup.train.degradations.apply import degrade
from vsrup.train.degradations.codec import CODECS, compress
from vsrup.train.degradations.kernels import _bessel_j1, random_kernel
from vsrup.train.degradations.model_guided import sdedit
from vsrup.video.synth import make_frames


@pytest.mark.parametrize("pipeline", ["realworld", "aigc-flow"])
def test_same_seed_same_lr_other_seed_other_lr(pipeline: str) -> None:
    hr = make_frames(64, 48, 4, seed=1)
    runs = [degrade(hr, pipeline, 4, np.random.default_rng(s)) for s in (3, 3, 4)]
    assert runs[0].shape == (4, 12, 16, 3) and runs[0].dtype == np.uint8
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    assert not np.array_equal(runs[0], degrade(hr, "bicubic", 4, None))


@pytest.mark.parametrize("codec", CODECS)
def test_codec_round_trip_is_lossy_and_repeatable(codec: str) -> None:
    clip = make_frames(26, 19, 5, seed=2)  # odd size: padded for 4:2:0, cropped back
    out = [compress(clip, codec, 20_000) for _ in range(3)]
    assert out[0].shape == clip.shape
    assert all(np.array_equal(out[0], o) for o in out[1:])
    assert not np.array_equal(out[0], clip)


def test_kernels_sum_to_one_and_j1_matches_known_values() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        k = random_kernel(rng, (0.2, 3.0), sinc_prob=0.3)
        assert k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-9
    assert np.allclose(_bessel_j1(np.array([1.0, 5.0])), [0.44005059, -0.32757914], atol=1e-6)


def test_aigc_flow_changes_only_moving_frames() -> None:
    from vsrup.train.degradations.aigc_flow import degrade_clip

    still = np.repeat(make_frames(48, 48, 1, seed=0), 3, axis=0)
    assert np.array_equal(degrade_clip(still, np.random.default_rng(0)), still)
    moving = make_frames(48, 48, 3, seed=0)  # pans 2-3 px per frame
    out = degrade_clip(moving, np.random.default_rng(0))
    assert np.array_equal(out[0], moving[0]) and not np.array_equal(out[1:], moving[1:])


def test_sdedit_with_zero_velocity_keeps_the_noised_latent_and_alpha_zero_is_identity() -> None:
    z, eps = torch.randn(1, 4, 2, 3, 3), torch.randn(1, 4, 2, 3, 3)
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    assert torch.allclose(sdedit(z, zero, 0.0, eps), z)
    assert torch.allclose(sdedit(z, zero, 0.35, eps), 0.65 * z + 0.35 * eps)
    # v = ε − z (the exact velocity of the straight path) brings the latent back to z.
    exact = lambda x, t: eps - z  # noqa: E731
    assert torch.allclose(sdedit(z, exact, 0.35, eps, steps=3), z, atol=1e-6)


def test_vsrup_degrade_pipeline_is_reproducible_and_exclusive(tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from vsrup.cli.app import app
    from vsrup.metrics.frames import read_rgb
    from vsrup.video.synth import make_clip

    src = make_clip(tmp_path / "in.mkv", width=64, height=48, frames=10, codec="ffv1")
    runner = CliRunner()

    def run(name: str, *extra: str) -> list[np.ndarray]:
        args = ["degrade", str(src), "-o", str(tmp_path / name), "--pipeline", "realworld"]
        result = runner.invoke(app, [*args, "--clip", "4", *extra])
        assert result.exit_code == 0, result.output
        return list(read_rgb(tmp_path / name))

    a, b, c = run("a.mkv", "--seed", "3"), run("b.mkv", "--seed", "3"), run("c.mkv", "--seed", "4")
    assert len(a) == 10 and a[0].shape == (12, 16, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    bad = runner.invoke(app, ["degrade", str(src), "-o", str(tmp_path / "d.mkv"),
                              "--pipeline", "realworld", "--blur", "1"])  # fmt: skip
    assert bad.exit_code != 0 and "replaces" in bad.output and not (tmp_path / "d.mkv").exists()
