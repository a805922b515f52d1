"""The training loop on Hugging Face accelerate.

One process per device (`accelerate launch` starts them, on one machine or many); mixed
precision and gradient accumulation are accelerate's. Optimiser step s, micro-batch m,
process r, item i trains on global sample ((s·A + m)·P + r)·B + i (A accumulation steps,
P processes, B clips per process), so P processes with B clips see exactly the samples one
process with P·B clips sees, and a resumed run continues with the very next sample.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsrup.errors import UsageError
from vsrup.train import checkpoint
from vsrup.train.config import TrainConfig

METRICS = "metrics.jsonl"
CONFIG = "config.json"
#: The TensorBoard run's folder under RUN_DIR (`tensorboard --logdir RUN_DIR`).
TENSORBOARD_RUN = "tensorboard"


def tensorboard_available() -> bool:
    """Whether TensorBoard logging happens: only when the package is installed (it is an
    optional extra, `pip install 'vsrup[train]'`)."""
    from accelerate.utils import is_tensorboard_available

    return bool(is_tensorboard_available())


@dataclass
class Progress:
    step: int
    total: int
    loss: float
    lr: float
    samples_per_s: float
    eta_s: float


def _resolve(cfg: TrainConfig, objective_cls: Any) -> TrainConfig:
    recipe = objective_cls.recipes["tiny" if cfg.synthetic_weights == "tiny" else "full"]
    return replace(
        cfg,
        steps=cfg.steps or recipe.steps,
        batch=cfg.batch or recipe.batch,
        grad_accum=cfg.grad_accum or recipe.grad_accum,
        lr=cfg.lr if cfg.lr is not None else recipe.lr,
        frames=cfg.frames or recipe.frames,
        crop=cfg.crop or recipe.crop,
        degradation=cfg.degradation or recipe.degradation,
    )


def _check_run_dir(cfg: TrainConfig) -> Path | None:
    """The checkpoint to resume from (None for a fresh run); refuses to mix two runs."""
    saved = cfg.run_dir / CONFIG
    last = checkpoint.latest(cfg.run_dir)
    if not cfg.resume:
        if saved.exists() or last is not None:
            raise UsageError(
                f"{cfg.run_dir} already holds a training run",
                hint="pass --resume to continue it, or choose another -o RUN_DIR",
            )
        return None
    if last is None:
        raise UsageError(f"{cfg.run_dir} holds no checkpoint to resume from")
    old = json.loads(saved.read_text())
    new = cfg.to_json()
    changed = [k for k in TrainConfig.FIXED if old.get(k) != new.get(k)]
    if changed:
        detail = ", ".join(f"{k}: {old.get(k)} → {new.get(k)}" for k in changed)
        raise UsageError(f"--resume with different settings ({detail})", path=saved)
    return last


def _generators(cfg: TrainConfig, first: int, count: int) -> list[torch.Generator]:
    from vsrup.train.seeds import seed_for

    return [torch.Generator().manual_seed(seed_for(cfg.seed, first + i, 2)) for i in range(count)]


def _batch(sampler, pipeline: str, batch: int, scale: int, first: int):  # noqa: ANN001, ANN202
    from vsrup.train.data import make_pair

    pairs = [make_pair(sampler, pipeline, scale, first + i) for i in range(batch)]

    def stack(arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrays)).permute(0, 1, 4, 2, 3).float() / 255.0

    return stack([p[0] for p in pairs]), stack([p[1] for p in pairs])


def _read_losses(run_dir: Path) -> list[float]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r["loss"] for r in rows if r.get("kind") == "train"]


def _truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop rows logged after the checkpoint a resumed run restarts from."""
    path = run_dir / METRICS
    if path.is_file():
        keep = [
            line
            for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
        ]
        path.write_text("".join(line + "\n" for line in keep))


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def train(cfg: TrainConfig, on_progress: Callable[[Progress], None] | None = None) -> dict | None:
    """Run (or continue) a training run; returns the summary `vsrup train --json` prints
    (None in processes other than the main one of a multi-process run)."""
    from vsrup.train.data import ClipSampler, find_sources
    from vsrup.train.objectives import objective_class
    from vsrup.train.validate import held_out_clips, validate

    objective_cls = objective_class(cfg.method)
    cfg = _resolve(cfg, objective_cls)
    if cfg.crop % objective_cls.crop_multiple:
        raise UsageError(
            f"--crop {cfg.crop} is not a multiple of {objective_cls.crop_multiple} ({cfg.method})"
        )
    resume_from = _check_run_dir(cfg)
    sampler = ClipSampler(find_sources(cfg.data), cfg.frames, cfg.crop, cfg.seed)
    tensorboard = tensorboard_available()
    accelerator, objective = _accelerated_objective(cfg, objective_cls, tensorboard)
    recipe = objective.recipe
    params = [p for p in objective.trainable.parameters() if p.requires_grad]
    model, optimizer, schedule = _prepared(accelerator, objective, params, cfg.lr)
    start = _start(cfg, accelerator, resume_from)
    if tensorboard:
        accelerator.init_trackers(TENSORBOARD_RUN)

    procs, rank = accelerator.num_processes, accelerator.process_index
    # Model-guided degradation happens in latent space, inside the objective, after bicubic.
    clip_pipeline = "bicubic" if cfg.degradation == "model-guided" else cfg.degradation
    clips = held_out_clips(sampler, clip_pipeline, objective.scale)
    val_steps = cfg.val_steps or (2 if cfg.synthetic_weights == "tiny" else None)
    last_val: dict[str, float] = {}
    metrics = (cfg.run_dir / METRICS).open("a") if accelerator.is_main_process else None

    def run_validation(step: int) -> None:
        nonlocal last_val
        if accelerator.is_main_process and clips:
            steps = val_steps or objective.default_val_steps
            png = cfg.run_dir / "validation" / f"step-{step:07d}.png"
            last_val = validate(objective, clips, steps, cfg.seed, png)
            metrics.write(json.dumps({"kind": "val", "step": step, **last_val}) + "\n")
            metrics.flush()
            accelerator.log({f"val/{k}": v for k, v in last_val.items()}, step=step)
        accelerator.wait_for_everyone()

    began = time.perf_counter()
    samples = 0
    for step in range(start, cfg.steps):
        total_loss = 0.0
        for micro in range(cfg.grad_accum):
            first = ((step * cfg.grad_accum + micro) * procs + rank) * cfg.batch
            hr, lr = _batch(sampler, clip_pipeline, cfg.batch, objective.scale, first)
            gens = _generators(cfg, first, cfg.batch)
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    loss = objective.loss(model, hr, lr, gens)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    _clip_finite(accelerator, params, recipe.max_grad_norm, cfg, step + 1)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
            total_loss += accelerator.gather(loss.detach().reshape(1)).mean().item()
            samples += cfg.batch * procs
        done = step + 1
        mean_loss = total_loss / cfg.grad_accum
        _check_loss(cfg, done, mean_loss)
        lr_now = schedule.get_last_lr()[0]
        elapsed = time.perf_counter() - began
        rate = samples / elapsed if elapsed > 0 else 0.0
        eta = (cfg.steps - done) * (elapsed / (done - start))
        _log_step(accelerator, metrics, done, mean_loss, lr_now, rate)
        if on_progress is not None and accelerator.is_main_process:
            on_progress(Progress(done, cfg.steps, mean_loss, lr_now, rate, eta))
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            checkpoint.save(accelerator, cfg.run_dir, done)
        if done % cfg.val_every == 0 and done != cfg.steps:
            run_validation(done)

    run_validation(cfg.steps)
    export = cfg.run_dir / "final"
    if accelerator.is_main_process:
        objective.export(export)
        metrics.close()
    accelerator.wait_for_everyone()
    accelerator.end_training()  # TensorBoard closed, process group gone: no barrier after
    if not accelerator.is_main_process:
        return None
    return {
        "method": cfg.method,
        "steps_run": cfg.steps - start,
        "steps_total": cfg.steps,
        "resumed_from": start if resume_from is not None else None,
        "processes": procs,
        "samples_per_process_step": cfg.batch * cfg.grad_accum,
        **_loss_trend(cfg.run_dir),
        "validation": last_val or None,
        "samples_per_s": samples / max(time.perf_counter() - began, 1e-9),
        "peak_memory_mb": _peak_memory_mb(accelerator.device),
        "export": str(export),
        "tensorboard": str(cfg.run_dir / TENSORBOARD_RUN) if tensorboard else None,
    }


