"""The SD family's one CLIP prompt encoder (padded to max length, last hidden state) and
the one `from_pretrained` wrapper with its clear error (`vsrup.nn.pretrained`)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.helpers_clip import MAX_LENGTH, tiny_clip_snapshot
from vsrup.errors import WeightsError
from vsrup.nn.clip_text import load_prompt_encoder


def test_prompt_is_padded_to_max_length_and_the_last_hidden_state_returned(tmp_path) -> None:
    from transformers import CLIPTextModel

    root = tiny_clip_snapshot(tmp_path / "sd")
    encode = load_prompt_encoder(root, "sd21-base")
    model = CLIPTextModel.from_pretrained(root / "text_encoder")
    for prompt in ("", "cat", "a very long prompt that the tokenizer has to cut"):
        assert encode(prompt).shape == (1, MAX_LENGTH, 16)
    # <start> c a t</w> <end>, then padding with <end> up to the max length.
    vocab = json.loads((root / "tokenizer" / "vocab.json").read_text())
    ids = [0, vocab["c"], vocab["a"], vocab["t</w>"], 1]
    ids += [1] * (MAX_LENGTH - len(ids))
    with torch.no_grad():
        expected = model(torch.tensor([ids])).last_hidden_state
    assert torch.equal(encode("cat"), expected)
    assert not torch.equal(encode("cat"), encode("dog"))


def test_missing_or_broken_folders_name_the_folder_and_the_download(tmp_path) -> None:
    root = tiny_clip_snapshot(tmp_path / "sd")
    (root / "text_encoder" / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="CLIPTextModel") as err:
        load_prompt_encoder(root, "stablevsr")
    assert "text_encoder" in str(err.value.path) and "download stablevsr" in err.value.hint
    with pytest.raises(WeightsError, match="CLIPTokenizer"):
        load_prompt_encoder(tmp_path / "nowhere", "sd21-base")
    # Weights there but no config.json (transformers 5 raises a RuntimeError for it).
    root = tiny_clip_snapshot(tmp_path / "sd2")
    (root / "text_encoder" / "config.json").unlink()
    with pytest.raises(WeightsError, match="CLIPTextModel"):
        load_prompt_encoder(root, "stablevsr")


def test_config_only_reads_the_config_without_weights(tmp_path) -> None:
    from diffusers import UNet2DConditionModel

    from vsrup.methods.dloral.config import UNET_TINY
    from vsrup.nn.pretrained import load_pretrained

    with torch.device("meta"):
        UNet2DConditionModel(**UNET_TINY).save_config(tmp_path)
    config = load_pretrained(UNet2DConditionModel, tmp_path, "sd21-base", config_only=True)
    assert list(config["block_out_channels"]) == [16, 32]
    with pytest.raises(WeightsError, match="cannot load the UNet2DConditionModel config"):
        load_pretrained(UNet2DConditionModel, tmp_path / "no", "sd21-base", config_only=True)
