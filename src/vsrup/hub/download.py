"""Fetching weights: the only module of vsrup that imports huggingface_hub (a lint-imports rule).

`download()` takes a models.toml entry to the local cache: Hub repos through huggingface_hub's
cache (pinned revision, allow-patterns, its retries and resume of interrupted transfers), single
files from a URL with our own resumable partial file. Before any byte is fetched it asks the Hub
what would be downloaded and refuses when the disk cannot hold it. When the main repo is gone it
tries the entry's mirrors in order. Every library exception becomes one WeightsError line naming
the next command to run (`_ERRORS`, first match wins; the messages are in `download_messages`).
The checks made before fetching are in `download_checks`, the cache marker in `snapshot_marker`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub import constants as hf_constants
from huggingface_hub import scan_cache_dir, snapshot_download
from huggingface_hub.errors import (
    DisabledRepoError,
    DryRunError,
    FileMetadataError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
)

from vsrup.errors import UsageError, WeightsError
from vsrup.hub import download_messages as msg
from vsrup.hub import env, registry
from vsrup.hub.download_checks import (
    DISK_MARGIN,
    candidates,
    check_disk_space,
    patterns_for,
    require_network,
)
from vsrup.hub.importer import import_weights
from vsrup.hub.snapshot_marker import looks_complete, marker_path, read_marker, write_marker
from vsrup.hub.verify import check_file, sha256_file

__all__ = [
    "DISK_MARGIN",
    "DownloadResult",
    "cached_snapshot",
    "candidates",
    "check_disk_space",
    "download",
    "map_error",
    "patterns_for",
    "read_marker",
    "remove_snapshot",
    "require_network",
]

_COMMIT = 40


@dataclass(frozen=True)
class DownloadResult:
    model_id: str
    repo: str | None
    commit: str | None  # the resolved Hub commit, to pin in models.toml
    path: Path
    nbytes: int  # bytes that had to be fetched (0 when everything was cached)
    pinned: bool  # True when models.toml already pins this exact commit


# ---------------------------------------------------------------- errors


def _msg_network(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    # Here rather than in download_messages: it names the library's default endpoint.
    endpoint = env.hf_endpoint() or hf_constants._HF_DEFAULT_ENDPOINT
    return WeightsError(
        f"{mid}: cannot reach {endpoint} and {repo} is not in the cache",
        hint=f"check the connection (or HF_ENDPOINT), then rerun: vsrup models download {mid}",
    )


#: Ordered: subclasses before their bases (GatedRepo is a RepositoryNotFound; both are HTTP errors).
_ERRORS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable], ...] = (
    (OfflineModeIsEnabled, msg.offline),
    (GatedRepoError, msg.gated),
    (DisabledRepoError, msg.disabled),
    (RepositoryNotFoundError, msg.repo),
    (RevisionNotFoundError, msg.revision),
    (RemoteEntryNotFoundError, msg.entry),
    (HfHubHTTPError, msg.http),
    (LocalEntryNotFoundError, _msg_network),
    ((httpx2.ConnectError, httpx2.TimeoutException, httpx2.RemoteProtocolError), _msg_network),
    (FileMetadataError, msg.metadata),
    (OSError, msg.incomplete),
)


#: Failures of one repo that make the next mirror worth trying.
_TRY_NEXT = (RepositoryNotFoundError, RevisionNotFoundError, DisabledRepoError)


def _unwrap(exc: BaseException) -> BaseException:
    """A dry run wraps the real failure (not found, gated, offline ...) in a DryRunError."""
    if isinstance(exc, DryRunError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def map_error(exc: BaseException, model_id: str, repo: str, revision: str) -> WeightsError:
    """One WeightsError for a huggingface_hub/httpx exception (see `_ERRORS`)."""
    if isinstance(exc, LocalEntryNotFoundError) and env.is_offline():
        return msg.offline(model_id, repo, revision, exc)
    for types, make in _ERRORS:
        if isinstance(exc, types):
            return make(model_id, repo, revision, exc)
    return WeightsError(f"{model_id}: download failed: {type(exc).__name__}: {exc}".split("\n")[0])


# ---------------------------------------------------------------- helpers


def _sync_offline() -> None:
    """huggingface_hub read HF_HUB_OFFLINE at import; follow the variable's current value."""
    hf_constants.HF_HUB_OFFLINE = env.is_offline()


