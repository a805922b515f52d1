"""`vsrup upscale`: the -o rule, batch re-runs, --json and image in → image out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import vsrup
from tests.helpers_video import stream_facts, video_pts_seconds
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


def upscale(*args: object):  # noqa: ANN201
    return runner.invoke(app, ["upscale", *map(str, args), "-q", "-m", "lanczos"])


def error_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("vsrup: error:")]


def test_output_into_a_new_folder_ending_in_slash_is_a_video(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=2)
    res = upscale(src, "-o", f"{tmp_path}/new/dir/")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == ["a_x2.mp4"]


@pytest.mark.parametrize("name", ["noext", "out.avi", "still.png"])
def test_output_without_a_known_kind_is_refused(tmp_path: Path, name: str) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=2)
    res = upscale(src, "-o", tmp_path / name)
    assert res.exit_code == 2, res.output
    (line,) = error_lines(res.output)
    assert str(tmp_path / name) in line and "partial" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_image_pattern_creates_its_folder(tmp_path: Path, ext: str) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=3)
    res = upscale(src, "-o", tmp_path / "frames" / f"%04d.{ext}")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        f"{i:04d}.{ext}" for i in range(3)
    ]


def test_single_image_in_gives_an_image_out(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=1)
    assert upscale(src, "-o", tmp_path / "f" / "%02d.png").exit_code == 0
    still = tmp_path / "f" / "00.png"
    res = upscale(still)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f" / "00_x2.png").is_file()
    res = upscale(still, "-o", tmp_path / "still_up.png")
    assert res.exit_code == 0, res.output
    import cv2

    assert cv2.imread(str(tmp_path / "still_up.png")).shape == (192, 256, 3)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_batch_rerun_skips_finished_and_never_takes_own_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "x").mkdir(parents=True)
    (folder / "y").mkdir()
    for rel in ("d.mp4", "x/c.mp4", "y/c.mp4"):
        make_clip(folder / rel, frames=2)
    first = upscale(folder)
    assert first.exit_code == 0, first.output
    again = upscale(folder)
    assert again.exit_code == 0, again.output
    assert "0 done, 3 skipped, 0 failed" in again.output
    assert _tree(folder) == ["d.mp4", "d_x2.mp4", "x/c.mp4", "x/c_x2.mp4", "y/c.mp4",
                             "y/c_x2.mp4"]  # fmt: skip


def test_batch_into_a_folder_mirrors_the_tree_and_reruns_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "x").mkdir(parents=True)
    (folder / "y").mkdir()
    for rel in ("x/c.mp4", "y/c.mp4"):
        make_clip(folder / rel, frames=2)
    out = folder / "out"  # inside the input folder: its contents are never inputs
    assert upscale(folder, "-o", f"{out}/").exit_code == 0
    res = upscale(folder, "-o", out)
    assert res.exit_code == 0, res.output
    assert "0 done, 2 skipped, 0 failed" in res.output
    assert _tree(out) == ["x/c_x2.mp4", "y/c_x2.mp4"]


def test_json_one_object_per_input(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a.mp4", frames=3)
    (folder / "b.mp4").write_text("broken")
    res = runner.invoke(app, ["upscale", str(folder), "-o", f"{tmp_path}/o/", "-m", "lanczos",
                              "--json", "-q"])  # fmt: skip
    rows = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
    assert [(r["input"], r["status"]) for r in rows] == [
        (str(folder / "a.mp4"), "ok"), (str(folder / "b.mp4"), "failed")]  # fmt: skip
    ok, bad = rows
    assert ok["frames"] == 3 and ok["method"] == "lanczos" and ok["fps"] > 0
    assert set(ok) == {"input", "output", "method", "frames", "seconds", "fps", "warnings",
                       "status", "error"}  # fmt: skip
    assert "b.mp4" in bad["error"]


def test_json_piped_to_head_has_no_broken_pipe(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in "abcd":
        make_clip(folder / f"{name}.mp4", frames=2)
    env = dict(os.environ, PYTHONPATH=str(Path(vsrup.__file__).parents[1]))
    cmd = (f"{sys.executable} -m vsrup upscale {folder} -m lanczos --json -q"
           " | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}")  # fmt: skip
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Broken pipe" not in proc.stderr and "Traceback" not in proc.stderr
    assert len(list(folder.glob("*_x2.mp4"))) == 4


@pytest.mark.parametrize("start", ["0:00.25", "00:00:00.250", "0.25"])
def test_start_as_clock_time(tmp_path: Path, start: str) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=12)
    out = tmp_path / "o.mp4"
    assert upscale(src, "-o", out, "--start", start).exit_code == 0
    assert len(video_pts_seconds(out)) == 6 and stream_facts(out)["width"] == 128
