"""The marker vsrup writes beside its cache for each Hub download (repo, revision, commit,
patterns), which later lookups and `vsrup models remove` read without the network."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from pathlib import Path

from vsrup.hub import registry


def marker_path(model_id: str) -> Path:
    return registry.cache_root() / ".hub" / f"{model_id}.json"


def read_marker(model_id: str) -> dict | None:
    path = marker_path(model_id)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(model_id: str, data: dict) -> None:
    path = marker_path(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def looks_complete(folder: Path, patterns: Sequence[str] | None) -> bool:
    """Each exact name exists and each glob matches something (for caches made by others)."""
    if not patterns:
        return any(folder.iterdir())
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    return all(
        (folder / pat).is_file() if not any(c in pat for c in "*?[") else fnmatch.filter(names, pat)
        for pat in patterns
    )
