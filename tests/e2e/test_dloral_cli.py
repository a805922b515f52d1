"""dloral end to end through the CLI with tiny synthetic weights: every frame out (frame 0
included), the input's timestamps, audio kept, and the noise warning."""

from __future__ import annotations

from pathlib import Path

import av
from typer.testing import CliRunner

from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


def _video_pts(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return sorted(p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None)


def test_dloral_upscale_keeps_every_frame_and_timestamp(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", width=24, height=16, frames=3, vfr=True, audio_tracks=1)
    out = tmp_path / "out.mp4"
    args = ["upscale", str(src), "-o", str(out), "--method", "dloral", "--scale", "4"]
    args += ["--synthetic-weights", "tiny", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "noise" in result.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (96, 64)
        assert len(c.streams.audio) == 1
    assert _video_pts(out) == _video_pts(src)
    assert len(_video_pts(out)) == 3


def test_models_import_converts_an_official_checkpoint(tmp_path: Path) -> None:
    """`vsrup models import dloral model.pkl` runs our converter into the vsrup cache."""
    import torch
    from diffusers import UNet2DConditionModel

    from tests.helpers_dloral import official_checkpoint
    from vsrup.hub.registry import cache_root
    from vsrup.methods.dloral import model as M
    from vsrup.methods.dloral.convert import read_converted

    net = M.build_net(UNet2DConditionModel(**M.UNET_TINY), cfr_mid_channels=8)
    torch.save(official_checkpoint(net), tmp_path / "model.pkl")
    result = runner.invoke(app, ["models", "import", "dloral", str(tmp_path / "model.pkl")])
    assert result.exit_code == 0, result.output
    state, ranks, targets = read_converted(cache_root() / "dloral" / "model.safetensors")
    assert ranks == {"quality": 4, "consistency": 4} and len(targets) == 6
    assert "unet.conv_in.base_layer.weight" in state

    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    result = runner.invoke(app, ["models", "import", "dloral", str(tmp_path / "bad.pkl")])
    assert result.exit_code == 2
    assert "bad.pkl" in result.output and "Traceback" not in result.output
