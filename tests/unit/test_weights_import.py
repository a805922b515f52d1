"""Import, safe loading, key checks, resolution and the `vsrup models` listing (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests.helpers_weights import TOY_PREFIX, sha256, toy_checkpoint, write_registry
from vsrup.cli.app import app
from vsrup.errors import WeightsError
from vsrup.hub.registry import cache_root

CONVERTER = "tests.helpers_weights:toy_convert"


class Payload:
    """A class a malicious pickle could ask to rebuild (its module is importable here)."""

    def __reduce__(self):  # what a code-running pickle looks like
        return (print, ("this must never run",))


def _registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **entries: dict) -> None:
    path = tmp_path / "models.toml"
    write_registry(path, {k.replace("_", "-"): v for k, v in entries.items()})
    monkeypatch.setenv("VSRUP_MODELS_TOML", str(path))


def _manual(**extra: object) -> dict:
    return {"methods": ["toy"], "role": "adapter", "source": "manual", **extra}


def test_import_converts_an_official_checkpoint_and_verify_checks_it(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from vsrup.hub.resolve import find_installed

    src = tmp_path / "official.bin"
    state = toy_checkpoint(src)
    _registry(tmp_path, monkeypatch, toy=_manual(converter=CONVERTER, files=["official.bin"]))
    runner = CliRunner()

    result = runner.invoke(app, ["models", "import", "toy", str(src)])

    assert result.exit_code == 0, result.output
    installed = find_installed("toy")
    assert installed == cache_root() / "toy"
    loaded = load_file(str(installed / "model.safetensors"))
    assert set(loaded) == {k.removeprefix(TOY_PREFIX) for k in state}
    for key, tensor in state.items():
        assert torch.equal(loaded[key.removeprefix(TOY_PREFIX)], tensor)
    manifest = json.loads((installed / "manifest.json").read_text())
    assert manifest["source_sha256"] == sha256(src.read_bytes())

    ok = runner.invoke(app, ["models", "verify", "toy"])
    assert ok.exit_code == 0 and ok.output.startswith("ok"), ok.output
    (installed / "model.safetensors").write_bytes(b"damaged")
    bad = runner.invoke(app, ["models", "verify", "toy"])
    assert (
        bad.exit_code == 2 and "mismatch" in bad.output and "vsrup models remove toy" in bad.output
    )


def test_import_refuses_a_file_with_the_wrong_hash_and_keeps_nothing(tmp_path, monkeypatch):
    src = tmp_path / "official.bin"
    toy_checkpoint(src)
    entry = _manual(converter=CONVERTER, files=["official.bin"], sha256={"official.bin": "1" * 64})
    _registry(tmp_path, monkeypatch, toy=entry)

    result = CliRunner().invoke(app, ["models", "import", "toy", str(src)])

    assert result.exit_code == 2
    assert "checksum mismatch" in result.output and "Traceback" not in result.output
    assert not (cache_root() / "toy").exists()
    assert not cache_root().exists() or list(cache_root().iterdir()) == []


def test_a_failed_conversion_keeps_the_previous_import(tmp_path, monkeypatch):
    from vsrup.hub.importer import import_weights

    good = tmp_path / "good.bin"
    toy_checkpoint(good)
    _registry(tmp_path, monkeypatch, toy=_manual(converter=CONVERTER))
    first = import_weights("toy", good)
    before = (first.directory / "model.safetensors").read_bytes()

    wrong = tmp_path / "wrong.bin"
    torch.save({TOY_PREFIX + "head.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(
        WeightsError, match=r"missing .*wrong shape \(head.weight \(3, 3\) != \(2, 4\)\)"
    ):
        import_weights("toy", wrong)

    assert (first.directory / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in cache_root().iterdir()) == ["toy"]  # no temporary folders


def test_a_pickle_that_wants_to_run_code_is_refused(tmp_path, monkeypatch):
    from vsrup.hub.safe_load import load_checkpoint

    evil = tmp_path / "model.pkl"
    torch.save({"w": torch.ones(2), "payload": Payload()}, evil)
    with pytest.raises(WeightsError, match="refused to load") as err:
        load_checkpoint(evil)
    assert "print" in str(err.value) or "Payload" in str(err.value)

    _registry(tmp_path, monkeypatch, toy=_manual())
    result = CliRunner().invoke(app, ["models", "import", "toy", str(evil)])
    assert result.exit_code == 2 and "refused to load" in result.output
    assert "this must never run" not in result.output
    assert not (cache_root() / "toy").exists()


def test_default_import_turns_a_plain_state_dict_into_safetensors(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from vsrup.hub.importer import import_weights

    src = tmp_path / "net.pth"
    weights = {"conv.weight": torch.randn(2, 3, 3, 3)}
    torch.save({"params_ema": weights}, src)  # BasicSR-style wrapper
    _registry(tmp_path, monkeypatch, toy=_manual())

    result = import_weights("toy", src)

    loaded = load_file(str(result.directory / "model.safetensors"))
    assert torch.equal(loaded["conv.weight"], weights["conv.weight"])


def test_check_keys_names_missing_unexpected_and_misshaped_keys():
    from vsrup.hub.safe_load import check_keys

    state = {"a": torch.zeros(2), "b": torch.zeros(3, 3), "extra": torch.zeros(1)}
    with pytest.raises(WeightsError) as err:
        check_keys(state, {"a": (2,), "b": (3, 4), "c": (1,)}, what="toy")
    text = str(err.value)
    assert "1 missing (c)" in text and "1 unexpected (extra)" in text
    assert "b (3, 3) != (3, 4)" in text
    check_keys({"a": torch.zeros(2)}, {"a": torch.Size([2])})  # a match passes silently


def test_safetensors_are_loaded_and_garbage_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    from vsrup.hub.safe_load import load_state_dict

    good = tmp_path / "w.safetensors"
    save_file({"x": torch.arange(4.0)}, str(good))
    assert torch.equal(load_state_dict(good)["x"], torch.arange(4.0))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_state_dict(bad)


def test_resolve_weights(tmp_path, monkeypatch):
    from vsrup.engine.pipeline import resolve_weights
    from vsrup.hub.importer import import_weights
    from vsrup.interface.method import MethodOptions, MethodSpec

    src = tmp_path / "net.pth"
    torch.save({"w": torch.ones(1)}, src)
    _registry(
        tmp_path,
        monkeypatch,
        core=_manual(),
        tagger=_manual(optional=True),
        base={"methods": ["toy"], "role": "base", "source": "hf", "repo": "org/base"},
    )
    spec = MethodSpec(
        id="toy", summary="", kind="diffusion", scales=(4,), weights=("core", "tagger")
    )

    assert resolve_weights(spec, MethodOptions(synthetic_weights="tiny")) is None
    with pytest.raises(WeightsError, match="not installed") as err:
        resolve_weights(spec, MethodOptions())
    assert "vsrup models import core FILE" in str(err.value)

    import_weights("core", src)
    weights = resolve_weights(spec, MethodOptions())
    assert weights is not None and set(weights.paths) == {"core"}  # the optional tagger is skipped

    with pytest.raises(WeightsError, match="vsrup models download base"):
        resolve_weights(spec, MethodOptions(), ids=["base"])
    monkeypatch.setenv("VSRUP_WEIGHTS_BASE", str(tmp_path))
    assert resolve_weights(spec, MethodOptions(), ids=["base"])["base"] == tmp_path


def test_models_list_json_shape(tmp_path, monkeypatch):
    from vsrup.hub.importer import import_weights

    src = tmp_path / "net.pth"
    torch.save({"w": torch.ones(1)}, src)
    _registry(tmp_path, monkeypatch, core=_manual(size=10, license="mit"), other=_manual())
    import_weights("core", src)

    result = CliRunner().invoke(app, ["models", "list", "--json"])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == ["core", "other"]
    keys = {"id", "methods", "role", "source", "repo", "revision", "pin", "size", "installed",
            "path"}  # fmt: skip
    assert keys | {"license", "gated", "optional"} == set(rows[0])
    assert rows[0]["installed"] is True and rows[0]["size"] == 10 and rows[0]["license"] == "mit"
    assert rows[1]["installed"] is False and rows[1]["path"] is None


def test_path_of_missing_weights_names_the_next_command(tmp_path, monkeypatch):
    _registry(tmp_path, monkeypatch, core=_manual(), gone={"methods": ["x"], "source": "none"})
    runner = CliRunner()
    manual = runner.invoke(app, ["models", "path", "core"])
    assert manual.exit_code == 2 and "vsrup models import core FILE" in manual.output
    none = runner.invoke(app, ["models", "info", "gone"])
    assert none.exit_code == 0 and "no public weights exist" in none.output
    unknown = runner.invoke(app, ["models", "path", "nope"])
    assert unknown.exit_code == 2 and "vsrup models list" in unknown.output


def test_download_of_a_method_fetches_its_hub_weights_and_names_manual_ones(tmp_path, monkeypatch):
    from unittest import mock

    from vsrup.hub import download as dl

    _registry(
        tmp_path,
        monkeypatch,
        base={"methods": ["toy"], "role": "base", "source": "hf", "repo": "org/base"},
        adapter=_manual(),
        tagger={
            "methods": ["toy"],
            "role": "tagger",
            "source": "hf",
            "repo": "o/t",
            "optional": True,
        },
    )
    fake = dl.DownloadResult("base", "org/base", "c" * 40, tmp_path, 0, False)
    with mock.patch.object(dl, "download", return_value=fake) as called:
        result = CliRunner().invoke(app, ["models", "download", "toy", "-q"])
    assert result.exit_code == 0, result.output
    assert [c.args[0] for c in called.call_args_list] == ["base"]
    assert "vsrup models import adapter FILE" in result.output
    assert 'revision = "' + "c" * 40 in result.output


def test_the_shipped_registry_covers_every_method(monkeypatch):
    from vsrup.hub import registry

    monkeypatch.delenv("VSRUP_MODELS_TOML", raising=False)
    entries = registry.entries()
    needed = {
        "sd21-base", "dloral", "ram-swin-large", "dape", "wan21-t2v-1.3b", "wan21-i2v-14b-720p",
        "stcdit-tiny", "stcdit-large", "stablevsr", "dgaf", "raft-large", "wan22-ti2v-5b",
        "litevsr", "simplegvr",
    }  # fmt: skip
    assert needed <= set(entries)
    for e in entries.values():
        assert e.source in {"hf", "modelscope", "url", "manual", "wheel", "none"}, e.id
        assert e.methods and e.license, e.id
        if e.source == "hf":
            assert e.repo and e.revision, e.id
    assert entries["sd21-base"].mirrors[0] == "Manojb/stable-diffusion-2-1-base"
    assert entries["dloral"].converter == "vsrup.methods.dloral.convert:convert_official"
    assert entries["stcdit-tiny"].files == ("tiny_8k.bin",)
    assert entries["dgaf"].source == "none"


def test_every_method_weight_id_and_converter_is_registered(monkeypatch):
    import importlib.util

    from vsrup import methods
    from vsrup.hub import registry

    monkeypatch.delenv("VSRUP_MODELS_TOML", raising=False)
    entries = registry.entries()
    for spec in methods.specs():
        unknown = [w for w in spec.weights if w not in entries]
        assert not unknown, f"method {spec.id} uses ids missing from models.toml: {unknown}"
    for e in entries.values():
        if not e.converter:
            continue
        module, _, func = e.converter.partition(":")
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue  # the method's package is not in this build yet
        if importlib.util.find_spec(module) is not None:
            assert callable(getattr(importlib.import_module(module), func, None)), e.converter


def test_models_list_says_which_hub_entries_are_unpinned():
    """Every Hub entry is pinned to a commit or `models list` says it is not."""
    import re

    from vsrup.hub import registry

    result = CliRunner().invoke(app, ["models", "list", "--json"])
    rows = {r["id"]: r for r in json.loads(result.output)}
    for model_id in registry.entries():
        e = registry.entry(model_id)
        if e.source != "hf":
            continue
        pinned = bool(e.revision and re.fullmatch(r"[0-9a-f]{40}", e.revision))
        assert ("unpinned" in rows[model_id]["pin"]) is not pinned, model_id
    assert rows["wan21-t2v-1.3b"]["pin"] == "commit 0fad780a53"
    assert "unpinned" in rows["stablevsr"]["pin"]
