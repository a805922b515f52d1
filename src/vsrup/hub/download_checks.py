"""Before any byte is fetched: which repos to try, which files, whether the disk can hold them
and whether the server can be reached at all."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from vsrup.errors import WeightsError
from vsrup.hub import env, registry

#: Free space kept beyond the download itself (caches, temporary files of other programs).
DISK_MARGIN = 256 * 1024 * 1024


def patterns_for(
    entry: registry.ModelEntry, include: Sequence[str] | None = None
) -> list[str] | None:
    if include:
        return list(include)
    return list(entry.allow_patterns or entry.files) or None


def candidates(
    entry: registry.ModelEntry, revision: str | None = None, repo: str | None = None
) -> list[tuple[str, str]]:
    """(repo, revision) pairs to try in order: an override alone, else the repo then mirrors."""
    override = repo or env.repo_override(entry.id)
    if override:
        return [(override, revision or entry.mirror_revisions.get(override, "main"))]
    if not entry.repo:
        raise WeightsError(f"{entry.id}: models.toml gives no repo to download from")
    pairs = [(entry.repo, revision or entry.revision or "main")]
    pairs += [(m, revision or entry.mirror_revisions.get(m, "main")) for m in entry.mirrors]
    return pairs


def _existing_parent(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def check_disk_space(nbytes: int, where: Path, model_id: str) -> None:
    """Refuse before downloading when `where`'s disk has less than `nbytes` + margin free."""
    if nbytes <= 0:
        return
    free = shutil.disk_usage(_existing_parent(where)).free
    if free < nbytes + DISK_MARGIN:
        raise WeightsError(
            f"{model_id}: not enough free disk space in {where}: needs {_human(nbytes)}, "
            f"{_human(free)} free",
            hint="free some space, or point HF_HUB_CACHE (Hub files) / VSRUP_HOME at a larger disk",
        )


def _human(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    return f"{size:.1f} TB"


def require_network(url: str, model_id: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with one clear line, when the server cannot be reached at all:
    huggingface_hub would otherwise retry for half a minute. Skipped behind a proxy (the
    direct connection is not the one that will be used)."""
    import os
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return
    parts = urlsplit(url)
    if not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise WeightsError(
            f"{model_id}: cannot reach {parts.hostname} ({reason}); is this machine offline?",
            hint="check the network, or copy the cache from a connected machine and use --offline",
        ) from None
