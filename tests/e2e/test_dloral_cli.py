"""dloral end to end through the CLI with tiny synthetic weights: every frame out (frame 0
included), the input's timestamps, audio kept, and the noise warning."""

from __future__ import annotations

from pathlib import Path

import av
from typer.testing import CliRunner

from vsrup.cli.app import app
from vsrup.methods.dloral import config as C
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

    net = M.build_net(UNet2DConditionModel(**C.UNET_TINY), cfr_mid_channels=8)
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


def _pretrained_install(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A tiny sd21-base (diffusers layout), an imported official DLoRAL checkpoint, and the
    tiny RAM/DAPE parity fixture as the tagger, all through VSRUP_WEIGHTS_<ID>; the CLIP text
    encoder is a stand-in whose embeddings depend on the prompt (no tokenizer files here)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from tests.helpers_dloral import official_checkpoint
    from tests.helpers_ram import TAGS, THRESHOLDS, official_files
    from vsrup.methods.dloral import model as M
    from vsrup.methods.dloral import pipeline as PL
    from vsrup.methods.dloral.convert import convert_official

    torch.manual_seed(5)
    UNet2DConditionModel(**C.UNET_TINY).save_pretrained(tmp_path / "sd" / "unet")
    AutoencoderKL(**C.VAE_TINY).save_pretrained(tmp_path / "sd" / "vae")
    net = M.build_net(UNet2DConditionModel(**C.UNET_TINY), cfr_mid_channels=8)
    torch.save(official_checkpoint(net), tmp_path / "model.pkl")
    convert_official(tmp_path / "model.pkl", tmp_path / "dl")
    ram, dape = official_files(tmp_path)
    env = {"SD21_BASE": tmp_path / "sd", "DLORAL": tmp_path / "dl", "RAM_SWIN_LARGE": ram,
           "DAPE": dape, "RAM_TAG_LIST": TAGS, "RAM_TAG_THRESHOLDS": THRESHOLDS}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(f"VSRUP_WEIGHTS_{key}", str(value))

    def load_prompt_encoder(base_dir: Path, model_id: str):  # noqa: ANN202
        def encode(text: str) -> torch.Tensor:
            g = torch.Generator().manual_seed(sum(map(ord, text)))
            return torch.randn(1, 8, C.UNET_TINY["cross_attention_dim"], generator=g)

        return encode

    monkeypatch.setattr(PL, "load_prompt_encoder", load_prompt_encoder)


def _frames(path: Path) -> list:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_dloral_prompts_with_ram_tags_of_frame_zero(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import numpy as np

    _pretrained_install(tmp_path, monkeypatch)
    src = make_clip(tmp_path / "in.mkv", width=24, height=16, frames=3, codec="ffv1")
    base = ["upscale", str(src), "--method", "dloral", "--scale", "4", "--overwrite"]
    base += ["--opt", "min_side=16"]
    tagged = runner.invoke(app, [*base, "-o", str(tmp_path / "tags.mkv")])
    assert tagged.exit_code == 0, tagged.output
    assert "dloral: prompt from RAM tags of frame 0: 'tag" in tagged.output
    plain = runner.invoke(app, [*base, "-o", str(tmp_path / "plain.mkv"), "--opt", "tags=off"])
    assert plain.exit_code == 0, plain.output
    assert "dloral: prompt" not in plain.output
    a, b = _frames(tmp_path / "tags.mkv"), _frames(tmp_path / "plain.mkv")
    assert len(a) == len(b) == 3 and a[0].shape == (64, 96, 3)
    assert any(not np.array_equal(x, y) for x, y in zip(a, b))  # the prompt reached the UNet

    monkeypatch.delenv("VSRUP_WEIGHTS_RAM_TAG_LIST")
    missing = runner.invoke(app, [*base, "-o", str(tmp_path / "m.mkv")])
    assert missing.exit_code == 0, missing.output
    assert "automatic tags need ram-tag-list" in missing.output
    required = runner.invoke(app, [*base, "-o", str(tmp_path / "r.mkv"), "--opt", "tags=on"])
    assert required.exit_code != 0
    assert "'ram-tag-list' are not installed" in required.output
    assert not (tmp_path / "r.mkv").exists()
