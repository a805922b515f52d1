"""`vsrup methods` and `vsrup bench` tables: whole when piped, and what can run here."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vsrup import methods
from vsrup.cli.app import app

runner = CliRunner()


def row(output: str, method: str) -> str:
    return next(ln for ln in output.splitlines() if ln.split()[:1] == [method])


def test_methods_piped_is_plain_and_whole() -> None:
    res = runner.invoke(app, ["methods"])
    assert res.exit_code == 0, res.output
    assert "…" not in res.output and "│" not in res.output
    for spec in methods.specs():
        assert spec.summary in row(res.output, spec.id)
    assert "runs here" in res.output.splitlines()[0]
    assert " yes " in row(res.output, "lanczos") + " "


def test_methods_say_what_is_missing_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from vsrup.engine import runtime
    from vsrup.methods import defaults

    monkeypatch.setattr(runtime, "resolve_device", lambda device: "cpu")
    monkeypatch.setattr(defaults, "weights_installed", lambda model_id: model_id != "dloral")
    res = runner.invoke(app, ["methods"])
    assert "needs weights: dloral" in row(res.output, "dloral")
    assert "CPU only here" in row(res.output, "stcdit")
    res = runner.invoke(app, ["methods", "--json"])
    ready = {r["id"]: r["ready"] for r in __import__("json").loads(res.output)}
    assert ready["dloral"] == "needs weights: dloral" and ready["span"] == "yes"


def test_bench_piped_is_a_whole_markdown_table() -> None:
    res = runner.invoke(app, ["bench", "--method", "nearest", "--size", "32x24", "--length", "2"])
    assert res.exit_code == 0, res.output
    table = [ln for ln in res.stdout.splitlines() if ln.startswith("|")]
    assert table and "nearest" in "".join(table) and "…" not in res.stdout
