"""What `vsrup models verify` checks for an installed entry, file by file.

Reference hashes, best first: models.toml's sha256; the manifest written at import time; for
files in the huggingface_hub cache, the blob's name, which for LFS files is the sha256 the Hub
reported (its ETag). Files with none of these are reported as unchecked.
"""

from __future__ import annotations

from pathlib import Path

from vsrup.hub import registry
from vsrup.hub.importer import MANIFEST, read_manifest
from vsrup.hub.resolve import find_installed
from vsrup.hub.verify import FileCheck, check_files, is_sha256


def hub_blob_hash(path: Path) -> str | None:
    """The sha256 the Hub gave a cached LFS file (its blob's name); None otherwise."""
    target = path.resolve()
    if target.parent.name == "blobs" and is_sha256(target.name):
        return target.name
    return None


def installed_checks(model_id: str) -> list[FileCheck] | None:
    """Check every installed file of `model_id`; None when it is not installed."""
    entry = registry.entry(model_id)
    root = find_installed(model_id)
    if root is None:
        return None
    if root.is_file():
        return check_files({root: entry.sha256.get(root.name)})
    manifest = read_manifest(root)
    if manifest is not None:
        recorded = manifest.get("files", {})
        return check_files({root / name: digest for name, digest in recorded.items()})
    expected: dict[Path, str | None] = {}
    # A folder shared with other entries (a wheel's models/): only this entry's files.
    own = {Path(f).name for f in entry.files}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(root).as_posix()
        if own and path.name not in own:
            continue
        expected[path] = entry.sha256.get(rel) or hub_blob_hash(path)
    return check_files(expected)
