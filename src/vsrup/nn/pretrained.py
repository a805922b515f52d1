"""`from_pretrained` of a diffusers/transformers class with one clear error for a bad folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vsrup.errors import WeightsError


def load_pretrained(
    cls: Any, directory: Path, model_id: str, *, config_only: bool = False, **kwargs: Any
) -> Any:
    """`cls.from_pretrained(directory, **kwargs)`, or only its `cls.load_config(directory)` with
    `config_only`. A missing or broken folder is a WeightsError naming the folder, with the
    download command for the registry entry `model_id`."""
    load = cls.load_config if config_only else cls.from_pretrained
    what = f"the {cls.__name__} config" if config_only else cls.__name__
    try:
        return load(str(directory), **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
        # transformers 5 raises a RuntimeError for a model folder without its config.json;
        # any other RuntimeError (out of memory while loading, say) is not a bad folder.
        config_missing = not (Path(directory) / "config.json").is_file()
        if isinstance(exc, RuntimeError) and not config_missing:
            raise
        raise WeightsError(
            f"cannot load {what} ({exc.__class__.__name__})",
            path=directory,
            hint=f"run: vsrup models download {model_id}",
        ) from None
