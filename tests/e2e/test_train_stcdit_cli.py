"""`vsrup train stcdit` end to end at the tiny config: a LoRA export that `vsrup upscale -m
stcdit --weights` merges (and that changes the output), exact resume, bad folders refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from tests.e2e.test_train_cli import _losses, _train, _upscale
from tests.helpers_train import data_dir
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data_dir(tmp_path_factory.mktemp("train"))


def test_export_changes_the_upscale_and_bad_folders_are_one_line_errors(
    data: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    summary = _train(data, run, "--steps", "2", "--lr", "0.05", "--val-every", "100",
                     method="stcdit")  # fmt: skip
    final = Path(summary["export"])
    assert {p.name for p in final.iterdir()} == {"adapter_config.json", "adapter_model.safetensors"}
    src = make_clip(tmp_path / "in.mkv", width=32, height=32, frames=5, codec="ffv1")
    plain = _upscale(src, tmp_path / "plain.mkv", method="stcdit")
    mine = _upscale(src, tmp_path / "mine.mkv", "--weights", str(final), method="stcdit")
    again = _upscale(src, tmp_path / "again.mkv", "--weights", str(final), method="stcdit")
    assert np.array_equal(mine, again) and not np.array_equal(mine, plain)

    args = ["upscale", str(src), "-m", "stcdit", "--synthetic-weights", "tiny", "--weights"]
    for folder, words in (
        (tmp_path, "is not a LoRA adapter folder (no adapter_config.json"),
        (_not_an_adapter(final, tmp_path), "not a readable LoRA adapter"),
    ):
        out = tmp_path / "x.mkv"
        result = runner.invoke(app, [*args, str(folder), "-o", str(out)])
        assert result.exit_code != 0 and words in result.output, result.output
        assert "Traceback" not in result.output and not out.exists()


def _not_an_adapter(final: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text((final / "adapter_config.json").read_text())
    (bad / "adapter_model.safetensors").write_bytes(b"truncated")
    return bad


def test_interrupted_then_resumed_equals_uninterrupted(data: Path, tmp_path: Path) -> None:
    full, run = tmp_path / "full", tmp_path / "run"
    _train(data, full, "--steps", "4", "--val-every", "100", "--checkpoint-every", "1",
           method="stcdit")  # fmt: skip
    _train(data, run, "--steps", "2", "--val-every", "100", method="stcdit")
    summary = _train(data, run, "--steps", "4", "--resume", "--val-every", "100", method="stcdit")
    assert summary["resumed_from"] == 2 and summary["steps_run"] == 2
    assert _losses(run) == _losses(full)
    a = load_file(run / "final" / "adapter_model.safetensors")
    b = load_file(full / "final" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
