"""Shared pieces for the STCDiT tests: fixtures of the official code, tiny models."""

from __future__ import annotations

from pathlib import Path

import torch

FIXTURES = Path(__file__).parent / "fixtures" / "stcdit"


def load_fixture(variant: str) -> tuple[dict[str, torch.Tensor], ...]:
    from safetensors.torch import load_file

    return tuple(
        load_file(FIXTURES / f"{variant}_{part}.safetensors")
        for part in ("weights", "inputs", "output")
    )


def tiny_model(preset: str = "test", seed: int = 0):  # noqa: ANN201
    from vsrup.methods.stcdit.config import PRESETS
    from vsrup.methods.stcdit.model import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(PRESETS[preset])
        # LoRA B starts at zero; make every adapter matter in tests.
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.1)
    return model.eval()
