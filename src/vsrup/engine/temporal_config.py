"""Settings of the temporal-consistency stage (`vsrup.engine.temporal`) and their measured
defaults: which runs get the stage, and how it blends by scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from vsrup.engine.flow_warp import DIS_PRESETS
from vsrup.engine.grey import CUT_DISTANCE

if TYPE_CHECKING:
    from vsrup.interface.method import MethodSpec

MODES = ("auto", "on", "off")
Mode = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class TemporalConfig:
    """Settings of the stage; the defaults are the measured ones (docs/temporal.md)."""

    #: Past frames blended into each output; also the frames a restart must recompute.
    context: int = 4
    #: Weight of the output k frames back is decay**k times its confidence (fresh: 1).
    decay: float = 0.8
    #: Input-resolution RMS grey difference (0..1) at which confidence falls to 1/e; None:
    #: by the output/input size ratio (`tolerance_for`).
    tolerance: float | None = None
    #: Gaussian sigma (input pixels) smoothing the squared difference, so that sensor or
    #: compression noise averages out while misaligned edges do not.
    smoothing: float = 1.5
    #: Grey-histogram Bhattacharyya distance above which a frame starts a new shot.
    cut_distance: float = CUT_DISTANCE
    #: A frame also starts a new shot when fewer than this share of its pixels match the
    #: previous frame with confidence above 1/2.
    min_matched: float = 0.1
    #: DIS preset for the input-resolution flow.
    preset: str = "fast"
    #: Forward-backward consistency check (a second flow per frame pair).
    fb_check: bool = True
    #: Past outputs warped with bicubic sampling, newest first; older ones bilinear. None:
    #: by the output/input size ratio (`cubic_pasts_for`).
    cubic_pasts: int | None = None
    #: Input pixels a past frame's content has moved (chained flow) at which its weight falls
    #: to 1/e; None: no damping. On real footage the blend's loss of detail grows with motion
    #: (the input-resolution test does not see output-scale misalignment), and flicker is
    #: least visible in motion. Measured (docs/temporal.md, real footage): 4 keeps 88 % of
    #: span's PSNR-Y gain at ×2 (no damping: 76 %) for 2 % more warping error.
    motion_scale: float | None = 4.0

    def __post_init__(self) -> None:
        if self.context < 1:
            raise ValueError("context must be at least 1")
        if self.cubic_pasts is not None and self.cubic_pasts < 0:
            raise ValueError("cubic_pasts must not be negative")
        if not 0 < self.decay <= 1:
            raise ValueError("decay must be in (0, 1]")
        if self.tolerance is not None and self.tolerance <= 0:
            raise ValueError("tolerance must be positive")
        if self.motion_scale is not None and self.motion_scale <= 0:
            raise ValueError("motion_scale must be positive")
        if self.preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {self.preset!r}; use {', '.join(DIS_PRESETS)}")


def tolerance_for(ratio: float) -> float:
    """The default tolerance at an output/input size ratio: 0.05 up to ×2, 0.07 from ×4,
    linear between. Measured with span (docs/temporal.md): on three real clips delivered as
    H.264 (CRF 18, 23, 28; held-out frames too) and on the photo set with noise or CRF 23,
    these bring the warping error below lanczos' while keeping at least 99 % of span's PSNR-Y
    gain over lanczos, where the earlier 0.03 / 0.06 stayed up to 12 % above lanczos' on
    H.264 input. The price is on clean (losslessly downscaled) input, where the stage costs
    sharpness at any tolerance. ×3 is interpolated, not measured."""
    return 0.05 + 0.02 * min(max((ratio - 2.0) / 2.0, 0.0), 1.0)


def cubic_pasts_for(ratio: float) -> int:
    """Past outputs warped with bicubic sampling by default: the newest one below ×3, none
    from ×3. Measured (docs/temporal.md): at ×2 bicubic for the newest keeps PSNR-Y (±0.003
    dB) and lowers E_warp against bicubic for all four, and bilinear for all loses 0.03–0.08
    dB; at ×4 bilinear for all kept PSNR-Y within +0.02 / −0.04 dB and E_warp within 3 % on
    the real H.264 clips and the photo set, and a bicubic 4K warp costs three times a
    bilinear one (62 against 19 ms of CPU). ×3 is not measured."""
    return 1 if ratio < 3 else 0


def wants_temporal(mode: Mode | str, spec: MethodSpec) -> bool:
    """Whether the stage runs: `on`/`off` as asked; `auto` for learned per-frame methods,
    whose invented detail is what flickers (classical resamplers are linear in the input and
    temporal methods are consistent by design)."""
    if mode not in MODES:
        raise ValueError(f"unknown temporal mode {mode!r}")
    if mode == "auto":
        return spec.kind == "learned" and spec.window == 1
    return mode == "on"


__all__ = ["MODES", "Mode", "TemporalConfig", "cubic_pasts_for", "tolerance_for",
           "wants_temporal"]  # fmt: skip
