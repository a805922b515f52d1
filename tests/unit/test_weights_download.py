"""Downloads against a fake Hub on 127.0.0.1: pinning, resume, mirrors, errors, offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers_weights import FakeHub, sha256, write_registry
from vsrup.errors import WeightsError

WEIGHTS = bytes(range(256)) * 64  # 16 KiB
CONFIG = b'{"layers": 2}'


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    import huggingface_hub.constants as hf_constants

    with FakeHub() as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
        monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        yield fake


def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **entries: dict) -> None:
    path = write_registry(
        tmp_path / "models.toml", {k.replace("_", "-"): v for k, v in entries.items()}
    )
    monkeypatch.setenv("VSRUP_MODELS_TOML", str(path))


def hf_entry(repo: str, **extra: object) -> dict:
    return {"methods": ["toy"], "role": "base", "source": "hf", "repo": repo, **extra}


def test_download_fetches_pinned_files_and_resolve_finds_them(hub, tmp_path, monkeypatch):
    from vsrup.hub.download import download
    from vsrup.hub.resolve import find_installed

    sha = hub.add_repo(
        "org/toy",
        {"unet/model.safetensors": WEIGHTS, "unet/config.json": CONFIG, "extra.bin": b"x"},
    )
    registry(
        tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha, allow_patterns=["unet/*"])
    )

    result = download("toy", progress=False)

    assert result.commit == sha and result.pinned and result.repo == "org/toy"
    assert (result.path / "unet/model.safetensors").read_bytes() == WEIGHTS
    assert not (result.path / "extra.bin").exists()  # allow-patterns respected
    assert find_installed("toy") == result.path
    assert str(tmp_path / "hf") in str(result.path)  # HF_HOME honoured


def test_revision_pin_wins_over_a_newer_main(hub, tmp_path, monkeypatch, capsys):
    from typer.testing import CliRunner

    from vsrup.cli.app import app
    from vsrup.hub.download import download

    old = hub.add_repo("org/toy", {"w.safetensors": b"old weights"})
    new = hub.add_repo("org/toy", {"w.safetensors": b"new weights"})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=old))

    pinned = download("toy", progress=False)
    assert (pinned.path / "w.safetensors").read_bytes() == b"old weights"
    assert pinned.commit == old

    latest = CliRunner().invoke(app, ["models", "download", "toy", "--revision", "main", "-q"])
    assert latest.exit_code == 0, latest.output
    assert new in latest.output  # the resolved commit is printed so it can be pinned
    assert f'revision = "{new}"' in latest.output


def test_interrupted_transfer_is_resumed_with_a_range_request(hub, tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    from vsrup.hub.download import download

    # Small chunks, so the bytes received before the cut reach the temporary file.
    monkeypatch.setattr(hf_constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    hub.cut_once["w.safetensors"] = 4096
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha))

    result = download("toy", progress=False)

    assert (result.path / "w.safetensors").read_bytes() == WEIGHTS
    gets = hub.file_gets("w.safetensors")
    assert [g.range for g in gets] == [None, "bytes=4096-"]


def test_failed_run_keeps_finished_files_and_a_rerun_fetches_only_the_rest(
    hub, tmp_path, monkeypatch
):
    from vsrup.hub.download import download
    from vsrup.hub.resolve import find_installed

    sha = hub.add_repo("org/toy", {"a.safetensors": WEIGHTS, "b.safetensors": CONFIG})
    hub.broken.add("b.safetensors")
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha))

    with pytest.raises(WeightsError, match="HTTP 500") as err:
        download("toy", progress=False)
    assert "vsrup models download toy" in str(err.value)
    assert find_installed("toy") is None  # a partial snapshot is never used

    hub.broken.clear()
    download("toy", progress=False)
    assert len(hub.file_gets("a.safetensors")) == 1
    assert find_installed("toy") is not None


def test_offline_mode_uses_the_cache_and_never_touches_the_network(hub, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vsrup.cli.app import app
    from vsrup.engine.pipeline import resolve_weights
    from vsrup.hub.download import download
    from vsrup.hub.env import set_offline
    from vsrup.interface.method import MethodOptions, MethodSpec

    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    registry(
        tmp_path,
        monkeypatch,
        toy=hf_entry("org/toy", revision=sha),
        other=hf_entry("org/other"),
    )
    installed = download("toy", progress=False).path
    seen = len(hub.requests)
    set_offline(True)

    spec = MethodSpec(id="toy", summary="", kind="diffusion", scales=(4,), weights=("toy",))
    weights = resolve_weights(spec, MethodOptions())
    assert weights is not None and weights["toy"] == installed
    runner = CliRunner()
    path = runner.invoke(app, ["--offline", "models", "path", "toy"])
    assert path.exit_code == 0 and path.output.strip() == str(installed)
    refused = runner.invoke(app, ["--offline", "models", "download", "other"])
    assert refused.exit_code == 2
    assert "offline" in refused.output and "Traceback" not in refused.output
    assert len(hub.requests) == seen  # nothing reached the server


def test_wrong_checksum_is_refused_and_nothing_stays_in_the_cache(hub, tmp_path, monkeypatch):
    from vsrup.hub.download import download
    from vsrup.hub.resolve import find_installed

    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    entry = hf_entry("org/toy", revision=sha, sha256={"w.safetensors": "0" * 64})
    registry(tmp_path, monkeypatch, toy=entry)

    with pytest.raises(WeightsError, match="checksum mismatch"):
        download("toy", progress=False)

    cached = [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and p.read_bytes() == WEIGHTS]
    assert cached == []
    assert find_installed("toy") is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("404", "was not found"),
        ("gated", "is gated"),
        ("401", "refused the credentials"),
    ],
)
def test_hub_refusals_become_one_clear_line(hub, tmp_path, monkeypatch, status, expected):
    from typer.testing import CliRunner

    from vsrup.cli.app import app

    hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    hub.repos["org/toy"].status = status
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy"))

    result = CliRunner().invoke(app, ["models", "download", "toy", "-q"])

    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("vsrup: error:")]
    assert len(lines) == 1 and expected in lines[0], result.output
    assert "Traceback" not in result.output
    hint = {"404": "--repo", "gated": "hf auth login", "401": "HF_TOKEN"}[status]
    assert hint in lines[0]


def test_missing_revision_names_the_fix(hub, tmp_path, monkeypatch):
    from vsrup.hub.download import download

    hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision="f" * 40))
    with pytest.raises(WeightsError, match="does not exist") as err:
        download("toy", progress=False)
    assert "--revision main" in str(err.value)


def test_not_enough_disk_space_is_refused_before_any_file_transfer(hub, tmp_path, monkeypatch):
    import shutil

    from vsrup.hub.download import download

    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha))
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))

    with pytest.raises(WeightsError, match="not enough free disk space"):
        download("toy", progress=False)
    assert hub.file_gets("w.safetensors") == []


def test_mirror_is_used_when_the_main_repo_is_gone(hub, tmp_path, monkeypatch):
    from vsrup.hub.download import download, read_marker
    from vsrup.hub.resolve import find_installed

    mirror_sha = hub.add_repo("community/toy", {"w.safetensors": WEIGHTS})
    entry = hf_entry(
        "gone/toy",
        revision="a" * 40,
        mirrors=["missing/toy", "community/toy"],
        mirror_revisions={"community/toy": mirror_sha},
    )
    registry(tmp_path, monkeypatch, toy=entry)
    fallbacks: list[str] = []

    result = download("toy", progress=False, on_fallback=lambda repo, why: fallbacks.append(repo))

    assert result.repo == "community/toy" and result.commit == mirror_sha and result.pinned
    assert fallbacks == ["gone/toy", "missing/toy"]
    assert read_marker("toy")["repo"] == "community/toy"
    assert find_installed("toy") == result.path


def test_repo_override_from_the_command_line_and_the_environment(hub, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vsrup.cli.app import app

    hub.add_repo("me/copy", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("gone/toy"))
    result = CliRunner().invoke(app, ["models", "download", "toy", "--repo", "me/copy", "-q"])
    assert result.exit_code == 0, result.output
    assert "me/copy@" in result.output

    monkeypatch.setenv("VSRUP_REPO_TOY", "me/copy")
    from vsrup.hub.download import candidates
    from vsrup.hub.registry import entry

    assert candidates(entry("toy")) == [("me/copy", "main")]


def test_url_source_resumes_a_partial_file_and_stores_safetensors(hub, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from vsrup.hub.download import download
    from vsrup.hub.registry import cache_root
    from vsrup.hub.resolve import find_installed

    state = {"conv.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2)}
    blob_path = tmp_path / "flow.pth"
    torch.save(state, blob_path)
    blob = blob_path.read_bytes()
    sha = hub.add_repo("files/flow", {"flow.pth": blob})
    entry = {
        "methods": ["toy"],
        "role": "flow",
        "source": "url",
        "url": f"{hub.url}/files/flow/resolve/{sha}/flow.pth",
        "files": ["flow.pth"],
        "sha256": {"flow.pth": sha256(blob)},
    }
    registry(tmp_path, monkeypatch, flow=entry)
    half = len(blob) // 2
    staging = cache_root() / ".downloads" / "flow"
    staging.mkdir(parents=True)
    (staging / "flow.pth.part").write_bytes(blob[:half])  # left by an earlier, killed run

    result = download("flow", progress=False)

    assert [g.range for g in hub.file_gets("flow.pth")] == [f"bytes={half}-"]
    assert find_installed("flow") == result.path
    loaded = load_file(str(result.path / "model.safetensors"))
    assert torch.equal(loaded["conv.weight"], state["conv.weight"])
    assert not staging.exists()


def test_remove_deletes_the_snapshot(hub, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vsrup.cli.app import app
    from vsrup.hub.download import download
    from vsrup.hub.resolve import find_installed

    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha))
    path = download("toy", progress=False).path
    result = CliRunner().invoke(app, ["models", "remove", "toy"])
    assert result.exit_code == 0, result.output
    assert not path.exists() and find_installed("toy") is None
    left = [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and p.read_bytes() == WEIGHTS]
    assert left == []


def test_verify_checks_hub_files_against_their_sha256_blob_names(hub, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vsrup.cli.app import app
    from vsrup.hub.download import download

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha))
    path = download("toy", progress=False).path
    assert (tmp_path / "elsewhere") in path.parents  # HF_HUB_CACHE honoured

    runner = CliRunner()
    ok = runner.invoke(app, ["models", "verify", "toy"])
    assert ok.exit_code == 0 and ok.output.startswith("ok"), ok.output
    blob = (path / "w.safetensors").resolve()
    blob.chmod(0o644)
    blob.write_bytes(WEIGHTS[::-1])
    bad = runner.invoke(app, ["models", "verify", "toy"])
    assert bad.exit_code == 2 and "mismatch  toy" in bad.output, bad.output


def test_a_repo_gated_at_file_level_falls_back_to_a_mirror(hub, tmp_path, monkeypatch):
    from vsrup.hub.download import download

    hub.add_repo("org/base", {"w.safetensors": WEIGHTS})
    hub.repos["org/base"].status = "gated-files"
    hub.add_repo("mirror/base", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/base", mirrors=["mirror/base"]))

    assert download("toy", progress=False).repo == "mirror/base"

    (tmp_path / "solo").mkdir()
    registry(tmp_path / "solo", monkeypatch, solo=hf_entry("org/base"))
    with pytest.raises(WeightsError, match="is gated"):
        download("solo", progress=False)


def test_hf_token_is_sent(hub, tmp_path, monkeypatch):
    from vsrup.hub.download import download

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    sha = hub.add_repo("org/toy", {"w.safetensors": WEIGHTS})
    registry(tmp_path, monkeypatch, toy=hf_entry("org/toy", revision=sha))
    download("toy", progress=False)
    assert hub.requests and all(r.auth == "Bearer hf_test_token" for r in hub.requests)


def test_url_tag_list_is_checked_and_imported_by_its_converter(hub, tmp_path, monkeypatch):
    """DLoRAL's RAM tag list comes from a pinned raw URL: hash-checked, then validated and
    stored by its converter where the tagger looks for it."""
    from tests.helpers_ram import TAGS
    from vsrup.hub.download import download
    from vsrup.hub.resolve import find_installed

    blob = TAGS.read_bytes()
    sha = hub.add_repo("files/tags", {"ram_tag_list.txt": blob})
    entry = {
        "methods": ["toy"],
        "role": "tagger",
        "source": "url",
        "url": f"{hub.url}/files/tags/resolve/{sha}/ram_tag_list.txt",
        "files": ["ram_tag_list.txt"],
        "sha256": {"ram_tag_list.txt": sha256(blob)},
        "converter": "vsrup.nn.ram_weights:import_tag_list",
        "optional": True,
    }
    registry(tmp_path, monkeypatch, tags=entry)
    result = download("tags", progress=False)
    assert find_installed("tags") == result.path
    assert (result.path / "ram_tag_list.txt").read_bytes() == blob


def test_download_of_a_method_with_optional_adds_its_taggers():
    from vsrup.cli.models import _targets

    fetch, manual, wheel = _targets("dloral")
    assert "sd21-base" in fetch and "ram-swin-large" not in fetch and manual == ["dloral"]
    assert wheel == []
    fetch, _, _ = _targets("dloral", optional=True)
    assert {"ram-swin-large", "ram-tag-list", "ram-tag-thresholds"} <= set(fetch)
    assert "dape" not in fetch  # a hand import (Google Drive)