@contextmanager
def _progress(show: bool) -> Iterator[None]:
    """huggingface_hub draws its own progress bars on stderr; hide them when asked."""
    was_disabled = are_progress_bars_disabled()
    if not show and not was_disabled:
        disable_progress_bars()
    try:
        yield
    finally:
        if not show and not was_disabled:
            enable_progress_bars()


# ---------------------------------------------------------------- cache lookups (no network)


def cached_snapshot(entry: registry.ModelEntry) -> Path | None:
    """The complete local snapshot of a Hub entry, or None. Never touches the network."""
    marker = read_marker(entry.id)
    pairs: list[tuple[str, str, list[str] | None]] = []
    if marker:
        pairs.append((marker["repo"], marker["commit"], marker.get("allow_patterns")))
    with suppress(WeightsError):  # an entry without a repo: only the marker can help
        pairs += [(r, v, patterns_for(entry)) for r, v in candidates(entry)]
    cache_dir = env.hf_cache_dir()
    for repo, rev, patterns in pairs:
        try:
            folder = Path(
                snapshot_download(
                    repo,
                    revision=rev,
                    allow_patterns=patterns,
                    cache_dir=cache_dir,
                    local_files_only=True,
                )
            )
        except (LocalEntryNotFoundError, OSError, ValueError):
            continue
        if folder.is_dir() and (marker or looks_complete(folder, patterns)):
            return folder
    return None


# ---------------------------------------------------------------- downloads


def download(
    model_id: str,
    *,
    revision: str | None = None,
    include: Sequence[str] | None = None,
    repo: str | None = None,
    progress: bool = True,
    on_fallback: Callable[[str, str], None] | None = None,
) -> DownloadResult:
    """Fetch one entry into the local cache and return where it is.

    `on_fallback(repo, reason)` is called when a repo fails and the next mirror is tried.
    """
    entry = registry.entry(model_id)
    if env.is_offline():
        raise WeightsError(
            f"{model_id}: offline mode is on, nothing can be downloaded",
            hint="drop --offline / unset HF_HUB_OFFLINE, or copy the cache from another machine",
        )
    if entry.source == "url":
        if revision or include or repo:
            raise UsageError(f"{model_id} is one file: --revision/--include/--repo do not apply")
        require_network(entry.url or "", model_id)
        return _download_url(entry, progress=progress)
    if entry.source != "hf":
        raise registry.missing_weights(model_id)
    _sync_offline()
    require_network(env.hf_endpoint() or "https://huggingface.co", model_id)
    patterns = patterns_for(entry, include)
    cache_dir = env.hf_cache_dir()
    endpoint = env.hf_endpoint()
    failures: list[tuple[str, str, BaseException]] = []
    with _progress(progress):
        for repo_id, rev in candidates(entry, revision, repo):
            try:
                plan = snapshot_download(
                    repo_id,
                    revision=rev,
                    allow_patterns=patterns,
                    cache_dir=cache_dir,
                    endpoint=endpoint,
                    dry_run=True,
                )
            except Exception as raised:
                exc = _unwrap(raised)
                if not isinstance(exc, _TRY_NEXT):
                    raise map_error(exc, model_id, repo_id, rev) from exc
                failures.append((repo_id, rev, exc))
                if on_fallback is not None:
                    on_fallback(repo_id, map_error(exc, model_id, repo_id, rev).message)
                continue
            return _fetch(entry, repo_id, rev, plan, patterns, cache_dir, endpoint)
    # Every candidate failed: report the most telling failure (gated/auth beats "not found").
    repo_id, rev, exc = next(
        (f for f in failures if isinstance(f[2], GatedRepoError) or msg.status_of(f[2]) == 401),
        failures[0],
    )
    error = map_error(exc, model_id, repo_id, rev)
    if len(failures) > 1:
        tried = ", ".join(r for r, _, _ in failures)
        error = WeightsError(f"{error.message} (also tried: {tried})", hint=error.hint)
    raise error from exc


