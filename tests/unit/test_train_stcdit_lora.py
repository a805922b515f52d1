"""STCDiT LoRA fine-tuning at the tiny config: the loss falls, only the new adapter moves,
and the export merges back (through `--weights`' loader) into the model that was trained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.helpers_train import tiny_batch
from vsrup.errors import WeightsError
from vsrup.train.objectives import objective_class


def _fixed_loss(objective, hr: torch.Tensor, lr: torch.Tensor) -> float:  # noqa: ANN001
    """The loss on fixed noise and timesteps, so before/after compare like with like."""
    with torch.no_grad():
        return float(np.mean([
            objective.loss(objective.trainable, hr, lr,
                           [torch.Generator().manual_seed(10**6 + 7 * k + i) for i in range(2)])
            .item() for k in range(4)
        ]))  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    objective = objective_class("stcdit")("tiny", torch.device("cpu"), 42)
    r = objective.recipe
    hr, lr = tiny_batch(r.frames, r.crop, r.batch)
    before_state = {k: v.clone() for k, v in objective.trainable.state_dict().items()}
    vae_state = {k: v.clone() for k, v in objective.parts.vae.state_dict().items()}
    params = [p for p in objective.trainable.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=r.lr)
    before = _fixed_loss(objective, hr, lr)
    for step in range(r.steps):
        gens = [torch.Generator().manual_seed(1000 * step + i) for i in range(r.batch)]
        loss = objective.loss(objective.trainable, hr, lr, gens)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = _fixed_loss(objective, hr, lr)
    out = objective.export(tmp_path_factory.mktemp("stcdit") / "final")
    return objective, before_state, vae_state, (before, after), out


def test_loss_decreases_and_only_the_new_lora_changes(trained) -> None:  # noqa: ANN001
    objective, before_state, vae_state, (before, after), _ = trained
    assert after < 0.9 * before, (before, after)
    changed = {k for k, v in objective.trainable.state_dict().items()
               if not torch.equal(v, before_state[k])}  # fmt: skip
    assert changed and all(".finetune." in k for k in changed)
    # Everything else, STCDiT's own LoRA included, is bit-identical.
    assert any(".lora_A.default." in k for k in before_state)
    assert all(torch.equal(v, vae_state[k]) for k, v in objective.parts.vae.state_dict().items())
    trainable = [n for n, p in objective.trainable.named_parameters() if p.requires_grad]
    assert trainable and all(".finetune." in n for n in trainable)


def test_export_is_peft_format_and_merges_into_the_trained_model(trained) -> None:  # noqa: ANN001
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import MethodOptions, get

    objective, _, _, _, out = trained
    assert {p.name for p in out.iterdir()} == {"adapter_config.json", "adapter_model.safetensors"}
    from vsrup.methods.stcdit.finetune import TARGETS

    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["target_modules"]) == (4, 4, TARGETS)
    options = MethodOptions(synthetic_weights="tiny", seed=42, steps=1, weights=out)
    merged = get("stcdit").from_weights(None, Runtime(), options).parts.model
    # Merged: no extra adapter at inference, STCDiT's own still there.
    names = [n for n, _ in merged.named_parameters()]
    assert not any(".finetune." in n for n in names) and any(".default." in n for n in names)
    x = torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    lq = torch.randn(1, 16, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    t, text = torch.tensor([500.0]), objective.parts.prompt_embeds
    base_options = MethodOptions(synthetic_weights="tiny", seed=42, steps=1)
    base = get("stcdit").from_weights(None, Runtime(), base_options).parts.model
    objective.trainable.eval()
    with torch.no_grad():
        want = objective.trainable(x, lq, [0], t, text)
        plain = base(x, lq, [0], t, text)
        got = merged(x, lq, [0], t, text)
    objective.trainable.train()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(plain, want, atol=1e-4)


def test_bad_adapters_are_weights_errors(trained, tmp_path: Path) -> None:  # noqa: ANN001
    from vsrup.methods.stcdit import pipeline
    from vsrup.methods.stcdit.finetune import merge_adapter

    _, _, _, _, out = trained
    model = pipeline.synthetic_parts("tiny", torch.device("cpu"), torch.float32, 0).model
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text((out / "adapter_config.json").read_text())
    state = load_file(out / "adapter_model.safetensors")
    save_file({k: torch.zeros(v.shape[0], v.shape[1] + 1) for k, v in state.items()},
              str(bad / "adapter_model.safetensors"))  # fmt: skip
    with pytest.raises(WeightsError, match="does not fit this model"):
        merge_adapter(model.transformer, bad)
    (bad / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match="not a readable LoRA adapter"):
        merge_adapter(model.transformer, bad)


def test_gradient_checkpointing_recomputes_every_block_with_the_same_gradients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vsrup.methods.stcdit.model import STCDiT

    calls: list[int] = []
    real = STCDiT.block_forward

    def counted(self, *args):  # noqa: ANN001, ANN002, ANN202
        calls.append(1)
        return real(self, *args)

    monkeypatch.setattr(STCDiT, "block_forward", counted)
    hr, lr = tiny_batch(5, 64, 1)
    results = []
    for checkpointing in (False, True):
        objective = objective_class("stcdit")("tiny", torch.device("cpu"), 42)
        if checkpointing:
            objective.enable_gradient_checkpointing()
        calls.clear()
        loss = objective.loss(objective.trainable, hr, lr, [torch.Generator().manual_seed(5)])
        loss.backward()
        blocks = len(objective.model.transformer.blocks)
        # Checkpointed: every block runs again in the backward pass.
        assert len(calls) == blocks * (2 if checkpointing else 1)
        grads = [p.grad.clone() for p in objective.trainable.parameters() if p.grad is not None]
        results.append((loss.item(), grads))
    (l0, g0), (l1, g1) = results
    assert l0 == pytest.approx(l1, rel=1e-6) and len(g0) == len(g1) > 0
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(g0, g1, strict=True))
