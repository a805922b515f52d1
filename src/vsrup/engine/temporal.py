"""Temporal consistency for per-frame methods: a motion-compensated blend of recent outputs.

A per-frame upscaler invents detail for each frame on its own, so the same texture shimmers
from frame to frame. This stage (a blind temporal-consistency filter in the family of Bonneel
et al. 2015) blends each fresh output with the fresh outputs of the last `context` frames,
each warped onto the current frame, per pixel, where the motion explains the low-resolution
input:

1. dense optical flow (OpenCV DIS) between consecutive **input** frames at input resolution,
   current → previous, chained to reach `context` frames back (flow composition);
2. a per-pixel confidence for each past frame: how well the current input frame agrees with
   that past input frame warped by the chained flow (a smoothed squared difference against a
   tolerance), times a forward–backward flow-consistency mask (occlusions, flow errors) and
   zero where the flow leaves the frame;
3. the past fresh outputs warped with the flow scaled to output resolution, and a weighted
   mean with the fresh output: weight 1 for the fresh output, `decay**k * confidence` for
   the output k frames back.

Why a sliding window of *fresh* outputs rather than a recursive filter (blend with the
previous *stabilised* output): the result for frame t depends only on frames t-context..t,
so error cannot accumulate (no drift on long static shots: the fresh output always carries
the largest weight), and a run can restart anywhere from the `context` preceding frames with
exactly the same result (resume, chunks). A scene cut (grey-histogram jump, or almost no
pixel of the previous frame matching) empties the window: the frame after a cut is the fresh
output, bit for bit.

Frames arrive in order through `push(lr, out)`; memory is `context` output frames plus their
input-resolution flows. Everything runs in NumPy/OpenCV on the CPU, on the quantised frames
(`push`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vsrup.engine.flow_warp import DIS_PRESETS, BandUpsampler, inside, remap_at, squared_length
from vsrup.engine.grey import grey_histogram, histogram_distance, to_gray_u8
from vsrup.engine.temporal_config import (
    MODES,
    TemporalConfig,
    cubic_pasts_for,
    tolerance_for,
    wants_temporal,
)

if TYPE_CHECKING:
    import torch


#: A past output whose weight stays below this everywhere is not warped at all: it could move
#: the mean by at most a quarter of an 8-bit level, and an output-size warp is the stage's
#: largest cost.
NEGLIGIBLE = 1 / 1024


@dataclass
class _Past:
    """One earlier frame, seen from the current one."""

    grey: np.ndarray  # (h, w) float32 in [0, 1], input resolution
    output: np.ndarray  # (H, W, C): the method's fresh output (float32, uint8 or uint16)
    flow: np.ndarray  # (h, w, 2): current frame pixel -> this frame's pixel (x, y offsets)
    valid: np.ndarray  # (h, w) float32 in [0, 1]: the chained flow is trustworthy there


class TemporalStabilizer:
    """Feed frames in order with `push`; see the module docstring."""

    def __init__(self, config: TemporalConfig | None = None) -> None:
        self.config = config or TemporalConfig()
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.config.preset])
        self._past: deque[_Past] = deque()
        self._prev_grey_u8: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._grids: dict[tuple[int, int], np.ndarray] = {}
        self._scratch_key: tuple[int, int, int, str] | None = None
        self._scratch: tuple[np.ndarray, ...] = ()
        self._spares: list[np.ndarray] = []  # output buffers that left the window
        #: Frames pushed, frames that started a new shot, and past outputs left out of a
        #: blend for a negligible weight (for tests and reports).
        self.frames = 0
        self.cuts: list[int] = []
        self.skipped = 0

    @property
    def context(self) -> int:
        return self.config.context

    def reset(self) -> None:
        self._forget()
        self._prev_grey_u8 = None
        self._prev_hist = None

    # -- the stage ------------------------------------------------------------------------
    def push(self, lr: torch.Tensor, out: torch.Tensor, bits: int = 8) -> torch.Tensor:
        """The stabilised version of `out` (C, H, W), the method's output for input frame
        `lr` (C, h, w) in [0, 1], quantised to the output's sample type (uint8 for `bits` 8,
        else uint16 at full 16-bit scale, as `quantize` does), on the CPU, as a channels-last
        view. The stage works on the quantised frames: they are what the encoder receives
        anyway, the remembered outputs take a quarter of the memory, and no float copy of each
        output-size frame is made here (docs/temporal.md)."""
        import torch

        from vsrup.engine.frames import integer_hwc
        from vsrup.engine.resume import quantize

        frame = out.detach()[None]
        if frame.is_floating_point():  # a new array nobody else holds: the result goes in it
            result = self.push_array(to_gray_u8(lr), quantize(frame, bits)[0], in_place=True)
        else:  # may be a view of the method's own tensor: leave it alone
            result = self.push_array(to_gray_u8(lr), integer_hwc(frame, bits)[0])
        return torch.from_numpy(result).permute(2, 0, 1)

    def push_array(
        self, grey_u8: np.ndarray, fresh: np.ndarray, in_place: bool = False
    ) -> np.ndarray:
        """NumPy form of `push`: grey input (h, w) uint8, fresh output (H, W, C): float32 in
        [0, 1], or uint8/uint16 (the result then has the same type, rounded half up). Returns
        `fresh` itself (not a copy) when nothing from the past was blended; with `in_place`
        (integer frames) the result is always written into `fresh` and returned.

        Integer outputs are remembered as copies in buffers the stage reuses from frame to
        frame, and with `in_place` the result takes the caller's array: the stage then
        allocates no output-size memory per frame (at ×4 of 480p, new pages for the kept
        frames and the result cost more system time than the blend itself; docs/temporal.md)."""
        cfg = self.config
        index = self.frames
        self.frames += 1
        grey = grey_u8.astype(np.float32) / 255.0
        hist = grey_histogram(grey_u8)
        if self._prev_grey_u8 is not None and self._prev_grey_u8.shape != grey_u8.shape:
            self.reset()
        tolerance = cfg.tolerance or tolerance_for(fresh.shape[1] / grey_u8.shape[1])
        pairs = self._advance(grey_u8, grey, hist, tolerance)
        if pairs is None:  # first frame, or a new shot
            if index > 0:
                self.cuts.append(index)
            self._forget()
        weights = [cfg.decay ** (k + 1) * c for k, c in enumerate(pairs or [])]

        kept = self._keep(fresh)
        blended = fresh
        if weights:
            blended = self._blend(fresh, weights, fresh if in_place else None)
        self._remember(grey, grey_u8, hist, kept)
        return blended

    # -- steps ----------------------------------------------------------------------------
    def _advance(
        self, grey_u8: np.ndarray, grey: np.ndarray, hist: np.ndarray, tolerance: float
    ) -> list[np.ndarray] | None:
        """Chain the new frame's flow onto every remembered frame; their confidences, newest
        first, or None when this frame starts a new shot."""
        cfg = self.config
        prev_u8, prev_hist = self._prev_grey_u8, self._prev_hist
        if prev_u8 is None or prev_hist is None or not self._past:
            return None
        if histogram_distance(prev_hist, hist) > cfg.cut_distance:
            return None
        h, w = grey.shape
        grid = self._grid(h, w)
        flow = self._dis.calc(grey_u8, prev_u8, None)  # current pixel -> previous pixel
        where = grid + flow
        valid = inside(where, w, h)
        if cfg.fb_check:
            back = self._dis.calc(prev_u8, grey_u8, None)
            back_at = remap_at(back, where)
            loop = squared_length(flow + back_at)
            bound = 0.01 * (squared_length(flow) + squared_length(back_at)) + 0.5
            valid *= (loop <= bound).astype(np.float32)
        confidences = []
        matched = 1.0  # share of pixels the previous frame explains (before motion damping)
        for k, past in enumerate(self._past):
            if k == 0:
                past.flow, past.valid = flow, valid
            else:  # x -> x + f(x) -> (x + f(x)) + g(x + f(x))
                past.flow = flow + remap_at(past.flow, where)
                reach = grid + past.flow
                past.valid = valid * remap_at(past.valid, where) * inside(reach, w, h)
            seen = remap_at(past.grey, grid + past.flow)
            err = cv2.GaussianBlur((grey - seen) ** 2, (0, 0), cfg.smoothing)
            conf = past.valid * np.exp(-err / tolerance**2)
            if k == 0:
                matched = float(np.mean(conf > 0.5))
            if cfg.motion_scale is not None:
                moved = squared_length(past.flow)
                conf *= np.exp(-moved / cfg.motion_scale**2)
            confidences.append(conf)
        if matched < cfg.min_matched:
            return None
        return confidences

    def _blend(
        self, fresh: np.ndarray, weights: list[np.ndarray], dst: np.ndarray | None = None
    ) -> np.ndarray:
        """Weighted mean of the fresh output (weight 1) and the warped past outputs, folded
        one past frame at a time (`cv2.blendLinear`: (a·wa + b·wb) / (wa + wb) per pixel, so
        after the last fold it is Σ w·x / Σ w); integer results go into `dst` when given.

        Done in bands of output rows, every past folded into a band before the next: a band's
        flow, sample maps, warped pixels, weights and running mean stay in the CPU cache. Done
        frame by frame instead, each past output went through about 800 MB of full-size
        planes at 4K; in bands the stage alone takes 180–240 ms of wall time per 4K frame
        instead of 330 (2 threads, docs/temporal.md)."""
        out_h, out_w, channels = fresh.shape
        result = np.empty_like(fresh) if dst is None else dst  # every band writes its rows
        live = []  # (age, past, weight, its flow in output pixels at input size)
        for age, (past, weight) in enumerate(zip(self._past, weights, strict=False)):
            if float(weight.max()) < NEGLIGIBLE:  # fast motion damps old pasts to nothing
                self.skipped += 1
                continue
            h, w = weight.shape
            live.append(
                (age, past, weight, past.flow * np.array([out_w / w, out_h / h], np.float32))
            )
        upsample = BandUpsampler(weights[0].shape, (out_h, out_w))
        cubic = self.config.cubic_pasts
        if cubic is None:
            cubic = cubic_pasts_for(out_w / weights[0].shape[1])
        band = upsample.band
        bufs = self._band_scratch(out_w, band, channels, fresh.dtype)
        grid, flow, xy, frac, warped, warped_f, up, norm, total = bufs
        grid[..., 0] = np.arange(out_w, dtype=np.float32)[None]
        for y0 in range(0, out_h, band):
            rows = min(band, out_h - y0)
            sub = slice(0, rows)
            grid[sub, :, 1] = np.arange(y0, y0 + rows, dtype=np.float32)[:, None]
            upsample.start(y0, rows)
            total[sub] = fresh[y0 : y0 + rows]
            norm[sub] = 1.0
            for age, past, weight, scaled in live:
                upsample(scaled, flow[sub])
                cv2.add(flow[sub], grid[sub], dst=flow[sub])
                # Fixed-point maps (1/32 px): the sample positions the docs/temporal.md figures
                # were measured with (float maps sample slightly differently, no faster).
                cv2.convertMaps(flow[sub], None, cv2.CV_16SC2, dstmap1=xy[sub], dstmap2=frac[sub])
                # Bicubic for the newest past: bilinear there softens the detail being
                # stabilised (measured: about 0.08 dB PSNR-Y lost for span ×2 with bilinear
                # for every past).
                interp = cv2.INTER_CUBIC if age < cubic else cv2.INTER_LINEAR
                cv2.remap(past.output, xy[sub], frac[sub], interp, dst=warped[sub],
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                if warped_f is not warped:
                    np.copyto(warped_f[sub], warped[sub], casting="unsafe")
                upsample(weight, up[sub])
                cv2.blendLinear(total[sub], warped_f[sub], norm[sub], up[sub], dst=total[sub])
                cv2.add(norm[sub], up[sub], dst=norm[sub])
            out = result[y0 : y0 + rows]
            if fresh.dtype != np.float32:  # round half up, as `quantize` does; within range:
                total[sub] += 0.5  # remap saturates integers and the mean is convex
                np.copyto(out, total[sub], casting="unsafe")  # truncation, as astype
            else:  # bicubic sampling can overshoot: keep [0, 1], as the methods' outputs are
                np.clip(total[sub], 0.0, 1.0, out=out)
        return result

    def _band_scratch(self, w: int, rows: int, c: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """Per-band buffers (a few MB at 4K), kept from frame to frame."""
        key = (w, rows, c, np.dtype(dtype).str)
        if self._scratch_key != key:
            self._scratch_key = key
            warped = np.empty((rows, w, c), dtype)
            warped_f = warped if warped.dtype == np.float32 else np.empty((rows, w, c), np.float32)
            self._scratch = (
                np.empty((rows, w, 2), np.float32),  # output pixel positions
                np.empty((rows, w, 2), np.float32),  # flow, then sample positions
                np.empty((rows, w, 2), np.int16),  # fixed-point maps
                np.empty((rows, w), np.uint16),
                warped,
                warped_f,
                np.empty((rows, w), np.float32),  # weight
                np.empty((rows, w), np.float32),  # sum of weights
                np.empty((rows, w, c), np.float32),  # running mean
            )
        return self._scratch

    def _keep(self, fresh: np.ndarray) -> np.ndarray:
        """The copy of an integer fresh output the window keeps, in a buffer that left the
        window (`_remember` hands them back after the blend, so the pool holds one in steady
        state); float32 outputs, a test path, are kept as given."""
        if fresh.dtype == np.float32:
            return fresh
        for i, spare in enumerate(self._spares):
            if spare.shape == fresh.shape and spare.dtype == fresh.dtype:
                del self._spares[i]
                break
        else:
            spare = np.empty_like(fresh)
        np.copyto(spare, fresh)
        return spare

    def _remember(
        self, grey: np.ndarray, grey_u8: np.ndarray, hist: np.ndarray, fresh: np.ndarray
    ) -> None:
        h, w = grey.shape
        zero = np.zeros((h, w, 2), np.float32)
        self._past.appendleft(_Past(grey, fresh, zero, np.ones((h, w), np.float32)))
        while len(self._past) > self.config.context:
            gone = self._past.pop().output
            if gone.dtype != np.float32:
                self._spares.append(gone)
        del self._spares[self.config.context + 1 :]  # a size change must not hoard old buffers
        self._prev_grey_u8, self._prev_hist = grey_u8, hist

    def _forget(self) -> None:
        """Empty the window; its integer buffers wait for reuse."""
        self._spares.extend(p.output for p in self._past if p.output.dtype != np.float32)
        self._past.clear()

    def _grid(self, h: int, w: int) -> np.ndarray:
        """(h, w, 2) pixel positions (x, y), cached per size (filled by broadcasting: at 4K
        np.mgrid's int64 temporaries took over a second)."""
        grid = self._grids.get((h, w))
        if grid is None:
            grid = self._grids[(h, w)] = np.empty((h, w, 2), np.float32)
            grid[..., 0] = np.arange(w, dtype=np.float32)[None, :]
            grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
        return grid


__all__ = [
    "MODES",
    "TemporalConfig",
    "TemporalStabilizer",
    "cubic_pasts_for",
    "tolerance_for",
    "wants_temporal",
]