def _fetch(
    entry: registry.ModelEntry,
    repo_id: str,
    rev: str,
    plan: list,
    patterns: list[str] | None,
    cache_dir: Path,
    endpoint: str | None,
) -> DownloadResult:
    if not plan:
        raise WeightsError(
            f"{entry.id}: no file in {repo_id}@{rev} matches {patterns}",
            hint="check allow_patterns in models.toml or --include",
        )
    commit = plan[0].commit_hash
    needed = sum(f.file_size or 0 for f in plan if f.will_download)
    if needed == 0 and any(f.will_download and f.file_size is None for f in plan):
        needed = entry.size or 0
    check_disk_space(needed, cache_dir, entry.id)
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                revision=commit,
                allow_patterns=patterns,
                cache_dir=cache_dir,
                endpoint=endpoint,
            )
        )
    except Exception as exc:
        raise map_error(_unwrap(exc), entry.id, repo_id, rev) from exc
    _check_known_hashes(entry, folder)
    write_marker(
        entry.id,
        {
            "repo": repo_id,
            "revision": rev,
            "commit": commit,
            "allow_patterns": patterns,
            "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    pinned = len(rev) == _COMMIT and rev == commit
    return DownloadResult(entry.id, repo_id, commit, folder, needed, pinned)


def _check_known_hashes(entry: registry.ModelEntry, folder: Path) -> None:
    """Refuse files whose sha256 differs from models.toml, and leave nothing of them cached."""
    for rel, want in entry.sha256.items():
        path = folder / rel
        if not path.exists():
            continue
        got = sha256_file(path)
        if got != want.lower():
            blob = path.resolve()
            path.unlink(missing_ok=True)
            if blob != path:
                blob.unlink(missing_ok=True)
            raise WeightsError(
                f"{entry.id}: checksum mismatch for {rel}: got {got}, models.toml expects {want}; "
                "the file was removed from the cache",
                hint="the repo changed or the transfer was corrupted; check the pin in models.toml",
            )


def _download_url(entry: registry.ModelEntry, *, progress: bool) -> DownloadResult:
    """One file from a URL, resumable across runs (a .part file), then imported into our cache."""
    if not entry.url:
        raise WeightsError(f"{entry.id}: models.toml gives no url")
    name = entry.files[0] if entry.files else entry.url.rsplit("/", 1)[-1]
    staging = registry.cache_root() / ".downloads" / entry.id
    staging.mkdir(parents=True, exist_ok=True)
    part = staging / f"{name}.part"
    done = part.stat().st_size if part.exists() else 0
    # Room for the rest of the file plus its converted copy.
    check_disk_space(max((entry.size or 0) - done, 0) * 2, staging, entry.id)
    _sync_offline()
    try:
        with _progress(progress), open(part, "ab") as fh:
            http_get(entry.url, fh, resume_size=done, displayed_filename=name)
    except Exception as exc:
        raise map_error(exc, entry.id, entry.url, "") from exc
    want = entry.sha256.get(name)
    try:
        if want:
            check_file(part, want)
    except WeightsError as exc:
        part.unlink(missing_ok=True)
        raise WeightsError(
            f"{entry.id}: checksum mismatch for {name}; the file was removed",
            hint=f"rerun: vsrup models download {entry.id}",
        ) from exc
    final = staging / name
    part.replace(final)
    try:
        result = import_weights(entry.id, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return DownloadResult(entry.id, None, None, result.directory, 0, bool(want))


# ---------------------------------------------------------------- removal


def remove_snapshot(model_id: str) -> list[str]:
    """Delete the Hub revision vsrup downloaded for this entry; returns what was removed."""
    marker = read_marker(model_id)
    removed: list[str] = []
    if marker:
        try:
            info = scan_cache_dir(env.hf_cache_dir())
        except Exception:
            info = None
        if info is not None:
            commits = [
                rev.commit_hash
                for repo in info.repos
                if repo.repo_id == marker["repo"]
                for rev in repo.revisions
                if rev.commit_hash == marker["commit"]
            ]
            if commits:
                info.delete_revisions(*commits).execute()
                removed.append(f"{marker['repo']}@{marker['commit']}")
        marker_path(model_id).unlink(missing_ok=True)
    return removed
