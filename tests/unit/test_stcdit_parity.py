"""Our STCDiT against the official code (fixtures written by tools/parity/stcdit.py).

The official DiT ran at a tiny config with random weights on CPU in fp32; we load its full
state dict (DiffSynth names, `pipe.dit.` prefix) through our converter's renaming and must
reproduce its velocity. Our timestep sinusoid is computed in float64 like the official one, so
the remaining gap is float32 rounding (RoPE in float32 vs complex128 officially).
"""

from __future__ import annotations

import pytest
import torch

from tests.helpers_stcdit import load_fixture
from vsrup.hub.safe_load import check_keys
from vsrup.methods.stcdit.config import PRESETS
from vsrup.methods.stcdit.convert import official_to_ours
from vsrup.methods.stcdit.model import build


@pytest.mark.parametrize(("variant", "preset"), [("tiny", "test"), ("large", "test-large")])
def test_matches_official_forward(variant: str, preset: str) -> None:
    weights, inputs, output = load_fixture(variant)
    model = build(PRESETS[preset]).eval()
    state = official_to_ours(weights)
    expected = model.state_dict()
    # The official script drops the large model's CLIP image MLP (unused by STCDiT's forward).
    unused = {k: torch.zeros_like(v) for k, v in expected.items() if "image_embedder" in k}
    check_keys(state | unused, expected)
    model.load_state_dict(state | unused)
    with torch.no_grad():
        ours = model(
            inputs["latents"],
            inputs["lq"],
            inputs["anchors"].tolist(),
            inputs["timestep"],
            inputs["context"],
        )
    ref = output["velocity"]
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=1e-5)
