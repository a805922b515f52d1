"""Two CPU processes (torchrun, gloo) train exactly like one process with the doubled batch:
each process takes its share of every batch and accelerate averages the gradients."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers_train import data_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


def _losses(run: Path) -> list[float]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
    reason="no torchrun",
)
def test_two_processes_equal_one_process_with_double_batch(tmp_path: Path) -> None:
    data = data_dir(tmp_path)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}  # fmt: skip
    train = ["-m", "vsrup", "train", "litevsr", "--data", str(data), "--synthetic-weights", "tiny"]
    train += ["--steps", "2", "--val-every", "100", "--json"]
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    _run([torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()), *train,
          "-o", str(tmp_path / "two"), "--batch", "1"], env)  # fmt: skip
    _run([sys.executable, *train, "-o", str(tmp_path / "one"), "--batch", "2"], env)
    # Gradient accumulation over two micro-batches of one clip: the same samples again.
    _run(
        [sys.executable, *train, "-o", str(tmp_path / "acc"), "--batch", "1", "--grad-accum", "2"],
        env,
    )
    two, one = _losses(tmp_path / "two"), _losses(tmp_path / "one")
    assert len(two) == len(one) == 2
    assert two == pytest.approx(one, rel=1e-5, abs=1e-7)
    assert _losses(tmp_path / "acc") == pytest.approx(one, rel=1e-5, abs=1e-7)
    from safetensors.torch import load_file

    a = load_file(tmp_path / "two" / "final" / "model.safetensors")
    b = load_file(tmp_path / "one" / "final" / "model.safetensors")
    assert all(float((a[k] - b[k]).abs().max()) < 1e-5 for k in a)
