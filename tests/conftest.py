"""Suite-wide settings: deterministic, few threads (CI has 2 cores), no network by accident."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _deterministic(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    from vsrup.cli.common import state

    # Each test gets its own vsrup cache so nothing leaks between tests or into ~/.cache.
    monkeypatch.setenv("VSRUP_HOME", str(tmp_path_factory.mktemp("vsrup_home")))
    # The CLI's switches are process-wide: one test's -q or --debug must not reach the next.
    monkeypatch.setattr(state, "quiet", False)
    monkeypatch.setattr(state, "debug", False)
    yield
