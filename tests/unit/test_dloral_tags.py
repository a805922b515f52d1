"""DLoRAL's automatic prompt: RAM + DAPE tags of frame 0, composed as the official code does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers_ram import TAGS, THRESHOLDS, official_files
from vsrup.errors import UsageError, WeightsError
from vsrup.hub.registry import WeightSet
from vsrup.interface.method import Clip
from vsrup.methods.dloral import DLoRAL
from vsrup.methods.dloral import config as C
from vsrup.methods.dloral import pipeline as PL
from vsrup.methods.dloral import prompt as P
from vsrup.nn.ram import normalize
from vsrup.nn.ram_weights import load_tagger


def _weights(tmp_path: Path, *, dape: bool = True, lists: bool = True) -> WeightSet:
    ram, dape_path = official_files(tmp_path, dape=dape)
    paths = {"ram-swin-large": ram}
    if dape_path is not None:
        paths["dape"] = dape_path
    if lists:
        paths["ram-tag-list"] = TAGS  # a file (VSRUP_WEIGHTS_<ID>=file) or a folder holding it
        (tmp_path / "thr").mkdir()
        (tmp_path / "thr" / "ram_tag_list_threshold.txt").write_text(THRESHOLDS.read_text())
        paths["ram-tag-thresholds"] = tmp_path / "thr"
    return WeightSet(paths)


def test_modes_pick_the_tagger_or_say_what_is_missing(tmp_path: Path) -> None:
    full = _weights(tmp_path)
    files, missing = P.find_tagger(full, "auto")
    assert files is not None and files.dape is not None and missing == []
    assert files.thresholds.name == "ram_tag_list_threshold.txt"
    assert P.find_tagger(full, "off") == (None, [])
    assert P.find_tagger(None, "auto") == (None, [])  # synthetic weights: no tagger
    partial = WeightSet({"ram-swin-large": files.ram})
    assert P.find_tagger(partial, "auto") == (None, ["ram-tag-list", "ram-tag-thresholds"])
    with pytest.raises(WeightsError, match="'ram-tag-list' are not installed"):
        P.find_tagger(partial, "on")
    with pytest.raises(UsageError, match="tags=maybe"):
        P.find_tagger(full, "maybe")


def test_official_prompt_format() -> None:
    assert P.compose("cat, dog", None) == "cat, dog, ,"
    assert P.compose("cat", "8k") == "cat, 8k,"


def _method(tmp_path: Path, user_prompt: str | None, seen: list[str]) -> DLoRAL:
    parts = PL.synthetic_components("tiny", torch.device("cpu"), torch.float32, seed=3)
    tiling = C.Tiling(min_short_side=16)
    files, _ = P.find_tagger(_weights(tmp_path), "auto")
    assert files is not None

    def encode(text: str) -> torch.Tensor:
        seen.append(text)
        g = torch.Generator().manual_seed(len(text))
        return torch.randn(parts.prompt_embeds.shape, generator=g)

    pending = P.PendingPrompt(files, encode, user_prompt)
    return DLoRAL(PL.PairRunner(parts, tiling), pending, (), "unused")


def test_begin_tags_the_prepared_first_frame_and_switches_the_prompt(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(3, 3, 16, 24, generator=g)
    seen: list[str] = []
    method = _method(tmp_path, "film grain", seen)
    assert method.resume_settings() == {"tags": "ram+dape"}
    before = method.runner.parts.prompt_embeds.clone()
    note = method.begin(frames[0])

    # What the official pipeline tags: frame 0 as prepared for the network (×4, multiple of 8).
    image, _ = PL.prepare_image(frames[0], 16)
    assert image.shape[-2:] == (64, 96)
    ram, dape = official_files(tmp_path, dape=True)
    tags = load_tagger(ram, dape, TAGS, THRESHOLDS).tag(normalize(image, 384))[0]
    assert tags.startswith("tag00, tag02")
    assert seen == [f"{tags}, film grain,"]
    assert note == f"dloral: prompt from RAM tags of frame 0: '{tags}, film grain,'"
    assert not torch.equal(method.runner.parts.prompt_embeds, before)
    assert method.begin(frames[0]) is None  # once per video; the text encoder is gone
    out = method.process(Clip(frames))
    assert out.shape == (3, 3, 64, 96)


def test_missing_tagger_is_announced_with_the_prompt_in_use() -> None:
    parts = PL.synthetic_components("tiny", torch.device("cpu"), torch.float32, seed=3)
    method = DLoRAL(PL.PairRunner(parts), None, ("ram-swin-large",), "clean, 8k")
    assert method.resume_settings() == {"tags": "off"}
    note = method.begin(torch.rand(3, 8, 8))
    assert note is not None
    assert "prompt 'clean, 8k'" in note and "ram-swin-large" in note and "--optional" in note
