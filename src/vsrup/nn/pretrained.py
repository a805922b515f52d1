"""`from_pretrained` of a diffusers/transformers class with one clear error for a bad folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vsrup.errors import WeightsError


def load_pretrained(cls: Any, directory: Path, model_id: str, **kwargs: Any) -> Any:
    """`cls.from_pretrained(directory, **kwargs)`; a missing or broken folder is a WeightsError
    naming the folder, with the download command for the registry entry `model_id`."""
    try:
        return cls.from_pretrained(str(directory), **kwargs)
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"cannot load {cls.__name__} ({exc.__class__.__name__})",
            path=directory,
            hint=f"run: vsrup models download {model_id}",
        ) from None
