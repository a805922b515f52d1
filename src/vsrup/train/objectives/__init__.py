"""One training objective per method: what is trained, on which clips, with which loss."""

from __future__ import annotations

import importlib

from vsrup.errors import UsageError

#: Method id → module defining its `Objective` subclass.
MODULES = {
    "dgaf": "vsrup.train.objectives.dgaf",
    "litevsr": "vsrup.train.objectives.litevsr",
    "simplegvr": "vsrup.train.objectives.simplegvr",
    "stcdit": "vsrup.train.objectives.stcdit",
}


def objective_class(method_id: str):  # noqa: ANN201
    if method_id not in MODULES:
        raise UsageError(
            f"vsrup train does not support {method_id!r}",
            hint=f"trainable methods: {', '.join(MODULES)}",
        )
    return importlib.import_module(MODULES[method_id]).Objective
