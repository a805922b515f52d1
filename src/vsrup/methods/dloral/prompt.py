"""DLoRAL's text prompt: RAM + DAPE tags of the video's first frame, as the official code does.

Official (`test_DLoRAL.py`): the first frame, prepared as every frame is (enlarged ×4, sized
to a multiple of 8), is resized to 384×384 (bilinear), normalised, and tagged by RAM carrying
DAPE's weights; the prompt is f"{tags}, {user prompt}," (user prompt "" by default). It is
encoded once and used for every frame.

vsrup does the same when the tagger's files are installed: `ram-swin-large`, `ram-tag-list`
and `ram-tag-thresholds` (`dape`, optional, goes over RAM's weights). `--opt tags=auto` (the
default) tags when they are installed and otherwise prompts with `--prompt` or the default;
`tags=on` requires them; `tags=off` never tags. The tags come from frame 0 of the video, also
when a resumed run starts later, so a resumed file matches an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vsrup.errors import UsageError, WeightsError

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet

RAM_ID, DAPE_ID, TAG_LIST_ID, THRESHOLDS_ID = (
    "ram-swin-large",
    "dape",
    "ram-tag-list",
    "ram-tag-thresholds",
)
TAGGER_IDS = (RAM_ID, DAPE_ID, TAG_LIST_ID, THRESHOLDS_ID)
REQUIRED = (RAM_ID, TAG_LIST_ID, THRESHOLDS_ID)
MODES = ("auto", "on", "off")
#: RAM's input size in DLoRAL (`ram(..., image_size=384)`).
TAG_SIZE = 384


def compose(tags: str, user_prompt: str | None) -> str:
    """The official prompt string: tags, then the user's prompt, each followed by a comma."""
    return f"{tags}, {user_prompt or ''},"


@dataclass(frozen=True)
class TaggerFiles:
    ram: Path
    dape: Path | None
    tag_list: Path
    thresholds: Path


def _file_in(path: Path, names: tuple[str, ...], model_id: str) -> Path:
    """The weights file of an installed entry: the path itself (VSRUP_WEIGHTS_<ID>=file), or
    one of `names` inside its folder."""
    if path.is_file():
        return path
    for name in names:
        if (path / name).is_file():
            return path / name
    raise WeightsError(
        f"{model_id}: none of {', '.join(names)} in this folder",
        path=path,
        hint=f"reinstall it: vsrup models download {model_id} (or models import)",
    )


def find_tagger(weights: WeightSet | None, mode: str) -> tuple[TaggerFiles | None, list[str]]:
    """(the tagger's files, or None; the required ids that are missing)."""
    from vsrup.nn import ram_weights as W

    if mode not in MODES:
        raise UsageError(f"unknown --opt tags={mode}", hint="use --opt tags=auto|on|off")
    if mode == "off" or weights is None:
        return None, []
    missing = [i for i in REQUIRED if weights.get(i) is None]
    if missing:
        if mode == "on":
            from vsrup.hub.registry import missing_weights

            raise missing_weights(missing[0])
        return None, missing
    dape = weights.get(DAPE_ID)
    files = TaggerFiles(
        ram=_file_in(weights[RAM_ID], (W.RAM_FILE,), RAM_ID),
        dape=None if dape is None else _file_in(dape, (W.DAPE_FILE, "DAPE.pth"), DAPE_ID),
        tag_list=_file_in(weights[TAG_LIST_ID], (W.TAG_LIST_FILE,), TAG_LIST_ID),
        thresholds=_file_in(weights[THRESHOLDS_ID], (W.THRESHOLD_FILE,), THRESHOLDS_ID),
    )
    return files, []


def tag_image(
    files: TaggerFiles, image: torch.Tensor, device: torch.device, dtype: torch.dtype
) -> str:
    """Tags of one prepared frame ((1, 3, H, W) in [0, 1]); the tagger is freed afterwards."""
    import torch

    from vsrup.nn.ram import normalize
    from vsrup.nn.ram_weights import load_tagger

    tagger = load_tagger(files.ram, files.dape, files.tag_list, files.thresholds)
    # The official code runs the tagger in the pipeline's dtype (fp16 by default).
    tagger = tagger.to(device=device, dtype=dtype)
    pixels = normalize(image.float(), TAG_SIZE).to(device=device, dtype=dtype)
    tags = tagger.tag(pixels)[0]
    del tagger
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return tags


@dataclass
class PendingPrompt:
    """Everything `DLoRAL.begin` needs to make the prompt from the first frame."""

    files: TaggerFiles
    encode: Callable[[str], torch.Tensor]
    user_prompt: str | None
