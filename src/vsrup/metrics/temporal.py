"""Temporal consistency of a video: flow-warping error and luminance flicker.

Three numbers per pair of consecutive frames (t-1, t), attached to frame t:

- `warp_error` (needs only the output): the previous output frame is warped onto the current one
  with dense optical flow from OpenCV's DIS estimator (computed on the output's own grey
  frames, t -> t-1), and the mean squared RGB difference (RGB in [0, 1], averaged over the three
  channels) is taken over the pixels the flow can explain: those whose flow lands inside the
  frame and passes a forward-backward consistency check (Sundaram et al. 2010:
  |f + b(x+f)|^2 <= 0.01 (|f|^2 + |b(x+f)|^2) + 0.5). This is the E_warp of Lai et al.
  (ECCV 2018) with DIS in place of FlowNet2; temporally stable output scores close to 0,
  flicker and boiling textures score higher. Papers often print it x 1e3.
- `luma_flicker` (needs only the output): |mean Y(t) - mean Y(t-1)|, the change of the frame's
  average BT.601 luma on a 0..255 scale; it catches brightness pumping.
- `tdiff` (needs the reference): mean over pixels of |(Yo(t) - Yo(t-1)) - (Yr(t) - Yr(t-1))|,
  how far the output's frame-to-frame luma change departs from the reference's (0..255 scale).
  Real motion cancels out; flicker the reference does not have does not.

All three are scores *within a shot*: a pair of frames across a scene cut has no motion to
follow, and its warping error (on a real street clip, thousands of times a moving shot's)
would swamp the mean of a real video. `ShotCuts` finds cuts with the grey-histogram test the
segmenter and the temporal stage use, on the reference when there is one (the truth). Without
one it looks at the output, whose own flicker must not pass for a cut: there each grey frame
is shifted to a mean of 128 before its histogram is taken, so brightness pumping, however
strong, leaves the distance near 0 while a change of picture does not. The report lists the
cuts and leaves those pairs unscored.
"""

from __future__ import annotations

import cv2
import numpy as np

from vsrup.engine.flow_warp import DIS_PRESETS
from vsrup.engine.grey import CUT_DISTANCE, grey_histogram, histogram_distance
from vsrup.metrics.quality import rgb_to_y, to_unit_rgb


def grey_u8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(to_unit_rgb(rgb) * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class ShotCuts:
    """Whether each frame starts a new shot; feed frames in order with `update`. With
    `centre`, a change of brightness alone is not a cut (see the module docstring)."""

    def __init__(self, centre: bool, threshold: float = CUT_DISTANCE) -> None:
        self.centre = centre
        self.threshold = threshold
        self._prev: np.ndarray | None = None

    def update(self, grey: np.ndarray) -> bool:
        """True when the frame (`grey_u8` of it) is cut from the previous one (False for the
        first frame)."""
        if self.centre:  # a whole-level shift: the histogram moves without changing shape
            shifted = grey.astype(np.int16) + (128 - round(float(grey.mean())))
            grey = np.clip(shifted, 0, 255).astype(np.uint8)
        hist = grey_histogram(grey)
        prev, self._prev = self._prev, hist
        return prev is not None and histogram_distance(prev, hist) > self.threshold


class WarpError:
    """DIS-flow warping error between consecutive frames; feed frames in order with `update`."""

    def __init__(self, preset: str = "medium", occlusion_check: bool = True) -> None:
        if preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; use one of {', '.join(DIS_PRESETS)}")
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        self._occlusion_check = occlusion_check
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def update(
        self, rgb: np.ndarray, new_shot: bool = False, grey: np.ndarray | None = None
    ) -> float | None:
        """Error of this frame against the previous one (None for the first frame and for the
        first frame of a new shot; NaN when no pixel of the frame can be matched). `grey`:
        `grey_u8(rgb)` when the caller has it already."""
        grey = grey_u8(rgb) if grey is None else grey
        unit = to_unit_rgb(rgb).astype(np.float32)
        prev, self._prev = self._prev, (grey, unit)
        if prev is None or new_shot:
            return None
        return self._pair_error(prev[0], prev[1], grey, unit)

    def _pair_error(
        self, grey0: np.ndarray, rgb0: np.ndarray, grey1: np.ndarray, rgb1: np.ndarray
    ) -> float:
        h, w = grey1.shape
        # Backward flow: grey1(x) ~ grey0(x + f(x)), so sampling frame 0 at x + f warps it onto 1.
        f = self._dis.calc(grey1, grey0, None)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        map_x, map_y = xs + f[..., 0], ys + f[..., 1]
        warped = cv2.remap(rgb0, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        if self._occlusion_check:
            b = self._dis.calc(grey0, grey1, None)
            b_at = cv2.remap(b, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            loop = np.sum((f + b_at) ** 2, axis=-1)
            bound = 0.01 * (np.sum(f**2, axis=-1) + np.sum(b_at**2, axis=-1)) + 0.5
            valid &= loop <= bound
        if not valid.any():
            return float("nan")
        sq = np.mean((rgb1.astype(np.float64) - warped) ** 2, axis=-1)
        return float(sq[valid].mean())


class LumaChange:
    """Consecutive-frame luma statistics: `luma_flicker` and, with a reference, `tdiff`."""

    def __init__(self) -> None:
        self._prev_out: np.ndarray | None = None
        self._prev_ref: np.ndarray | None = None

    def update(
        self, out_rgb: np.ndarray, ref_rgb: np.ndarray | None = None, new_shot: bool = False
    ) -> tuple[float | None, float | None]:
        """(luma_flicker, tdiff) for this frame; None for the first frame (of the video or of
        a new shot) / without reference."""
        y_out = rgb_to_y(out_rgb)
        y_ref = rgb_to_y(ref_rgb) if ref_rgb is not None else None
        prev_out, prev_ref = self._prev_out, self._prev_ref
        self._prev_out, self._prev_ref = y_out, y_ref
        if prev_out is None or new_shot:
            return None, None
        flicker = abs(float(y_out.mean()) - float(prev_out.mean()))
        if y_ref is None or prev_ref is None:
            return flicker, None
        tdiff = float(np.mean(np.abs((y_out - prev_out) - (y_ref - prev_ref))))
        return flicker, tdiff
