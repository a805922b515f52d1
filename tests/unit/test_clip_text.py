"""The SD family's one CLIP prompt encoder (padded to max length, last hidden state) and
the one `from_pretrained` wrapper with its clear error (`vsrup.nn.pretrained`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vsrup.errors import WeightsError
from vsrup.nn.clip_text import load_prompt_encoder

MAX_LENGTH = 12


def _tiny_snapshot(root: Path) -> Path:
    """A diffusers-style folder with a character-level CLIP tokenizer and a 2-layer encoder."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in letters:
        vocab[ch] = len(vocab)
        vocab[f"{ch}</w>"] = len(vocab)
    (root / "tokenizer").mkdir(parents=True)
    (root / "tokenizer" / "vocab.json").write_text(json.dumps(vocab))
    (root / "tokenizer" / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(root / "tokenizer" / "vocab.json"),
        str(root / "tokenizer" / "merges.txt"),
        model_max_length=MAX_LENGTH,
    )
    tokenizer.save_pretrained(root / "tokenizer")
    torch.manual_seed(0)
    config = CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=MAX_LENGTH, eos_token_id=1,
        bos_token_id=0, pad_token_id=1,
    )  # fmt: skip
    CLIPTextModel(config).save_pretrained(root / "text_encoder")
    return root


def test_prompt_is_padded_to_max_length_and_the_last_hidden_state_returned(tmp_path) -> None:
    from transformers import CLIPTextModel

    root = _tiny_snapshot(tmp_path / "sd")
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
    root = _tiny_snapshot(tmp_path / "sd")
    (root / "text_encoder" / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="CLIPTextModel") as err:
        load_prompt_encoder(root, "stablevsr")
    assert "text_encoder" in str(err.value.path) and "download stablevsr" in err.value.hint
    with pytest.raises(WeightsError, match="CLIPTokenizer"):
        load_prompt_encoder(tmp_path / "nowhere", "sd21-base")
    # Weights there but no config.json (transformers 5 raises a RuntimeError for it).
    root = _tiny_snapshot(tmp_path / "sd2")
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
