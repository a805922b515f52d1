"""`vsrup methods`: the methods this build knows, with what they need."""

from __future__ import annotations

import json

import typer

from vsrup.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    app.command("methods")(methods)


@handle_errors
def methods(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List upscaling methods: kind, native scales, speed class and weights."""
    from vsrup import methods as registry

    specs = registry.specs()
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
            }
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("method", "kind", "scales", "speed", "weights", "summary")
    for s in specs:
        scales = "any" if s.any_scale else ",".join(f"×{k}" for k in s.scales)
        table.add_row(s.id, s.kind, scales, s.speed, ", ".join(s.weights) or "-", s.summary)
    Console().print(table)
