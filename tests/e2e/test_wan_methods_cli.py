"""The Wan-based methods written from their papers, end to end through the CLI with tiny
synthetic weights: every frame out, the input's timestamps, audio kept; and SimpleGVR's
latent input path."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


def _video_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return sorted(p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None)


@pytest.mark.parametrize("method", ["litevsr", "simplegvr"])
def test_upscale_with_synthetic_weights_keeps_frames_pts_audio(tmp_path: Path, method: str) -> None:
    src = make_clip(tmp_path / "in.mp4", width=24, height=16, frames=7, vfr=True, audio_tracks=1)
    out = tmp_path / "out.mp4"
    args = ["upscale", str(src), "-o", str(out), "--method", method, "--scale", "4"]
    args += ["--synthetic-weights", "tiny", "--steps", "1", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "noise" in result.output  # the CLI says synthetic weights give noise
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (96, 64)
        assert len(c.streams.audio) == 1
    assert _video_pts(out) == _video_pts(src)


def test_upscale_latents_writes_every_decoded_frame(tmp_path: Path) -> None:
    latents = tmp_path / "lat.safetensors"
    save_file({"latents": torch.randn(1, 16, 3, 2, 4)}, latents, metadata={"fps": "12"})
    out = tmp_path / "out.mp4"
    args = ["upscale-latents", str(latents), "-o", str(out), "--synthetic-weights", "tiny"]
    args += ["--steps", "1", "--scale", "2", "--opt", "attention=dense"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        assert frames == 4 * (3 - 1) + 1
        assert (v.codec_context.width, v.codec_context.height) == (64, 32)
        assert abs(float(v.average_rate) - 12) < 1e-6


def test_upscale_latents_bad_file_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    save_file({"wrong": torch.zeros(1)}, bad)
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["upscale-latents", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert "bad.safetensors" in result.output and "latents" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_upscale_latents_refuses_an_unknown_opt(tmp_path: Path) -> None:
    latents = tmp_path / "lat.safetensors"
    save_file({"latents": torch.randn(1, 16, 3, 2, 4)}, latents, metadata={"fps": "12"})
    out = tmp_path / "out.mp4"
    args = ["upscale-latents", str(latents), "-o", str(out), "--synthetic-weights", "tiny"]
    result = runner.invoke(app, [*args, "--opt", "atention=dense"])
    assert result.exit_code == 2 and "unknown --opt atention for simplegvr" in result.output
    assert "attention, noise_aug" in result.output or "noise_aug, attention" in result.output
    assert not out.exists()
