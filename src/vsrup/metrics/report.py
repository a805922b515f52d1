"""Streaming evaluation: per-frame scores, their averages, and the JSON report.

Frames are consumed one pair at a time, so memory stays bounded whatever the video length;
only the small per-frame score records are kept. Averages are plain means over frames (the
VSR convention: PSNR is the mean of per-frame PSNRs, not the PSNR of the pooled MSE); temporal
scores average over the frames that have one (every frame but the first of each shot),
skipping NaN; the frames that start a new shot are listed (`cuts`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from vsrup.errors import InputError
from vsrup.metrics.quality import PSNR_CAP_DB, frame_quality
from vsrup.metrics.temporal import LumaChange, ShotCuts, WarpError, grey_u8

SCHEMA = "vsrup.metrics/1"
#: Metric names in report order, with the direction that is better.
METRICS: dict[str, str] = {
    "psnr_y": "higher",
    "ssim_y": "higher",
    "warp_error": "lower",
    "luma_flicker": "lower",
    "tdiff": "lower",
}


@dataclass
class FrameScores:
    index: int
    psnr_y: float | None = None
    ssim_y: float | None = None
    warp_error: float | None = None
    luma_flicker: float | None = None
    tdiff: float | None = None


@dataclass
class MetricsReport:
    width: int
    height: int
    crop_border: int
    frames: list[FrameScores] = field(default_factory=list)
    output: str | None = None
    reference: str | None = None
    #: Frames that start a new shot (scene cut): their temporal scores are not taken.
    cuts: list[int] = field(default_factory=list)

    def means(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in METRICS:
            values = [getattr(f, name) for f in self.frames]
            values = [v for v in values if v is not None and not math.isnan(v)]
            out[name] = float(np.mean(values)) if values else None
        return out

    def to_dict(self, per_frame: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "output": self.output,
            "reference": self.reference,
            "frames": len(self.frames),
            "width": self.width,
            "height": self.height,
            "crop_border": self.crop_border,
            "luma": "bt601-studio",
            "psnr_cap_db": PSNR_CAP_DB,
            "mean": _clean(self.means()),
            "cuts": list(self.cuts),
        }
        if per_frame:
            data["per_frame"] = [_clean(asdict(f)) for f in self.frames]
        return data


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: a temporal score with no matched pixel is written as null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


class MetricsAccumulator:
    """Scores frames as they come: `add(out, ref)` per frame, then `report()`."""

    def __init__(
        self, crop_border: int = 0, temporal: bool = True, dis_preset: str = "medium"
    ) -> None:
        self.crop_border = crop_border
        self._warp = WarpError(dis_preset) if temporal else None
        self._luma = LumaChange() if temporal else None
        self._cuts: ShotCuts | None = None
        self._cut_frames: list[int] = []
        self._frames: list[FrameScores] = []
        self._size: tuple[int, int] | None = None

    def add(self, out: np.ndarray, ref: np.ndarray | None = None) -> FrameScores:
        """Score one (H, W, 3) RGB output frame, against `ref` when given."""
        size = (out.shape[1], out.shape[0])
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise ValueError(f"frame size changed from {self._size} to {size}")
        if ref is not None and ref.shape != out.shape:
            raise ValueError(
                f"output frame is {size[0]}x{size[1]} but reference is "
                f"{ref.shape[1]}x{ref.shape[0]}"
            )
        scores = FrameScores(index=len(self._frames))
        if ref is not None:
            scores.psnr_y, scores.ssim_y = frame_quality(out, ref, self.crop_border)
        if self._warp is not None and self._luma is not None:
            # Cuts from the reference when there is one: an output whose flicker jumps as far
            # as a cut must still be scored.
            if self._cuts is None:
                self._cuts = ShotCuts(centre=ref is None)
            grey = grey_u8(out)  # once: the cut test without a reference uses it too
            new_shot = self._cuts.update(grey_u8(ref) if ref is not None else grey)
            if new_shot:
                self._cut_frames.append(scores.index)
            scores.warp_error = self._warp.update(out, new_shot, grey)
            scores.luma_flicker, scores.tdiff = self._luma.update(out, ref, new_shot)
        self._frames.append(scores)
        return scores

    def report(self, output: str | None = None, reference: str | None = None) -> MetricsReport:
        width, height = self._size or (0, 0)
        return MetricsReport(
            width=width,
            height=height,
            crop_border=self.crop_border,
            frames=list(self._frames),
            output=output,
            reference=reference,
            cuts=list(self._cut_frames),
        )


def evaluate_frames(
    outputs: Iterable[np.ndarray],
    references: Iterable[np.ndarray] | None = None,
    *,
    crop_border: int = 0,
    temporal: bool = True,
    dis_preset: str = "medium",
    on_frame: Callable[[FrameScores], None] | None = None,
) -> MetricsReport:
    """Score an output frame sequence (against references when given), streaming."""
    acc = MetricsAccumulator(crop_border, temporal, dis_preset)
    if references is None:
        for out in outputs:
            scores = acc.add(out)
            if on_frame:
                on_frame(scores)
        return acc.report()
    for n, (out, ref) in enumerate(zip_longest(outputs, references)):
        if out is None or ref is None:
            which = "output" if out is None else "reference"
            raise ValueError(f"the {which} ended after {n} frames but the other goes on")
        scores = acc.add(out, ref)
        if on_frame:
            on_frame(scores)
    return acc.report()


def evaluate_videos(
    output: str | Path,
    reference: str | Path | None,
    *,
    crop_border: int = 0,
    temporal: bool = True,
    dis_preset: str = "medium",
    start: int = 0,
    stop: int | None = None,
    on_frame: Callable[[FrameScores], None] | None = None,
) -> MetricsReport:
    """Score video `output` against video `reference` (or alone, for temporal scores only).

    The two must have the same frame size and frame count; anything else is an InputError
    naming both files, raised before any frame is scored when the headers tell.
    """
    from vsrup.metrics.frames import read_rgb
    from vsrup.video.probe import probe_video

    output, ref_path = Path(output), (Path(reference) if reference is not None else None)
    out_info = probe_video(output)
    if ref_path is not None:
        ref_info = probe_video(ref_path)
        if (out_info.width, out_info.height) != (ref_info.width, ref_info.height):
            raise InputError(
                f"is {out_info.width}x{out_info.height} but the reference {ref_path} is "
                f"{ref_info.width}x{ref_info.height}; metrics need frames of the same size",
                path=output,
                hint="upscale to the reference's size, or make the pair with `vsrup degrade`",
            )
    min_side = min(out_info.width, out_info.height) - 2 * crop_border
    if ref_path is not None and min_side < 11:
        raise InputError(
            f"frames are too small for SSIM after a border crop of {crop_border} "
            "(need at least 11x11)",
            path=output,
        )
    outs = read_rgb(output, start, stop)
    refs = read_rgb(ref_path, start, stop) if ref_path is not None else None
    try:
        report = evaluate_frames(
            outs,
            refs,
            crop_border=crop_border,
            temporal=temporal,
            dis_preset=dis_preset,
            on_frame=on_frame,
        )
    except ValueError as exc:
        raise InputError(f"does not match the reference {ref_path}: {exc}", path=output) from None
    if not report.frames:
        raise InputError("has no frames in the chosen range", path=output)
    report.output, report.reference = str(output), (str(ref_path) if ref_path else None)
    return report
