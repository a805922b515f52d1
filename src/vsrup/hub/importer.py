"""`vsrup models import ID FILE`: bring a hand-fetched checkpoint into vsrup's cache.

Steps: verify the file's sha256 when models.toml knows it; convert it into our layout in a
temporary folder (the entry's converter, or the default: safetensors copied, a plain pickled
state dict re-saved as safetensors); write a manifest with the hashes of what was written; then
swap the folder into `cache_root()/<id>/` with a rename, so a failed import leaves nothing behind
and never damages an earlier good import.
"""

from __future__ import annotations

import importlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsrup.errors import InputError, WeightsError
from vsrup.hub import registry
from vsrup.hub.safe_load import PICKLE_SUFFIXES, is_safetensors, load_state_dict, save_state_dict
from vsrup.hub.verify import check_file, sha256_file

MANIFEST = "manifest.json"
MODEL_FILE = "model.safetensors"

Converter = Callable[[Path, Path], Path]


@dataclass(frozen=True)
class ImportResult:
    model_id: str
    directory: Path
    files: dict[str, str]  # written file name -> sha256
    source_sha256: str
    converter: str | None


def load_converter(spec: str) -> Converter:
    """Resolve "package.module:function" from models.toml."""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
    except (ImportError, AttributeError):
        raise WeightsError(
            f"converter {spec!r} is not available in this build of vsrup",
            hint="update vsrup, or check models.toml",
        ) from None
    return func  # type: ignore[no-any-return]


def expected_hash(entry: registry.ModelEntry, src: Path) -> str | None:
    """The sha256 models.toml gives for this file (by name, or the entry's only file)."""
    if src.name in entry.sha256:
        return entry.sha256[src.name]
    if len(entry.sha256) == 1 and len(entry.files) <= 1:
        return next(iter(entry.sha256.values()))
    return None


def default_convert(src: Path, dst_dir: Path) -> Path:
    """No converter: keep safetensors as they are; re-save a plain pickled state dict."""
    out = dst_dir / MODEL_FILE
    if is_safetensors(src):
        load_state_dict(src)  # validates the header and tensors before we keep it
        shutil.copyfile(src, out)
        return out
    if src.suffix.lower() in PICKLE_SUFFIXES:
        return save_state_dict(load_state_dict(src), out, metadata={"source": src.name})
    raise WeightsError(
        "unsupported weights file type (expected .safetensors, or a .pth/.bin/.pt/.pkl state dict)",
        path=src,
    )


def import_weights(model_id: str, src: str | Path) -> ImportResult:
    entry = registry.entry(model_id)
    src = Path(src).expanduser()
    if not src.is_file():
        raise InputError("no such file", path=src)

    want = expected_hash(entry, src)
    source_sha = check_file(src, want) if want else sha256_file(src)

    root = registry.cache_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{model_id}.import-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        convert = load_converter(entry.converter) if entry.converter else default_convert
        try:
            written = Path(convert(src, tmp))
        except WeightsError:
            raise
        except Exception as exc:  # a converter's own failure: one line naming the file
            raise WeightsError(
                f"conversion for {model_id!r} failed: {type(exc).__name__}: {exc}", path=src
            ) from exc
        if not written.is_file() or tmp not in written.resolve().parents:
            raise WeightsError(f"converter for {model_id!r} wrote no file into the cache", path=src)
        files = {
            str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        manifest = {
            "id": model_id,
            "source_file": src.name,
            "source_sha256": source_sha,
            "converter": entry.converter,
            "files": files,
            "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap_in(tmp, root / model_id)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ImportResult(model_id, root / model_id, files, source_sha, entry.converter)


def _swap_in(new: Path, final: Path) -> None:
    """Replace `final` by `new`; an old import is removed only once the new one is in place."""
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    if final.exists():
        final.rename(old)
    try:
        new.rename(final)
    except OSError:
        if old.exists():
            old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(directory: Path) -> dict | None:
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
