"""`vsrup methods`: the methods this build knows, with what they need."""

from __future__ import annotations

import json

import typer

from vsrup.cli.common import handle_errors
from vsrup.cli.tables import print_table


def register(app: typer.Typer) -> None:
    app.command("methods")(methods)


def readiness(spec, gpu: bool) -> str:  # noqa: ANN001 - vsrup.interface.method.MethodSpec
    """Whether the method can run on this machine: its weights, and the device it wants."""
    from vsrup import methods
    from vsrup.interface.method import MethodOptions
    from vsrup.methods.defaults import weights_installed

    # What a run with default options loads (one variant, one native scale).
    needed = methods.get(spec.id).weights_for(MethodOptions())
    missing = [w for w in needed if not weights_installed(w)]
    if missing:
        return "needs weights: " + ", ".join(missing)
    if spec.kind == "diffusion" and not gpu:
        return "yes, but CPU only here (very slow)"
    return "yes"


@handle_errors
def methods(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List upscaling methods: kind, native scales, speed, weights, and whether each can run
    here (weights installed, GPU for diffusion)."""
    from vsrup import methods as registry
    from vsrup.engine.runtime import resolve_device

    specs = registry.specs()
    gpu = resolve_device("auto") != "cpu"
    here = {s.id: readiness(s, gpu) for s in specs}
    if as_json:
        rows = [
            {
                "id": s.id,
                "kind": s.kind,
                "scales": list(s.scales),
                "any_scale": s.any_scale,
                "speed": s.speed,
                "weights": list(s.weights),
                "summary": s.summary,
                "ready": here[s.id],
            }
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return
    rows = []
    for s in specs:
        scales = "any" if s.any_scale else ",".join(f"×{k}" for k in s.scales)
        weights = ", ".join(s.weights) or "-"
        rows.append([s.id, s.kind, scales, here[s.id], s.speed, weights, s.summary])
    print_table(["method", "kind", "scales", "runs here", "speed", "weights", "summary"], rows)
