"""`vsrup upscale --temporal`: on by default for a learned per-frame method, steadier output,
off on request, and an interrupted run resumes to exactly the uninterrupted output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from tests.e2e.test_engine_pipeline import decode
from vsrup import methods
from vsrup.cli.app import app
from vsrup.interface import registry
from vsrup.interface.method import Clip, Method, MethodSpec
from vsrup.video.synth import make_clip


class Flickery(Method):
    """×2 nearest upscale plus invented 'detail' drawn anew for every frame (seeded by the
    frame index, so runs are reproducible): the flicker a per-frame upscaler has."""

    spec = MethodSpec(id="test-flickery", summary="test", kind="learned", scales=(2,))
    fail_after_calls: int | None = None

    def __init__(self) -> None:
        self.calls = 0

    @classmethod
    def from_weights(cls, weights, runtime, options):  # noqa: ANN001, ANN206
        return cls()

    def process(self, clip: Clip) -> torch.Tensor:
        if Flickery.fail_after_calls is not None and self.calls >= Flickery.fail_after_calls:
            raise RuntimeError("injected failure")
        self.calls += 1
        up = F.interpolate(clip.frames, scale_factor=2, mode="nearest")
        noise = torch.stack([
            torch.randn(up.shape[1:], generator=torch.Generator().manual_seed(clip.start + i))
            for i in range(up.shape[0])
        ])  # fmt: skip
        return (up + 0.04 * noise).clamp(0, 1)


@pytest.fixture
def flickery(monkeypatch):
    methods.ids()  # load the built-ins first
    monkeypatch.setitem(registry._REGISTRY, Flickery.spec.id, Flickery)
    monkeypatch.setattr(Flickery, "fail_after_calls", None)
    return Flickery


def change(frames: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b.astype(float) - a).mean() for a, b in zip(frames, frames[1:])]))


def test_on_by_default_steadier_and_off_on_request(tmp_path, flickery):
    src = make_clip(tmp_path / "in.mkv", frames=8, width=64, height=48, codec="ffv1")
    runner = CliRunner()
    outs = {}
    for mode in ("auto", "off"):
        out = tmp_path / f"{mode}.mkv"
        res = runner.invoke(app, ["upscale", str(src), "-o", str(out), "-m", "test-flickery",
                                  "--codec", "ffv1", "-q", "--temporal", mode])  # fmt: skip
        assert res.exit_code == 0, res.output
        outs[mode] = decode(out)[0]
    # The generated clip pans about 3.6 input pixels a frame, fast for a 64×48 picture: motion
    # damping (`TemporalConfig.motion_scale`) leaves mostly the newest past output in the mean.
    assert change(outs["auto"]) < 0.9 * change(outs["off"])
    assert np.array_equal(outs["auto"][0], outs["off"][0])  # nothing to blend with yet


def test_bad_temporal_value_is_a_usage_error(tmp_path):
    src = make_clip(tmp_path / "in.mkv", frames=2, codec="ffv1")
    res = CliRunner().invoke(app, ["upscale", str(src), "--temporal", "maybe"])
    assert res.exit_code == 2 and "--temporal" in res.output


def test_interrupted_run_resumes_to_identical_output(tmp_path, flickery):
    src = make_clip(tmp_path / "in.mkv", frames=24, width=64, height=48, codec="ffv1")
    work = tmp_path / "work"
    base = ["upscale", str(src), "-m", "test-flickery", "--codec", "ffv1", "-q",
            "--batch", "3", "--work-dir", str(work), "--segment-frames", "8"]  # fmt: skip
    runner = CliRunner()
    ref = tmp_path / "ref.mkv"
    assert runner.invoke(app, [*base, "-o", str(ref)]).exit_code == 0

    out = tmp_path / "out.mkv"
    flickery.fail_after_calls = 5  # 15 frames computed, 8 of them in a finished segment
    res = runner.invoke(app, [*base, "-o", str(out)])
    assert res.exit_code == 1 and "injected failure" in res.output
    flickery.fail_after_calls = None
    res = runner.invoke(app, [*base, "-o", str(out), "--resume"])
    assert res.exit_code == 0, res.output
    assert "8 frames are finished" in res.output
    ref_frames, ref_pts = decode(ref)
    out_frames, out_pts = decode(out)
    assert out_pts == ref_pts and len(out_frames) == 24
    assert all(np.array_equal(a, b) for a, b in zip(out_frames, ref_frames, strict=True))
