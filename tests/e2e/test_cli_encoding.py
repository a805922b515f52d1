"""Encoding choices that used to go wrong silently: bit depth, --pix-fmt and --crf."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from tests.helpers_video import stream_facts
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()

#: --codec, output extension, encoder that must be in this PyAV build.
TEN_BIT_CODECS = [
    ("vp9", ".webm", "libvpx-vp9"),
    ("av1", ".mkv", "libsvtav1"),
    ("hevc", ".mp4", "libx265"),
    ("prores", ".mov", "prores_ks"),
    ("ffv1", ".mkv", "ffv1"),
]


def upscale(*args: object):  # noqa: ANN201
    return runner.invoke(app, ["upscale", *map(str, args), "-q", "-m", "nearest"])


def encoder_bits(encoder: str) -> set[int]:
    """Bit depths of the YUV formats this build's encoder takes."""
    names = [f.name for f in av.codec.Codec(encoder, "w").video_formats or []]
    return {10 if "p10" in n else 8 for n in names if n.startswith("yuv")}


@pytest.fixture(scope="module")
def ten_bit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deep")
    return make_clip(folder / "deep.mkv", frames=2, codec="libx265", pix_fmt="yuv420p10le")


def error_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("vsrup: error:")]


@pytest.mark.parametrize(("codec", "ext", "encoder"), TEN_BIT_CODECS)
def test_ten_bit_stays_ten_bit_or_is_refused(
    tmp_path: Path, ten_bit: Path, codec: str, ext: str, encoder: str
) -> None:
    if encoder not in av.codecs_available:
        pytest.skip(f"{encoder} is not in this PyAV build")
    out = tmp_path / f"out{ext}"
    res = upscale(ten_bit, "-o", out, "--codec", codec)
    if 10 in encoder_bits(encoder):
        assert res.exit_code == 0, res.output
        assert "10" in stream_facts(out)["pix_fmt"]
    else:  # e.g. a libvpx built without high bit depth: one line, nothing written
        print(f"{encoder} in this build has no 10-bit formats: checking the refusal")
        assert res.exit_code == 2, res.output
        (line,) = error_lines(res.output)
        assert "10-bit" in line and "--pix-fmt yuv420p" in line
        assert not out.exists()


def test_webm_default_keeps_ten_bit(tmp_path: Path, ten_bit: Path) -> None:
    out = tmp_path / "out.webm"
    res = upscale(ten_bit, "-o", out)
    assert res.exit_code == 0, res.output
    assert "10" in stream_facts(out)["pix_fmt"]
    if 10 not in encoder_bits("libvpx-vp9"):
        assert "cannot encode 10-bit; using av1" in res.output


def test_eight_bit_on_request(tmp_path: Path, ten_bit: Path) -> None:
    out = tmp_path / "out.webm"
    res = upscale(ten_bit, "-o", out, "--codec", "vp9", "--pix-fmt", "yuv420p")
    assert res.exit_code == 0, res.output
    assert stream_facts(out)["pix_fmt"] == "yuv420p"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--pix-fmt", "gray"], "without alpha"),
        (["--pix-fmt", "yuva420p", "--codec", "vp9", "-o", "x.webm"], "without alpha"),
        (["--pix-fmt", "nonsense"], "unknown --pix-fmt"),
        (["--crf", "60"], "0-51"),
        (["--crf", "70", "--codec", "av1", "-o", "x.mkv"], "0-63"),
    ],
)
def test_bad_encode_options_are_refused(tmp_path: Path, args: list[str], words: str) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=1)
    if "-o" in args:
        args[args.index("-o") + 1] = str(tmp_path / args[args.index("-o") + 1])
    else:
        args = [*args, "-o", str(tmp_path / "o.mp4")]
    res = upscale(src, *args)
    assert res.exit_code == 2, res.output
    (line,) = error_lines(res.output)
    assert words in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-m", "span", "--model", "bogus"], "span has no model variants"),
        (["-m", "realesrgan", "--model", "bogus"], "animevideov3"),
        (["-m", "lanczos", "--opt", "colour=1"], "--opt colour: lanczos takes no --opt"),
        (["-m", "span", "--opt", "tiles=1"], "use one of: batch"),
        (["-m", "lanczos", "--prompt", "a cat"], "lanczos does not use a prompt"),
        (["-m", "dloral", "--negative-prompt", "x"], "dloral does not use a negative prompt"),
        (["-m", "bogus"], "unknown method"),
    ],
)
def test_options_a_method_would_ignore_are_refused(
    tmp_path: Path, args: list[str], words: str
) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=1)
    res = runner.invoke(app, ["upscale", str(src), "-o", str(tmp_path / "o.mp4"), *args])
    assert res.exit_code == 2, res.output
    (line,) = error_lines(res.output)
    assert words in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]
