"""The `vsrup` command: a thin Typer app; each command group lives in its own module."""

from __future__ import annotations

import importlib

import typer

from vsrup import __version__
from vsrup.cli.common import state
from vsrup.cli.logs import route_library_logs

app = typer.Typer(
    name="vsrup",
    help="Video super-resolution: sharper, larger video that keeps every frame, timestamp, "
    "audio track and subtitle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Modules that add commands; each defines `register(app)` and keeps its imports light.
COMMAND_MODULES: tuple[str, ...] = (
    "vsrup.cli.upscale",
    "vsrup.cli.latents",
    "vsrup.cli.info",
    "vsrup.cli.segment",
    "vsrup.cli.models",
    "vsrup.cli.methods_cmd",
    "vsrup.cli.metrics",
    "vsrup.cli.degrade",
    "vsrup.cli.compare",
    "vsrup.cli.bench",
    "vsrup.cli.train",
    "vsrup.cli.jobs",
)


def _version(value: bool) -> None:
    if value:
        print(f"vsrup {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Never touch the network (same as HF_HUB_OFFLINE=1)."
    ),
) -> None:
    """vsrup: video super-resolution from the command line."""
    if debug:
        state.debug = True
    route_library_logs(state.debug)
    if offline:
        from vsrup.hub.env import set_offline

        set_offline(True)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def hoist_global_options(args: list[str]) -> list[str]:
    """`vsrup upscale x.mp4 --debug` means `vsrup --debug upscale x.mp4`: the global switches
    --debug and --offline are accepted after the command too (not after `--`)."""
    globals_ = ("--debug", "--offline")
    end = args.index("--") if "--" in args else len(args)
    moved = [a for a in args[:end] if a in globals_]
    rest = [a for a in args[:end] if a not in globals_]
    return moved + rest + args[end:]


def main() -> None:
    import sys

    app(args=hoist_global_options(sys.argv[1:]))
