"""Where `vsrup train litevsr|simplegvr` starts from installed weights: the inference
builders of `methods/<id>/pipeline.py` with the trainable part fresh (one builder per
method, shared by `vsrup upscale` and `vsrup train`).

Tiny stand-ins of the Wan bases in diffusers layout, installed through
`VSRUP_WEIGHTS_<ID>`; the UMT5 prompt encoder is replaced by a fixed embedding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

PROMPT = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(0))


def _install_base(
    root: Path, model_id: str, transformer: dict, vae: dict, monkeypatch: pytest.MonkeyPatch
) -> torch.nn.Module:
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    torch.manual_seed(0)
    dit = WanTransformer3DModel(**transformer)
    dit.save_pretrained(root / "transformer")
    AutoencoderKLWan(**vae).save_pretrained(root / "vae")
    key = model_id.upper().replace("-", "_").replace(".", "_")
    monkeypatch.setenv(f"VSRUP_WEIGHTS_{key}", str(root))
    return dit


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_litevsr_training_starts_from_the_base_with_a_fresh_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vsrup.methods.litevsr import config as cfg
    from vsrup.methods.litevsr import pipeline
    from vsrup.train.objectives.litevsr import Objective

    dit = _install_base(
        tmp_path / "wan22", "wan22-ti2v-5b", cfg.TINY_TRANSFORMER, cfg.TINY_VAE, monkeypatch
    )
    # The adapter at the size of the stand-in base; the prompt without a UMT5 encoder.
    monkeypatch.setattr(cfg, "FULL_ADAPTER", cfg.TINY_ADAPTER)
    monkeypatch.setattr(pipeline, "encode_prompt", lambda *a: PROMPT)
    objective = Objective(None, torch.device("cpu"), seed=0)
    model = objective.parts.model
    assert _same(model.transformer, dit)
    for stream in (model.adapter.structural, model.adapter.refinement):
        assert _same(stream.patch_embedding, dit.patch_embedding)
    assert torch.equal(objective.parts.prompt_embeds, PROMPT)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"adapter"} and model.adapter.training


def test_simplegvr_training_starts_from_the_widened_t2v_and_a_fresh_upsampler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vsrup.methods.simplegvr import config as cfg
    from vsrup.methods.simplegvr import pipeline
    from vsrup.nn.wan.configs import TINY_TRANSFORMER
    from vsrup.train.objectives.simplegvr import Objective

    t2v = _install_base(
        tmp_path / "wan21", "wan21-t2v-1.3b", TINY_TRANSFORMER, cfg.TINY_VAE, monkeypatch
    )
    monkeypatch.setattr(pipeline, "encode_prompt", lambda *a: PROMPT)
    objective = Objective(None, torch.device("cpu"), seed=0)
    model = objective.parts.model
    wide = model.transformer.patch_embedding.weight
    channels = t2v.config.in_channels
    assert model.transformer.config.in_channels == 2 * channels
    assert torch.equal(wide[:, :channels], t2v.patch_embedding.weight)
    assert not wide[:, channels:].any()  # the condition starts switched off
    assert dict(model.upsampler.config)["hidden"] == cfg.FULL_UPSAMPLER["hidden"]
    assert torch.equal(objective.parts.prompt_embeds, PROMPT)
    assert all(p.requires_grad for p in model.parameters()) and model.training
