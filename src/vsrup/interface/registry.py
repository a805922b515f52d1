"""Registry of upscaling methods (the method interface layer: the engine looks methods up here
without importing `vsrup.methods`).

Each method module registers its class with `@register`. Built-in modules are imported lazily,
the first time the registry is read, so `vsrup --help` does not pay for them; importing a
method module must stay cheap (heavy imports live inside `from_weights`).
"""

from __future__ import annotations

import importlib

from vsrup.errors import UsageError
from vsrup.interface.method import Method, MethodSpec

__all__ = ["BUILTIN_MODULES", "get", "ids", "register", "specs"]

#: Modules that define the built-in methods, in the order `vsrup methods` lists them.
BUILTIN_MODULES: tuple[str, ...] = (
    "vsrup.methods.classical",
    "vsrup.methods.span",
    "vsrup.methods.realesrgan",
    "vsrup.methods.waifu2x",
    "vsrup.methods.dloral",
    "vsrup.methods.stcdit",
    "vsrup.methods.stablevsr",
    "vsrup.methods.dgaf",
    "vsrup.methods.litevsr",
    "vsrup.methods.simplegvr",
)

_REGISTRY: dict[str, type[Method]] = {}
_loaded = False


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: add a method to the registry; duplicate ids are a programming error."""
    method_id = cls.spec.id
    if method_id in _REGISTRY and _REGISTRY[method_id] is not cls:
        raise ValueError(f"method id {method_id!r} is registered twice")
    _REGISTRY[method_id] = cls
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True


def ids() -> list[str]:
    _load_builtins()
    return list(_REGISTRY)


def specs() -> list[MethodSpec]:
    _load_builtins()
    return [cls.spec for cls in _REGISTRY.values()]


def get(method_id: str) -> type[Method]:
    _load_builtins()
    try:
        return _REGISTRY[method_id]
    except KeyError:
        known = ", ".join(_REGISTRY)
        raise UsageError(f"unknown method {method_id!r}", hint=f"choose one of: {known}") from None