def _clip_finite(accelerator: Any, params: list, max_norm: float | None, cfg: TrainConfig,
                 step: int) -> None:  # fmt: skip
    """Clip the gradients (when the recipe says so) and stop on non-finite ones before the
    optimiser turns them into non-finite weights. With fp16 the gradient scaler skips such
    a step and lowers its scale on its own, so only the loss is checked there."""
    norm = accelerator.clip_grad_norm_(params, max_norm or math.inf)
    if cfg.mixed_precision != "fp16" and norm is not None and not torch.isfinite(norm).all():
        raise _diverged(cfg, step, "the gradients are not finite")


def _check_loss(cfg: TrainConfig, step: int, loss: float) -> None:
    """Stop on a non-finite mean loss (every process has the same gathered value)."""
    if not math.isfinite(loss):
        raise _diverged(cfg, step, f"the loss is {loss}")


def _diverged(cfg: TrainConfig, step: int, what: str) -> Exception:
    from vsrup.errors import TrainingError

    last = checkpoint.latest(cfg.run_dir)
    kept = f"checkpoint {last.name} is kept" if last is not None else "no checkpoint was made yet"
    mixed = cfg.mixed_precision != "no"
    precision = f" with {cfg.mixed_precision} mixed precision" if mixed else ""
    again = ("then --resume continues from that checkpoint" if last is not None
             else "then start again in a new -o RUN_DIR")  # fmt: skip
    return TrainingError(
        f"training diverged at step {step}{precision}: {what}; nothing was exported ({kept})",
        path=cfg.run_dir,
        hint=f"lower --lr or train without --mixed-precision, {again}",
    )


