"""StableVSR's official checkpoint is already our layout; this module checks that it is.

The HF snapshot `claudiom4sir/StableVSR` holds diffusers folders (`unet/`, `controlnet/`,
`vae/`, `scheduler/`, `text_encoder/`, `tokenizer/`) with diffusers' own key names, so nothing
is renamed and no file is rewritten. What the convert step still owes is strictness: every
folder present, and every network's keys and shapes exactly the model's. diffusers only warns
about a missing or unexpected key and initialises the missing weight randomly, which would
make a damaged snapshot upscale with noise instead of failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import check_keys
from vsrup.nn.pretrained import load_pretrained

if TYPE_CHECKING:
    import torch

#: The SD ×4 upscaler base StableVSR and DGAF-VSR share (the ControlNet is StableVSR's own).
BASE_FOLDERS = ("unet", "vae", "scheduler", "text_encoder", "tokenizer")


def require_folders(root: Path, model_id: str, folders: tuple[str, ...]) -> None:
    """WeightsError naming the first of `folders` that `root` (a snapshot) lacks."""
    for name in folders:
        if not (root / name).is_dir():
            raise WeightsError(
                f"the {model_id!r} snapshot has no {name}/ folder",
                path=root,
                hint=f"run: vsrup models download {model_id}",
            )


def load_checked(cls: Any, folder: Path, dtype: torch.dtype, model_id: str) -> Any:
    """`cls.from_pretrained(folder)` in `dtype`, refusing any missing or unexpected key."""
    require_folders(folder.parent, model_id, (folder.name,))
    # A shape mismatch already fails inside diffusers (a WeightsError from load_pretrained).
    model, info = load_pretrained(
        cls, folder, model_id, torch_dtype=dtype, output_loading_info=True
    )
    expected = model.state_dict()
    # What the files held, from diffusers' report: the model's keys less the missing ones,
    # plus the unexpected ones (their shapes are never compared), for the one strict check.
    found: dict[str, Any] = {k: v for k, v in expected.items() if k not in info["missing_keys"]}
    found.update(dict.fromkeys(info["unexpected_keys"]))
    check_keys(
        found,
        expected,
        what=f"{model_id}/{folder.name}",
        path=folder,
        hint=f"the snapshot is damaged or another model's; run: vsrup models download {model_id}",
    )
    return model
