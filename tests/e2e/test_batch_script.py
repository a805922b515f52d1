"""`examples/batch.sh` works as the README shows it: without activating the venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import vsrup
from vsrup.video.synth import make_clip

SCRIPT = Path(__file__).parents[2] / "examples" / "batch.sh"


def test_batch_script_finds_the_checkouts_venv_and_skips_finished(tmp_path: Path) -> None:
    # A checkout whose .venv holds vsrup, and a PATH without it (the state after `make demo`).
    (tmp_path / "examples").mkdir()
    script = tmp_path / "examples" / "batch.sh"
    shutil.copy(SCRIPT, script)
    shim = tmp_path / ".venv" / "bin" / "vsrup"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m vsrup "$@"\n')
    shim.chmod(0o755)
    clips = tmp_path / "in"
    clips.mkdir()
    make_clip(clips / "a.mp4", frames=2)
    make_clip(clips / "b.mkv", frames=2)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(Path(vsrup.__file__).parents[1]), "OMP_NUM_THREADS": "1"}  # fmt: skip
    for key in ("HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE"):
        if key in os.environ:
            env[key] = os.environ[key]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.mkv").write_bytes(b"finished earlier")
    run = [str(script), str(clips), str(tmp_path / "out"), "--method", "nearest"]
    proc = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "done: 1, skipped (already there): 1, failed: 0" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mkv", "b.mkv"]
    assert (tmp_path / "out" / "b.mkv").read_bytes() == b"finished earlier"


def test_batch_script_without_vsrup_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    script = tmp_path / "examples" / "batch.sh"
    shutil.copy(SCRIPT, script)
    proc = subprocess.run([str(script), str(tmp_path), str(tmp_path / "o")], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)  # fmt: skip
    assert proc.returncode == 2
    assert "make demo" in proc.stderr and "activate" in proc.stderr
