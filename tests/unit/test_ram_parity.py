"""The RAM + DAPE tagger against the official code (fixtures from tools/parity/ram.py).

The fixture tensors are written back into the official file formats (RAM: {"model": state dict}
with the head under `vision_multi.*`; DAPE: a plain state dict) and loaded through our loader:
key renames, weight tying to the captioning encoder, and the loralib merges all take part.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers_ram import FIX, fp32, official_files
from vsrup.errors import WeightsError
from vsrup.hub.safe_load import load_state_dict
from vsrup.nn import ram_weights as W
from vsrup.nn.ram import normalize

ATOL = 1e-5


def _pixels() -> torch.Tensor:
    frame = load_file(FIX / "image.safetensors")["frame"]
    return normalize(frame[None].float() / 255, 384)


def test_tagger_matches_official_logits_and_tags(tmp_path: Path) -> None:
    ram_path, dape_path = official_files(tmp_path)
    tagger = W.load_tagger(ram_path, dape_path, FIX / "tags.txt", FIX / "thresholds.txt")
    pixels = _pixels()
    with torch.no_grad():
        logits = tagger.logits(pixels)
    want = load_file(FIX / "outputs.safetensors")["logits"]
    assert (logits - want).abs().max().item() < ATOL
    expected = json.loads((FIX / "outputs.json").read_text())["tags"]
    assert expected  # the fixture's thresholds let about half the tags through
    assert tagger.tag(pixels) == [expected]


def test_dape_goes_over_ram_and_its_tied_weight_reaches_the_head(tmp_path: Path) -> None:
    ram_path, dape_path = official_files(tmp_path)
    with_dape = W.load_tagger(ram_path, dape_path, FIX / "tags.txt", FIX / "thresholds.txt")
    ram_only = W.load_tagger(ram_path, None, FIX / "tags.txt", FIX / "thresholds.txt")
    name = "tagging_head.encoder.layer.1.intermediate.dense.weight"
    dape = fp32("dape.safetensors")
    # DAPE gives this head weight only under the captioning encoder's (tied) name.
    assert torch.equal(with_dape.state_dict()[name], dape[f"tag_encoder.{name[13:]}"])
    assert not torch.equal(ram_only.state_dict()[name], with_dape.state_dict()[name])
    with torch.no_grad():
        diff = (with_dape.logits(_pixels()) - ram_only.logits(_pixels())).abs().max()
    assert diff > 1e-3


def test_imported_dape_is_smaller_and_loads_the_same(tmp_path: Path) -> None:
    ram_path, dape_path = official_files(tmp_path)
    assert dape_path is not None
    out_dir = tmp_path / "imported"
    out_dir.mkdir()
    converted = W.import_dape(dape_path, out_dir)
    kept = load_state_dict(converted)
    assert not any(k.startswith("text_decoder.") for k in kept)
    a = W.load_tagger(ram_path, dape_path, FIX / "tags.txt", FIX / "thresholds.txt")
    b = W.load_tagger(ram_path, converted, FIX / "tags.txt", FIX / "thresholds.txt")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_missing_head_weight_is_named(tmp_path: Path) -> None:
    ram = fp32("ram.safetensors")
    del ram["fc.weight"]
    path = tmp_path / "ram.pth"
    torch.save({"model": ram}, path)
    with pytest.raises(WeightsError, match=r"missing \(fc\.weight\)"):
        W.load_tagger(path, None, FIX / "tags.txt", FIX / "thresholds.txt")


def test_half_a_lora_pair_is_refused(tmp_path: Path) -> None:
    ram_path, _ = official_files(tmp_path, dape=False)
    dape = {k: v for k, v in fp32("dape.safetensors").items() if not k.endswith("lora_A")}
    path = tmp_path / "dape.pth"
    torch.save(dape, path)
    with pytest.raises(WeightsError, match="half a LoRA pair"):
        W.load_tagger(ram_path, path, FIX / "tags.txt", FIX / "thresholds.txt")


def test_tag_files_must_match_the_checkpoint(tmp_path: Path) -> None:
    ram_path, _ = official_files(tmp_path, dape=False)
    short = tmp_path / "tags.txt"
    short.write_text("\n".join(f"t{i}" for i in range(7)))
    with pytest.raises(WeightsError, match="has 40 tags, but the tag list has 7"):
        W.load_tagger(ram_path, None, short, FIX / "thresholds.txt")
    bad = tmp_path / "thresholds.txt"
    bad.write_text("0.5\nhigh\n")
    with pytest.raises(WeightsError, match="not a threshold list"):
        W.load_tagger(ram_path, None, FIX / "tags.txt", bad)


def test_a_file_that_is_not_ram_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(WeightsError, match="not a RAM checkpoint"):
        W.load_tagger(path, None, FIX / "tags.txt", FIX / "thresholds.txt")


def test_tagger_runs_in_bf16(tmp_path: Path) -> None:
    """DLoRAL runs the tagger in the pipeline's dtype (half precision on GPUs)."""
    ram_path, dape_path = official_files(tmp_path)
    tagger = W.load_tagger(ram_path, dape_path, FIX / "tags.txt", FIX / "thresholds.txt")
    tagger = tagger.to(torch.bfloat16)
    got = set(tagger.tag(_pixels().to(torch.bfloat16))[0].split(", "))
    want = set(json.loads((FIX / "outputs.json").read_text())["tags"].split(", "))
    # Every threshold is 0.02 from its fp32 probability; bf16 may flip only a rare one.
    assert len(got ^ want) <= 2, got ^ want
