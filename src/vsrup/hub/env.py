"""Hub settings read when they are used, not when a module is imported, and the offline switch.

huggingface_hub reads HF_* variables once, at import. vsrup reads them at call time and passes
them explicitly (cache_dir, endpoint), so a setting changed later in the process (a test, a
library user, `--offline`) is still honoured. Nothing here imports huggingface_hub.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_TRUE = {"1", "on", "yes", "true"}
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def is_offline() -> bool:
    """True when nothing may touch the network (`--offline`, HF_HUB_OFFLINE=1)."""
    return _is_true(os.environ.get("HF_HUB_OFFLINE")) or _is_true(
        os.environ.get("TRANSFORMERS_OFFLINE")
    )


def set_offline(enabled: bool = True) -> None:
    """Switch offline mode for this process: vsrup, huggingface_hub, transformers, diffusers.

    The environment variables cover libraries imported later; huggingface_hub's constant is
    patched too when it is already imported, because it read the variable at import time.
    """
    for name in _OFFLINE_VARS:
        os.environ[name] = "1" if enabled else "0"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = enabled  # type: ignore[attr-defined]


def hf_home() -> Path:
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface"


def hf_cache_dir() -> Path:
    """The huggingface_hub cache (HF_HUB_CACHE, else HF_HOME/hub), as the library computes it."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    return Path(explicit).expanduser() if explicit else hf_home() / "hub"


def hf_endpoint() -> str | None:
    """HF_ENDPOINT (a mirror such as https://hf-mirror.com), or None for the library default."""
    value = os.environ.get("HF_ENDPOINT")
    return value.rstrip("/") if value else None


def _env_key(model_id: str) -> str:
    return model_id.upper().replace("-", "_").replace(".", "_")


def repo_override(model_id: str) -> str | None:
    """VSRUP_REPO_<ID>=owner/name: use another Hub repo (a mirror) for this entry."""
    return os.environ.get(f"VSRUP_REPO_{_env_key(model_id)}") or None


def local_override(model_id: str) -> Path | None:
    """VSRUP_WEIGHTS_<ID>=/path: use a local folder or file for this entry, as is."""
    value = os.environ.get(f"VSRUP_WEIGHTS_{_env_key(model_id)}")
    return Path(value).expanduser() if value else None
