"""The SD-family methods (stablevsr, dgaf, dloral) share one base: `methods.sd_family`.

What the base promises, on tiny components: a snapshot folder missing a component is a
one-line WeightsError naming the folder, networks load with every key checked, the prompt
embedding is the CLIP encoder's, synthetic components depend on the seed only, and the
dtype/placement rules (the VAE upcast under fp16 for StableVSR/DGAF, not for DLoRAL).
The members keep no copy of what the base does.

And a tiny synthetic run of each gives the frames recorded before the base existed
(`tests/fixtures/sd_family/outputs.safetensors`, written by
`python tests/unit/test_sd_family.py record` on the code of that time), so moving the shared
loading, seeding and placement changed no output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from tests.helpers_recorded import Cases, record, replay
from vsrup import methods
from vsrup.engine.runtime import Runtime
from vsrup.interface.method import Clip, MethodOptions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sd_family" / "outputs.safetensors"
#: One DDIM step and one RAFT refinement keep the flow-guided runs cheap on a CPU.
FLOW_GUIDED = {"scheduler": "ddim", "flow_updates": "1"}


def _clip(frames: int, h: int = 8, w: int = 8, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(frames, 3, h, w, generator=g)


def _build(method_id: str, **options):  # noqa: ANN003, ANN202
    torch.manual_seed(11)  # what the run seeded globally before must not matter
    opts = MethodOptions(**{"synthetic_weights": "tiny", "seed": 7, **options})
    return methods.get(method_id).from_weights(None, Runtime(), opts)


def _stablevsr_window() -> torch.Tensor:
    return _build("stablevsr", steps=2, window=2, extra=FLOW_GUIDED).process(Clip(_clip(2)))


def _stablevsr_whole_video() -> torch.Tensor:
    method = _build("stablevsr", steps=1, extra=FLOW_GUIDED)
    method.add_segment(Clip(_clip(2), start=0))
    method.add_segment(Clip(_clip(1, seed=3), start=2))
    return torch.stack(list(method.finish_video()))


def _dgaf() -> torch.Tensor:
    return _build("dgaf", steps=2, window=2, extra=FLOW_GUIDED).process(Clip(_clip(2)))


def _dloral() -> torch.Tensor:
    return _build("dloral").process(Clip(_clip(3, 8, 12), start=0))


def _dloral_sampled_latent() -> torch.Tensor:
    method = _build("dloral", extra={"latent": "sample"})
    return method.process(Clip(_clip(3, 8, 12, seed=2), start=4, context=1))


CASES: Cases = {
    "stablevsr_window": _stablevsr_window,
    "stablevsr_whole_video": _stablevsr_whole_video,
    "dgaf": _dgaf,
    "dloral": _dloral,
    "dloral_sampled_latent": _dloral_sampled_latent,
}


# -- the members use the base -------------------------------------------------------------------


def test_members_build_on_the_base_and_keep_no_copy_of_it() -> None:
    from vsrup.methods import sd_family
    from vsrup.methods.dloral import pipeline as dloral_pipeline
    from vsrup.methods.stablevsr import model as stablevsr_model

    assert issubclass(stablevsr_model.Base, sd_family.SDComponents)
    assert issubclass(dloral_pipeline.Components, sd_family.SDComponents)
    shared = {"place", "vae_dtype", "require_folders", "load_checked", "synthetic_size", "seeded"}
    for module in (stablevsr_model, dloral_pipeline):
        own = {
            n for n, v in vars(module).items() if getattr(v, "__module__", "") == module.__name__
        }
        assert not own & shared, f"{module.__name__} defines {own & shared} again"


def test_dgaf_is_stablevsr_with_another_guide() -> None:
    from vsrup.methods.dgaf.pipeline import DGAFPipeline
    from vsrup.methods.stablevsr.method import FlowGuidedMethod
    from vsrup.methods.stablevsr.pipeline import FlowGuidedPipeline

    dgaf = methods.get("dgaf")
    assert issubclass(dgaf, FlowGuidedMethod) and issubclass(DGAFPipeline, FlowGuidedPipeline)
    assert {"from_weights", "process", "finish_video"}.isdisjoint(vars(dgaf))
    assert {"__call__", "decode", "flows"}.isdisjoint(vars(DGAFPipeline))
    assert "build_guide" in vars(dgaf) and "guided" in vars(DGAFPipeline)


def test_the_base_imports_without_loading_torch() -> None:
    import subprocess

    code = "import sys, vsrup.methods.sd_family; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- loading from a diffusers-layout folder ------------------------------------------------------


def _snapshot(root: Path) -> Path:
    """A tiny StableVSR-layout snapshot: UNet and VAE at the tiny config, the x4 upscaler's
    scheduler config, a tiny CLIP tokenizer and text encoder (width 16 = the UNet's)."""
    import json

    from diffusers import AutoencoderKL, UNet2DConditionModel

    from tests.helpers_clip import HIDDEN, tiny_clip_snapshot
    from vsrup.methods.stablevsr import config

    tiny_clip_snapshot(root)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config.unet_config("tiny"))
    assert unet.config.cross_attention_dim == HIDDEN
    unet.save_pretrained(root / "unet")
    AutoencoderKL(**config.vae_config("tiny")).save_pretrained(root / "vae")
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(config.SCHEDULER))
    return root


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _snapshot(tmp_path_factory.mktemp("sd") / "stablevsr")


