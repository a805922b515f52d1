"""Checkpoints in RUN_DIR/checkpoints/step-NNNNNNN: accelerate's `save_state` (model,
optimiser, scheduler, RNG states) plus `position.json` (optimiser steps done). The data
position is the step itself: sample indices are a function of it (see data.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

POSITION = "position.json"


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step:07d}"


def latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (one with its position file), or None."""
    root = run_dir / "checkpoints"
    done = (
        sorted(p for p in root.glob("step-*") if (p / POSITION).is_file()) if root.is_dir() else []
    )
    return done[-1] if done else None


def save(accelerator: Any, run_dir: Path, step: int, keep: int = 2) -> Path:
    """Write a checkpoint; the position file is written last, so a checkpoint interrupted
    half-way is never taken for a complete one. Keeps the newest `keep`."""
    dst = checkpoint_dir(run_dir, step)
    accelerator.save_state(str(dst))
    if accelerator.is_main_process:
        (dst / POSITION).write_text(json.dumps({"step": step}) + "\n")
        root = run_dir / "checkpoints"
        for old in sorted(p for p in root.glob("step-*") if (p / POSITION).is_file())[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return dst


def load(accelerator: Any, directory: Path) -> int:
    """Restore a checkpoint; returns the optimiser steps it had done."""
    accelerator.load_state(str(directory))
    return int(json.loads((directory / POSITION).read_text())["step"])
