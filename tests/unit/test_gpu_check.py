"""tools/gpu_check.py's CPU side: --dry-run runs each variant through run_job and writes the
JSON report (the full-size GPU run needs a CUDA machine)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gpu_check.py"


@pytest.mark.slow
def test_dry_run_writes_a_report_with_every_variant(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_check", TOOL)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    out = tmp_path / "report.json"
    report = gpu_check.main(["--dry-run", "--methods", "lanczos,span", "--out", str(out)])
    assert json.loads(out.read_text()) == report and report["dry_run"] is True
    runs = {(r["method"], r["variant"]): r for r in report["runs"]}
    assert set(runs) == {("lanczos", "default"), ("lanczos", "oom"), ("span", "default"),
                         ("span", "oom"), ("span", "offload")}  # fmt: skip
    for row in runs.values():
        assert row["ok"], row.get("error")
        assert row["frames"] == 5 and row["fps"] > 0 and row["size"][0] == 64
    assert runs[("span", "offload")]["offload"] == "model"
    assert report["floors"] == {"stcdit": 3.0, "dloral": 1.5}
