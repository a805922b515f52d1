"""Each method's objective learns on real-ish frames (generated panning clips) at the tiny
config, and its export loads back through the method's own `--weights` path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers_train import tiny_batch
from vsrup.train.objectives import objective_class

METHODS = ["litevsr", "simplegvr", pytest.param("dgaf", marks=pytest.mark.slow)]


def _fixed_loss(objective, hr: torch.Tensor, lr: torch.Tensor, draws: int = 4) -> float:  # noqa: ANN001
    """The loss on fixed noise/timesteps, so before/after compare like with like."""
    with torch.no_grad():
        return float(
            np.mean(
                [
                    objective.loss(
                        objective.trainable,
                        hr,
                        lr,
                        [torch.Generator().manual_seed(10**6 + 7 * k + i) for i in range(len(hr))],
                    ).item()
                    for k in range(draws)
                ]
            )
        )


@pytest.mark.parametrize("method", METHODS)
def test_loss_decreases_within_a_few_dozen_steps(method: str, tmp_path: Path) -> None:
    objective = objective_class(method)("tiny", torch.device("cpu"), 42)
    r = objective.recipe
    # dgaf's step is dominated by RAFT at 128×128: fewer steps, one clip, two loss draws.
    steps, batch, draws = (12, 1, 2) if method == "dgaf" else (20, r.batch, 4)
    hr, lr = tiny_batch(r.frames, r.crop, batch)
    params = [p for p in objective.trainable.parameters() if p.requires_grad]
    frozen = {
        n: p.clone() for n, p in objective.trainable.named_parameters() if not p.requires_grad
    }
    opt = torch.optim.AdamW(params, lr=r.lr)
    before = _fixed_loss(objective, hr, lr, draws)
    for step in range(steps):
        gens = [torch.Generator().manual_seed(1000 * step + i) for i in range(batch)]
        loss = objective.loss(objective.trainable, hr, lr, gens)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = _fixed_loss(objective, hr, lr, draws)
    assert after < 0.9 * before, (before, after)
    # What the paper freezes stays frozen.
    for name, p in objective.trainable.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name

    # The export is what the method's --weights loads: the trained module, byte for byte.
    out = objective.export(tmp_path / "final")
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import MethodOptions, get

    options = MethodOptions(synthetic_weights="tiny", seed=42, steps=1, weights=out)
    loaded = get(method).from_weights(None, Runtime(), options)
    module = {
        "litevsr": lambda m: m.parts.model.adapter,
        "simplegvr": lambda m: m.parts.model,
        "dgaf": lambda m: m.pipeline.dgafnet,
    }[method](loaded)
    trained = {
        "litevsr": lambda o: o.model.adapter,
        "simplegvr": lambda o: o.model,
        "dgaf": lambda o: o.net,
    }[method](objective)
    a, b = module.state_dict(), trained.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_simplegvr_model_guided_degradation_trains(tmp_path: Path) -> None:
    objective = objective_class("simplegvr")(
        "tiny", torch.device("cpu"), 1, degradation="model-guided"
    )
    hr, lr = tiny_batch(5, 64, 1)
    gens = [torch.Generator().manual_seed(3)]
    loss = objective.loss(objective.trainable, hr, lr, gens)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is None for p in objective.t2v.parameters())  # the T2V copy is frozen
    # The degraded LR latent differs from the plain one (SDEdit really ran).
    from vsrup.train.objectives.wan import encode_clips

    c0 = encode_clips(objective.parts.vae, lr)
    assert not torch.allclose(objective._model_guided(c0, [torch.Generator().manual_seed(3)]), c0)


@pytest.mark.parametrize("method", ["litevsr", "simplegvr"])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(method: str) -> None:
    hr, lr = tiny_batch(5, 64, 1)
    results = []
    for checkpointing in (False, True):
        objective = objective_class(method)("tiny", torch.device("cpu"), 42)
        calls = []
        if checkpointing:
            objective.enable_gradient_checkpointing()
            transformer = objective.model.transformer
            recompute = transformer._gradient_checkpointing_func

            def counted(*args, calls=calls, recompute=recompute, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
                calls.append(1)
                return recompute(*args, **kwargs)

            transformer._gradient_checkpointing_func = counted
        loss = objective.loss(objective.trainable, hr, lr, [torch.Generator().manual_seed(5)])
        # Every DiT block of the trained pass really went through the checkpoint function.
        assert len(calls) == (len(objective.model.transformer.blocks) if checkpointing else 0)
        loss.backward()
        grads = [p.grad.clone() for p in objective.trainable.parameters() if p.grad is not None]
        results.append((loss.item(), grads))
    (l0, g0), (l1, g1) = results
    assert l0 == pytest.approx(l1, rel=1e-6) and len(g0) == len(g1) > 0
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(g0, g1, strict=True))
