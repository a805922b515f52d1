"""The built-in upscaling methods: one module or package per method, each registering itself.

The registry and the Method interface live one layer down (`vsrup.interface`), so the engine
can use them without importing this package; they are re-exported here for method modules.
"""

from __future__ import annotations

from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.interface.registry import BUILTIN_MODULES, get, ids, register, specs

__all__ = [
    "BUILTIN_MODULES",
    "Clip",
    "Method",
    "MethodOptions",
    "MethodSpec",
    "get",
    "ids",
    "register",
    "specs",
]
