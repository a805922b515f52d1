"""Motion-aware segmentation (STCDiT): cut a video where the camera motion changes abruptly.

Between every pair of consecutive frames we detect Shi-Tomasi corners in the earlier frame,
track them into the later one with pyramidal Lucas-Kanade, fit an affine transform with RANSAC
and decompose it into translation, rotation and scale. A frame whose motion relative to its
predecessor exceeds a threshold starts a new segment; a segment never grows past `max_len`
frames. Defaults are the official ones (100 corners, quality 0.3, min distance 7; LK window 21,
3 pyramid levels; full affine fit; cut at |dx| or |dy| > 5 px, rotation > 0.5°, |scale-1| >
0.01; at most 9 frames), and the thresholds are in pixels of the ORIGINAL input resolution, as
in the official code, which analyses the low-resolution input as decoded.

Where the official code gives up (it stops covering frames once features cannot be
re-detected), we always cover every frame and fall back as follows:
- too few corners at the official quality level (0.3 is relative to the strongest corner, so
  one dominant corner hides the rest): re-detect at `fallback_quality` (0.01);
- still too few (a flat or dark previous frame): motion is unknown but there is no structure
  for a VAE to distort, so no motion cut is made (status "flat");
- corners found but too few tracked, no affine fit, or a fit with few RANSAC inliers (garbage
  tracks): cut, reason "tracking-lost";
- a large photometric change (grey-level histogram distance above `scene_threshold`): cut,
  reason "scene-change", whatever the tracker says (a tracker happily "tracks" noise across a
  scene cut).
Corners are re-detected on every frame, so tracking recovers as soon as texture returns.

The segmenter is streaming: `push()` takes one frame at a time and keeps only a grey,
optionally downscaled copy of the previous frame, so memory does not depend on video length.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Reasons a segment starts, in the order they are checked.
REASONS = (
    "start",
    "scene-change",
    "tracking-lost",
    "translation",
    "rotation",
    "scale",
    "max-length",
)


@dataclass(frozen=True)
class SegmentConfig:
    """Thresholds and tracker settings; defaults are STCDiT's official values."""

    max_corners: int = 100
    quality_level: float = 0.3
    min_distance: float = 7.0
    lk_window: int = 21
    #: cv2 maxLevel: pyramid levels above the base image (official: 3).
    lk_levels: int = 3
    translation_px: float = 5.0
    rotation_deg: float = 0.5
    scale_tol: float = 0.01
    max_len: int = 9
    #: Fewer tracked points than this and the affine fit is not trusted.
    min_points: int = 6
    #: When the official quality level finds fewer than `min_points` corners (quality is
    #: relative to the strongest corner, so one very strong corner hides all others), corners
    #: are re-detected at this quality before the frame is declared flat. None disables it.
    fallback_quality: float | None = 0.01
    #: A RANSAC fit whose inliers are fewer than this share of the tracked points is "lost".
    min_inlier_ratio: float = 0.3
    #: Bhattacharyya distance between consecutive grey histograms that means "new scene".
    scene_threshold: float = 0.3
    #: Frames larger than this (longest side) are analysed downscaled; motion is still
    #: reported and thresholded in original pixels. None analyses at full size (official).
    analysis_max_side: int | None = 1920
    #: When set, the translation threshold scales with frame height / reference_height, so
    #: the same camera motion cuts alike at any resolution. None = official absolute pixels.
    reference_height: int | None = None

    def __post_init__(self) -> None:
        if self.max_len < 1:
            raise ValueError("max_len must be at least 1")
        if self.min_points < 3:
            raise ValueError("min_points must be at least 3 (an affine fit needs 3 points)")


@dataclass(frozen=True)
class Segment:
    """Frames [start, end) and why the segment starts where it does."""

    start: int
    end: int
    reason: str

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class FrameMotion:
    """Motion of frame `index` relative to frame `index - 1` (NaN where unknown)."""

    index: int
    dx: float = math.nan
    dy: float = math.nan
    rotation_deg: float = math.nan
    scale: float = math.nan
    points: int = 0
    scene_distance: float = 0.0
    #: "first" (frame 0), "ok", "flat" (too few corners), "lost" (tracking failed)
    status: str = "first"
    #: Why a segment starts at this frame ("translation+rotation", ...), or None.
    cut: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