def _log_step(
    accelerator: Any, metrics: Any, step: int, loss: float, lr: float, rate: float
) -> None:
    """One training row in metrics.jsonl (main process) and TensorBoard (when installed)."""
    if metrics is not None:
        row = {"kind": "train", "step": step, "loss": loss, "lr": lr, "samples_per_s": rate}
        metrics.write(json.dumps(row) + "\n")
        metrics.flush()
    accelerator.log({"train/loss": loss, "train/lr": lr, "train/samples_per_s": rate}, step=step)


def _accelerated_objective(
    cfg: TrainConfig, objective_cls: Any, tensorboard: bool
) -> tuple[Any, Any]:
    """The accelerate `Accelerator` of this process and the method's objective on its device."""
    from accelerate import Accelerator

    # Without a GPU, processes started by torchrun/accelerate talk over gloo on the CPU.
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=cfg.mixed_precision,
        gradient_accumulation_steps=cfg.grad_accum,
        # accelerate's own tracker: RUN_DIR/tensorboard/ when the package is installed
        log_with="tensorboard" if tensorboard else None,
        project_dir=str(cfg.run_dir) if tensorboard else None,
    )
    objective = objective_cls(
        cfg.synthetic_weights, accelerator.device, cfg.seed, degradation=cfg.degradation
    )
    if cfg.gradient_checkpointing:
        objective.enable_gradient_checkpointing()
    return accelerator, objective


def _prepared(accelerator: Any, objective: Any, params: list, lr: float) -> tuple:
    """(model, optimizer, schedule) wrapped by accelerate: AdamW with the method's recipe at a
    constant learning rate (as all three methods train)."""
    recipe = objective.recipe
    optimizer = torch.optim.AdamW(
        params, lr=lr, betas=recipe.betas, weight_decay=recipe.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return accelerator.prepare(objective.trainable, optimizer, schedule)


def _start(cfg: TrainConfig, accelerator: Any, resume_from: Path | None) -> int:
    """The step to start from: a resumed run's checkpoint (metrics logged after it are
    dropped), else 0 with the run's config written."""
    start = 0
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    if resume_from is not None:
        start = checkpoint.load(accelerator, resume_from)
        if accelerator.is_main_process:
            _truncate_metrics(cfg.run_dir, start)
    elif accelerator.is_main_process:
        (cfg.run_dir / CONFIG).write_text(json.dumps(cfg.to_json(), indent=2) + "\n")
    accelerator.wait_for_everyone()
    return start


def _loss_trend(run_dir: Path) -> dict[str, float | None]:
    """Mean training loss over the first and the last tenth of the logged steps."""
    losses = _read_losses(run_dir)
    tenth = max(1, math.ceil(len(losses) / 10))
    return {
        "loss_first_10pct": float(np.mean(losses[:tenth])) if losses else None,
        "loss_last_10pct": float(np.mean(losses[-tenth:])) if losses else None,
    }
