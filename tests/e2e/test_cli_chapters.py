"""Chapters and attachments survive `vsrup upscale`, or a warning says why not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers_video import attachment_names, chapter_list, tracks, with_chapters
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()
CHAPTERS = [(0.0, 0.5, "One"), (0.5, 1.0, "Two")]


def times(chapters: list[tuple[float, float, str]]) -> list[float]:
    return [t for start, end, _ in chapters for t in (start, end)]


def upscale(*args: object):  # noqa: ANN201
    return runner.invoke(app, ["upscale", *map(str, args), "-m", "nearest", "-q"])


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chapters")
    clip = make_clip(folder / "plain.mkv", frames=24, audio_tracks=1)
    return with_chapters(clip, folder / "chapters.mkv", CHAPTERS, font=b"not really a font")


@pytest.mark.parametrize("ext", [".mkv", ".mp4", ".mov"])
def test_chapters_are_kept(tmp_path: Path, source: Path, ext: str) -> None:
    out = tmp_path / f"out{ext}"
    res = upscale(source, "-o", out)
    assert res.exit_code == 0, res.output
    got = chapter_list(out)
    assert [c[2] for c in got] == ["One", "Two"]
    assert times(got) == pytest.approx(times(CHAPTERS), abs=0.01)


def test_attachments_kept_in_mkv_and_warned_about_elsewhere(tmp_path: Path, source: Path) -> None:
    assert attachment_names(source) == ["font.ttf"]
    assert upscale(source, "-o", tmp_path / "o.mkv").exit_code == 0
    assert attachment_names(tmp_path / "o.mkv") == ["font.ttf"]
    res = upscale(source, "-o", tmp_path / "o.mp4")
    assert res.exit_code == 0, res.output
    assert "attachment 'font.ttf' cannot be stored in mp4" in res.output


def test_preview_trims_and_shifts_chapters(tmp_path: Path, source: Path) -> None:
    out = tmp_path / "cut.mkv"
    assert upscale(source, "-o", out, "--frames", "6:18").exit_code == 0
    got = chapter_list(out)
    assert [c[2] for c in got] == ["One", "Two"]
    assert times(got) == pytest.approx([0.0, 0.25, 0.25, 0.5], abs=0.01)


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_cue_running_into_a_preview_is_kept(tmp_path: Path, ext: str) -> None:
    src = make_clip(tmp_path / f"s{ext}", frames=24, subtitles=True)  # cues [0, .5) [.5, 1)
    out = tmp_path / f"cut{ext}"
    assert upscale(src, "-o", out, "--frames", "6:18").exit_code == 0  # [.25, .75)
    (sub,) = tracks(out)
    assert sub["packets"] == tracks(src)[0]["packets"]  # both cues (and mp4's gap sample)
    assert sub["duration"] == pytest.approx(0.5, abs=0.01)