@dataclass
class Segmentation:
    frames: int
    segments: list[Segment] = field(default_factory=list)
    motions: list[FrameMotion] = field(default_factory=list)

    def to_json(self, config: SegmentConfig | None = None) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "segments": [[s.start, s.end] for s in self.segments],
            "cuts": [{"frame": s.start, "reason": s.reason} for s in self.segments],
            "motion": [m.to_json() for m in self.motions],
            "config": asdict(config) if config is not None else None,
        }


def to_gray_u8(frame: Any) -> np.ndarray:
    """Grey uint8 (H, W) from an RGB/grey numpy array (uint8, uint16 or float in [0, 1]) or a
    (C, H, W) / (H, W) torch tensor in [0, 1]."""
    import cv2

    if hasattr(frame, "detach"):  # torch tensor, channels first
        arr = frame.detach().float().clamp(0, 1).mul(255).round().to("cpu").numpy()
        arr = arr.astype(np.uint8)
        if arr.ndim == 3:
            arr = np.ascontiguousarray(arr.transpose(1, 2, 0))
    else:
        arr = np.asarray(frame)
        if arr.dtype == np.uint16:
            arr = (arr >> 8).astype(np.uint8)
        elif arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        else:
            arr = cv2.cvtColor(np.ascontiguousarray(arr[:, :, :3]), cv2.COLOR_RGB2GRAY)
    if arr.ndim != 2:
        raise ValueError(f"expected an image, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def grey_histogram(gray: np.ndarray) -> np.ndarray:
    """64-bin normalised histogram of a grey uint8 frame, for the scene-change distance."""
    import cv2

    hist = cv2.calcHist([gray], [0], None, [64], [0, 256])
    return cv2.normalize(hist, hist).astype(np.float32)


def decompose_affine(m: np.ndarray) -> tuple[float, float, float, float]:
    """(dx, dy, rotation in degrees, mean axis scale) of a 2x3 affine matrix, decomposed as
    the official code does."""
    dx, dy = float(m[0, 2]), float(m[1, 2])
    rot = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    scale = (math.hypot(m[0, 0], m[1, 0]) + math.hypot(m[0, 1], m[1, 1])) / 2.0
    return dx, dy, rot, scale


class MotionSegmenter:
    """Streaming segmenter: `push(frame)` per frame, then `finish()`.

    `push` returns the segment that the new frame closed (when the frame starts a new one),
    `finish` the last open segment; `segments` and `motions` accumulate everything.
    """

    def __init__(self, config: SegmentConfig | None = None) -> None:
        self.config = config or SegmentConfig()
        self.segments: list[Segment] = []
        self.motions: list[FrameMotion] = []
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._factor = 1.0  # analysis pixels per original pixel
        self._height = 0
        self._shape: tuple[int, int] | None = None
        self._index = 0
        self._seg_start = 0
        self._seg_reason = "start"

    # -- public -----------------------------------------------------------------------------
    def push(self, frame: Any) -> Segment | None:
        gray = self._prepare(frame)
        hist = self._hist(gray)
        index = self._index
        if self._prev is None:
            motion = FrameMotion(index=0)
            reasons: list[str] = []
        else:
            motion, reasons = self._measure(index, self._prev, gray, self._prev_hist, hist)
        closed = None
        if index > 0 and not reasons and index - self._seg_start >= self.config.max_len:
            reasons = ["max-length"]
        if reasons:
            motion.cut = "+".join(reasons)
            closed = Segment(self._seg_start, index, self._seg_reason)
            self.segments.append(closed)
            self._seg_start, self._seg_reason = index, motion.cut
        self.motions.append(motion)
        self._prev, self._prev_hist = gray, hist
        self._index += 1
        return closed

    def finish(self) -> Segment | None:
        """Close the open segment (None for an empty video). Call once, after the last frame."""
        if self._index == 0 or (self.segments and self.segments[-1].end == self._index):
            return None
        last = Segment(self._seg_start, self._index, self._seg_reason)
        self.segments.append(last)
        return last

    @property
    def frames(self) -> int:
        return self._index

    def result(self) -> Segmentation:
        return Segmentation(self._index, list(self.segments), list(self.motions))

    # -- internals --------------------------------------------------------------------------
    def _prepare(self, frame: Any) -> np.ndarray:
        import cv2

        gray = to_gray_u8(frame)
        h, w = gray.shape
        if self._shape is None:
            self._shape, self._height = (h, w), h
            side = self.config.analysis_max_side
            self._factor = min(1.0, side / max(h, w)) if side else 1.0
        elif (h, w) != self._shape:
            raise ValueError(f"frame {self._index} is {w}x{h}, earlier frames were different")
        if self._factor < 1.0:
            size = (max(1, round(w * self._factor)), max(1, round(h * self._factor)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        return gray

    def _corners(self, gray: np.ndarray, quality: float) -> np.ndarray | None:
        import cv2

        cfg = self.config
        return cv2.goodFeaturesToTrack(
            gray, maxCorners=cfg.max_corners, qualityLevel=quality, minDistance=cfg.min_distance
        )

    @staticmethod
    def _hist(gray: np.ndarray) -> np.ndarray:
        return grey_histogram(gray)

    def _measure(
        self,
        index: int,
        prev: np.ndarray,
        cur: np.ndarray,
        prev_hist: np.ndarray | None,
        hist: np.ndarray,
    ) -> tuple[FrameMotion, list[str]]:
        import cv2

        cfg = self.config
        motion = FrameMotion(index=index, status="ok")
        assert prev_hist is not None
        dist = float(cv2.compareHist(prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA))
        motion.scene_distance = dist if math.isfinite(dist) else 0.0
        reasons: list[str] = []
        if motion.scene_distance > cfg.scene_threshold:
            reasons.append("scene-change")

        corners = self._corners(prev, cfg.quality_level)
        if (corners is None or len(corners) < cfg.min_points) and cfg.fallback_quality:
            corners = self._corners(prev, cfg.fallback_quality)
        if corners is None or len(corners) < cfg.min_points:
            motion.status = "flat"
            motion.points = 0 if corners is None else len(corners)
            return motion, reasons

        moved, status, _err = cv2.calcOpticalFlowPyrLK(
            prev,
            cur,
            corners,
            None,
            winSize=(cfg.lk_window, cfg.lk_window),
            maxLevel=cfg.lk_levels,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
        )
        ok = status.reshape(-1) == 1 if status is not None else np.zeros(0, bool)
        src = corners.reshape(-1, 2)[ok]
        dst = moved.reshape(-1, 2)[ok] if moved is not None else src[:0]
        motion.points = len(src)
        matrix = None
        if len(src) >= cfg.min_points:
            matrix, inliers = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC)
            # Garbage tracks (noise, a scene cut the histogram missed) still give *a* fit;
            # few inliers tell it apart from a real camera motion.
            enough = max(cfg.min_points, cfg.min_inlier_ratio * len(src))
            if matrix is not None and inliers is not None and inliers.sum() < enough:
                matrix = None
        if matrix is None or not np.all(np.isfinite(matrix)):
            motion.status = "lost"
            if "scene-change" not in reasons:
                reasons.append("tracking-lost")
            return motion, reasons

        dx, dy, rot, scale = decompose_affine(matrix)
        # Back to original pixels: translation scales with the analysis factor, angles and
        # scale ratios do not.
        motion.dx, motion.dy = dx / self._factor, dy / self._factor
        motion.rotation_deg, motion.scale = rot, scale
        limit = cfg.translation_px
        if cfg.reference_height:
            limit *= self._height / cfg.reference_height
        if not reasons:
            if abs(motion.dx) > limit or abs(motion.dy) > limit:
                reasons.append("translation")
            if abs(rot) > cfg.rotation_deg:
                reasons.append("rotation")
            if abs(scale - 1.0) > cfg.scale_tol:
                reasons.append("scale")
        return motion, reasons


def segment_frames(frames: Iterable[Any], config: SegmentConfig | None = None) -> Segmentation:
    """Segment an iterable of frames (consumed one by one)."""
    seg = MotionSegmenter(config)
    for frame in frames:
        seg.push(frame)
    seg.finish()
    return seg.result()


def fixed_segments(frames: int, max_len: int) -> list[Segment]:
    """Segments of `max_len` frames (the fallback when motion analysis is switched off)."""
    return [
        Segment(s, min(s + max_len, frames), "start" if s == 0 else "max-length")
        for s in range(0, frames, max_len)
    ]
