"""One WeightsError per kind of download failure: what went wrong, in one line, and the next
command to run. `vsrup.hub.download` maps the library's exceptions onto these (its `_ERRORS`).

Every function takes (model id, repo, revision, the exception)."""

from __future__ import annotations

from vsrup.errors import WeightsError
from vsrup.hub import env


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def where(repo: str, revision: str) -> str:
    return f"{repo}@{revision}" if revision else repo


def offline(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: offline mode is on and {where(repo, rev)} is not in the cache",
        hint=f"on a connected machine run: vsrup models download {mid} "
        "(without --offline / HF_HUB_OFFLINE=1), then copy the HF cache",
    )


def gated(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: the Hub repo {repo} is gated: accept its terms at https://huggingface.co/{repo}",
        hint=f"then log in (hf auth login, or set HF_TOKEN) and run: vsrup models download {mid}",
    )


def auth(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: the Hub refused the credentials for {repo} (HTTP 401)",
        hint=f"check HF_TOKEN or run: hf auth login; then: vsrup models download {mid}",
    )


def repo(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: the Hub repo {repo} was not found (removed, renamed or private)",
        hint=f"use a mirror: vsrup models download {mid} --repo OWNER/NAME",
    )


def revision(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: revision {rev} does not exist in {repo}",
        hint=f"fetch the latest and pin the printed commit: vsrup models download {mid} "
        "--revision main",
    )


def entry(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: a file listed for it is missing from {where(repo, rev)}",
        hint=f"check models.toml, or try: vsrup models download {mid} --include GLOB",
    )


def disabled(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: access to {repo} is disabled on the Hub",
        hint=f"use a mirror: vsrup models download {mid} --repo OWNER/NAME",
    )


def http(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    code = status_of(exc)
    if code == 401:
        return auth(mid, repo, rev, exc)
    if code == 403:
        reason = "access forbidden (HTTP 403)"
        hint = "check that your token may read this repo (hf auth login / HF_TOKEN)"
    elif code == 429:
        reason = "too many requests (HTTP 429)"
        hint = f"wait a few minutes, then rerun: vsrup models download {mid}"
    else:
        reason = f"the Hub answered HTTP {code}"
        hint = f"retry later: vsrup models download {mid} (finished files are kept)"
    return WeightsError(f"{mid}: {reason} for {repo}", hint=hint)


def metadata(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: {env.hf_endpoint() or 'the endpoint'} does not answer like a Hugging Face Hub",
        hint="check HF_ENDPOINT and proxy settings",
    )


def incomplete(mid: str, repo: str, rev: str, exc: BaseException) -> WeightsError:
    return WeightsError(
        f"{mid}: the download from {repo} was cut short ({exc})".split("\n")[0],
        hint=f"rerun: vsrup models download {mid} (finished files are kept)",
    )