def test_prompt_embedding_is_the_clip_encoders_and_networks_come_from_the_folder(
    snapshot: Path,
) -> None:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from vsrup.methods.stablevsr.model import load_base

    base = load_base(snapshot, "stablevsr", Runtime(), prompt="a cat")
    tokenizer = CLIPTokenizer.from_pretrained(snapshot / "tokenizer")
    ids = tokenizer("a cat", padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids  # fmt: skip
    with torch.no_grad():
        expected = CLIPTextModel.from_pretrained(snapshot / "text_encoder")(ids).last_hidden_state
    assert torch.equal(base.prompt_embeds, expected)
    on_disk = UNet2DConditionModel.from_pretrained(snapshot / "unet").state_dict()
    assert all(torch.equal(base.unet.state_dict()[k], v) for k, v in on_disk.items())
    assert base.scheduler_config["prediction_type"] == "v_prediction"
    assert base.scaling == pytest.approx(0.08333)


@pytest.mark.parametrize("folder", ["unet", "vae", "scheduler", "text_encoder", "tokenizer"])
def test_a_missing_component_is_a_one_line_error_naming_the_folder(
    folder: str, snapshot: Path, tmp_path: Path
) -> None:
    import shutil

    from vsrup.errors import WeightsError
    from vsrup.methods.stablevsr.model import BASE_FOLDERS, load_base

    broken = tmp_path / "stablevsr"
    shutil.copytree(snapshot, broken)
    shutil.rmtree(broken / folder)
    with pytest.raises(WeightsError) as err:
        load_base(broken, "stablevsr", Runtime())
    assert f"no {folder}/ folder" in str(err.value) and "\n" not in str(err.value)
    assert err.value.path == broken and "vsrup models download stablevsr" in err.value.hint
    assert folder in BASE_FOLDERS
    with pytest.raises(WeightsError, match="vsrup models download stablevsr"):
        load_base(None, "stablevsr", Runtime())


def test_a_network_with_a_missing_key_is_refused(snapshot: Path, tmp_path: Path) -> None:
    import shutil

    from diffusers import AutoencoderKL
    from safetensors.torch import load_file, save_file

    from vsrup.errors import WeightsError
    from vsrup.methods.sd_family import Snapshot

    shutil.copytree(snapshot / "vae", tmp_path / "vae")
    weights = tmp_path / "vae" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    state.pop("decoder.conv_out.bias")
    save_file(state, weights)
    with pytest.raises(WeightsError, match="missing.*decoder.conv_out.bias") as err:
        Snapshot(tmp_path, "sd21-base").load(AutoencoderKL, "vae", torch.float32)
    assert err.value.path == tmp_path / "vae"
    with pytest.raises(WeightsError, match="unreadable scheduler config"):
        Snapshot(tmp_path, "sd21-base").scheduler_config()


# -- dtype and placement ---------------------------------------------------------------------


def test_vae_dtype_rule() -> None:
    from vsrup.methods.sd_family import vae_dtype

    assert vae_dtype(torch.float16, upcast_fp16=True) == torch.float32
    assert vae_dtype(torch.bfloat16, upcast_fp16=True) == torch.bfloat16
    assert vae_dtype(torch.float32, upcast_fp16=True) == torch.float32
    assert vae_dtype(torch.float16, upcast_fp16=False) == torch.float16


def test_fp16_runs_keep_the_stablevsr_vae_in_fp32_and_the_dloral_vae_in_fp16(
    snapshot: Path,
) -> None:
    from vsrup.methods.dloral.pipeline import synthetic_components
    from vsrup.methods.stablevsr.model import load_base, synthetic_base
    from vsrup.util.seeding import seeded

    half = Runtime(dtype_name="fp16")
    with seeded(0):
        bases = [load_base(snapshot, "stablevsr", half), synthetic_base("tiny", half, 0)]
    for base in bases:
        assert base.unet.dtype == torch.float16 and base.prompt_embeds.dtype == torch.float16
        assert base.vae.dtype == torch.float32
        assert not base.unet.training and not any(p.requires_grad for p in base.vae.parameters())
    parts = synthetic_components("tiny", torch.device("cpu"), torch.float16, 0)
    assert parts.vae.dtype == torch.float16 and parts.prompt_embeds.dtype == torch.float16
    assert all(p.dtype == torch.float16 for p in parts.net.parameters())


def test_place_casts_only_what_differs_and_freezes() -> None:
    from vsrup.methods.sd_family import place

    layer = torch.nn.Linear(2, 2).train()
    placed = place(layer, "cpu", torch.float32)
    assert placed is layer and not placed.training and not placed.weight.requires_grad
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2).half())
    assert all(p.dtype == torch.bfloat16 for p in place(mixed, "cpu", torch.bfloat16).parameters())


