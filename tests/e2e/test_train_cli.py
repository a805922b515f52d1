"""`vsrup train` end to end on tiny synthetic weights: JSON summary, metrics, validation,
exact resume, refusals, and the export loading back through `upscale --weights` and
`models import`."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from tests.helpers_train import data_dir
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


def _train(data: Path, run: Path, *extra: str, method: str = "litevsr") -> dict:
    args = ["train", method, "--data", str(data), "-o", str(run), "--synthetic-weights", "tiny"]
    result = runner.invoke(app, [*args, "--batch", "1", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _losses(run: Path) -> list[float]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data_dir(tmp_path_factory.mktemp("train"))


@pytest.fixture(scope="module")
def trained(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("runs") / "full"
    return run, _train(data, run, "--steps", "4", "--val-every", "2", "--checkpoint-every", "2")


def test_json_summary_metrics_and_validation(trained: tuple[Path, dict]) -> None:
    run, summary = trained
    assert summary["steps_run"] == 4 and summary["processes"] == 1
    losses = _losses(run)
    assert len(losses) == 4
    assert summary["loss_first_10pct"] == pytest.approx(losses[0])
    assert summary["loss_last_10pct"] == pytest.approx(losses[-1])
    val = summary["validation"]
    for key in ("psnr", "ssim", "warp_error", "lanczos_psnr", "lanczos_ssim"):
        assert np.isfinite(val[key])
    # Random weights are far worse than Lanczos: the comparison is really made.
    assert val["lanczos_psnr"] > val["psnr"]
    pngs = sorted(p.name for p in (run / "validation").glob("*.png"))
    assert pngs == ["step-0000002.png", "step-0000004.png"]
    assert summary["export"] == str(run / "final")
    assert {p.name for p in (run / "final").iterdir()} == {"config.json", "model.safetensors"}


def test_tensorboard_gets_the_same_scalars_as_the_metrics_file(trained) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, summary = trained
    assert summary["tensorboard"] == str(run / "tensorboard")
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    loss = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert loss == [(i + 1, pytest.approx(v, rel=1e-6)) for i, v in enumerate(_losses(run))]
    assert [e.step for e in events.Scalars("val/psnr")] == [2, 4]
    assert {"train/lr", "train/samples_per_s", "val/ssim"} <= set(events.Tags()["scalars"])


def test_without_tensorboard_installed_only_the_metrics_file(data, tmp_path, monkeypatch):
    from vsrup.train import loop

    monkeypatch.setattr(loop, "tensorboard_available", lambda: False)
    summary = _train(data, tmp_path / "run", "--steps", "1")
    assert summary["tensorboard"] is None and not (tmp_path / "run" / "tensorboard").exists()
    assert len(_losses(tmp_path / "run")) == 1


def test_a_diverging_run_stops_with_one_line_and_exports_nothing(data, tmp_path, monkeypatch):
    """A loss that stops being finite (bf16 on the CPU did this to simplegvr's tiny recipe at
    step 2) ends the run with an error naming the step, before a checkpoint or an export is
    made from it."""
    from vsrup.train.objectives import objective_class

    cls = objective_class("litevsr")
    plain = cls.loss
    calls = []

    def diverging(self, model, hr, lr, gens):  # noqa: ANN001, ANN202
        calls.append(1)
        loss = plain(self, model, hr, lr, gens)
        return loss * float("nan") if len(calls) >= 3 else loss

    monkeypatch.setattr(cls, "loss", diverging)
    run = tmp_path / "run"
    args = ["train", "litevsr", "--data", str(data), "-o", str(run), "--synthetic-weights", "tiny"]
    result = runner.invoke(app, [*args, "--batch", "1", "--steps", "4", "--checkpoint-every", "2"])
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    # In fp32 the NaN reaches the gradients first: they are checked before the optimiser step
    # (the loss itself is checked once every process has it, for fp16's skipped steps).
    assert "training diverged at step 3: the gradients are not finite" in line
    assert "Traceback" not in result.output
    assert "checkpoint step-0000002 is kept" in line and "--resume" in line
    assert not (run / "final").exists()
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-0000002"]


def test_non_finite_gradients_stop_before_the_optimiser_step(tmp_path) -> None:
    import torch
    from accelerate import Accelerator

    from vsrup.errors import TrainingError
    from vsrup.train.config import TrainConfig
    from vsrup.train.loop import _check_loss, _clip_finite

    param = torch.nn.Parameter(torch.ones(3))
    param.grad = torch.tensor([1.0, float("inf"), 0.0])
    acc = Accelerator(cpu=True)
    for precision in ("no", "bf16"):
        cfg = TrainConfig(method="litevsr", data=[tmp_path], run_dir=tmp_path,
                          mixed_precision=precision)  # fmt: skip
        with pytest.raises(TrainingError, match="step 5.*gradients are not finite"):
            _clip_finite(acc, [param], 1.0, cfg, 5)
    # fp16: the gradient scaler skips the step itself (and lowers its scale).
    cfg = TrainConfig(method="litevsr", data=[tmp_path], run_dir=tmp_path, mixed_precision="fp16")
    _clip_finite(acc, [param], 1.0, cfg, 5)
    param.grad = torch.tensor([3.0, 4.0, 0.0])
    cfg = TrainConfig(method="litevsr", data=[tmp_path], run_dir=tmp_path)
    _clip_finite(acc, [param], 1.0, cfg, 5)
    assert torch.allclose(param.grad.norm(), torch.tensor(1.0))  # still clipped
    # The loss, gathered from every process, for every precision (fp16's way to stop):
    cfg = TrainConfig(method="litevsr", data=[tmp_path], run_dir=tmp_path, mixed_precision="fp16")
    with pytest.raises(TrainingError, match="step 7 with fp16 mixed precision: the loss is inf"):
        _check_loss(cfg, 7, float("inf"))
    _check_loss(cfg, 7, 0.5)


def test_interrupted_then_resumed_equals_uninterrupted(data: Path, tmp_path: Path) -> None:
    # Both runs in this test: the same thread count, so even float reductions match.
    full = tmp_path / "full"
    _train(data, full, "--steps", "4", "--val-every", "2", "--checkpoint-every", "1")
    assert sorted(p.name for p in (full / "checkpoints").iterdir()) == [
        "step-0000003",
        "step-0000004",
    ]  # the two newest are kept
    run = tmp_path / "run"
    args = ["train", "litevsr", "--data", str(data), "-o", str(run), "--synthetic-weights", "tiny"]
    first = runner.invoke(app, [*args, "--batch", "1", "--steps", "2", "--val-every", "100"])
    assert first.exit_code == 0, first.output
    for words in ("step 2/2", "loss ", "lr 2.00e-03", "samples/s", "ETA 0:00:00", "--weights"):
        assert words in first.output
    # A fresh run into the same folder is refused; so is a resume with other settings.
    again = runner.invoke(app, [*args, "--batch", "1"])
    assert again.exit_code != 0 and "--resume" in again.output
    other = runner.invoke(app, [*args, "--batch", "2", "--resume"])
    assert other.exit_code != 0 and "batch: 1 → 2" in other.output
    summary = _train(data, run, "--steps", "4", "--resume", "--val-every", "100")
    assert summary["resumed_from"] == 2 and summary["steps_run"] == 2
    assert _losses(run) == _losses(full)
    a = load_file(run / "final" / "model.safetensors")
    b = load_file(full / "final" / "model.safetensors")
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def _upscale(src: Path, out: Path, *extra: str, method: str = "litevsr") -> np.ndarray:
    args = ["upscale", str(src), "-o", str(out), "-m", method, "--scale", "4", "--codec", "ffv1"]
    result = runner.invoke(app, [*args, "--synthetic-weights", "tiny", "--steps", "1", *extra])
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_export_round_trips_into_upscale_and_models_import(
    trained, data: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    run, _ = trained
    other = tmp_path / "other"
    _train(data, other, "--steps", "2", "--lr", "0.05", "--val-every", "100")
    src = make_clip(tmp_path / "in.mkv", width=32, height=32, frames=5, codec="ffv1")
    plain = _upscale(src, tmp_path / "plain.mkv")
    mine = _upscale(src, tmp_path / "mine.mkv", "--weights", str(run / "final"))
    again = _upscale(src, tmp_path / "again.mkv", "--weights", str(run / "final"))
    theirs = _upscale(src, tmp_path / "theirs.mkv", "--weights", str(other / "final"))
    assert np.array_equal(mine, again)
    assert not np.array_equal(mine, plain) and not np.array_equal(mine, theirs)

    result = runner.invoke(
        app, ["models", "import", "litevsr", str(run / "final" / "model.safetensors")]
    )
    assert result.exit_code == 0, result.output

    bad = runner.invoke(app, ["upscale", str(src), "-o", str(tmp_path / "x.mkv"), "-m", "lanczos",
                              "--weights", str(run / "final")])  # fmt: skip
    assert bad.exit_code != 0 and "takes no --weights" in bad.output
    args = ["upscale", str(src), "-o", str(tmp_path / "y.mkv"), "-m", "litevsr"]
    empty = runner.invoke(app, [*args, "--synthetic-weights", "tiny", "--weights", str(tmp_path)])
    assert empty.exit_code != 0 and "not a trained-weights folder" in empty.output
    assert not (tmp_path / "x.mkv").exists() and not (tmp_path / "y.mkv").exists()


def test_bad_options_are_one_line_errors(data: Path, tmp_path: Path) -> None:
    base = [
        "train",
        "litevsr",
        "--data",
        str(data),
        "-o",
        str(tmp_path / "r"),
        "--synthetic-weights",
        "tiny",
    ]
    for extra, words in (
        (["--degradation", "model-guided"], "bad --degradation"),
        (["--crop", "48"], "not a multiple of 32"),
        (["--mixed-precision", "fp8"], "bad --mixed-precision"),
    ):
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code != 0 and words in result.output
        assert "Traceback" not in result.output
    result = runner.invoke(
        app, ["train", "stablevsr", "--data", str(data), "-o", str(tmp_path / "s")]
    )
    assert result.exit_code != 0 and "does not support 'stablevsr'" in result.output
