"""The Typer command-line interface: one small module per command group."""