# -- synthetic components ----------------------------------------------------------------------


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_synthetic_components_depend_on_the_seed_only() -> None:
    from vsrup.methods.dloral.pipeline import synthetic_components
    from vsrup.methods.stablevsr.model import synthetic_base
    from vsrup.util.seeding import seeded

    def stablevsr(seed: int, before: int):  # noqa: ANN202
        torch.manual_seed(before)  # whatever ran before
        with seeded(seed):
            base = synthetic_base("tiny", Runtime(), seed)
        return _state(base.unet), _state(base.vae), base.prompt_embeds

    def dloral(seed: int, before: int):  # noqa: ANN202
        torch.manual_seed(before)
        parts = synthetic_components("tiny", torch.device("cpu"), torch.float32, seed)
        return _state(parts.net), _state(parts.vae), parts.prompt_embeds

    for build in (stablevsr, dloral):
        (unet, vae, emb), (unet2, vae2, emb2) = build(3, 0), build(3, 99)
        assert _same(unet, unet2) and _same(vae, vae2) and torch.equal(emb, emb2)
        other_unet, _, other_emb = build(4, 0)
        assert not _same(unet, other_unet) and not torch.equal(emb, other_emb)
    # The caller's generator is left as it was.
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    synthetic_components("tiny", torch.device("cpu"), torch.float32, 1)
    assert torch.equal(torch.rand(3), expected)


def test_unknown_synthetic_size_is_a_usage_error() -> None:
    from vsrup.errors import UsageError

    for method_id in ("stablevsr", "dgaf", "dloral"):
        with pytest.raises(UsageError, match="--synthetic-weights huge"):
            methods.get(method_id).from_weights(
                None, Runtime(), MethodOptions(synthetic_weights="huge")
            )


# -- the VAE's two directions ----------------------------------------------------------------


def test_posterior_latent_is_the_scaled_mean_or_a_seeded_draw() -> None:
    from diffusers import AutoencoderKL

    from vsrup.methods.sd_family import decode_frames, posterior_latent, vae_input
    from vsrup.methods.stablevsr import config

    torch.manual_seed(0)
    vae = AutoencoderKL(**config.vae_config("tiny")).eval()
    with torch.no_grad():
        posterior = vae.encode(_clip(1, 16, 16) * 2 - 1).latent_dist
        mean = posterior_latent(vae, posterior)
        assert torch.equal(mean, posterior.mean * 0.08333)
        gens = [torch.Generator().manual_seed(s) for s in (1, 1, 2)]
        draws = [posterior_latent(vae, posterior, g) for g in gens]
        assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
        torch.testing.assert_close(vae_input(vae, mean), posterior.mean)
        two = torch.cat([mean, draws[0]])
        rgb = decode_frames(vae, two)
        assert rgb.shape == (2, 3, 16, 16) and rgb.dtype == torch.float32
        assert torch.equal(rgb[1:], vae.decode(vae_input(vae, draws[0])).sample)


# -- outputs recorded before the base ------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_gives_the_frames_recorded_before_the_shared_base(name: str) -> None:
    got, expected = replay(FIXTURE, name, CASES)
    # Same code path, same seed: only CPU kernels that differ in the last bit between machines
    # may move a value, far below anything a changed stage would (outputs are in [0, 1]).
    # DLoRAL's output is truncated to 8 bits, where such a last bit can cross a level: one
    # level on a handful of values is allowed there, a changed stage moves thousands.
    if name.startswith("dloral"):
        moved = (got - expected).abs()
        assert float(moved.max()) <= 1 / 255 + 1e-6 and int((moved > 1e-6).sum()) <= 8
    else:
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    record(FIXTURE, CASES)
