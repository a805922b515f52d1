"""Motion-aware segmentation (STCDiT): cut a video where the camera motion changes abruptly.

Between every pair of consecutive frames we detect Shi-Tomasi corners in the earlier frame,
track them into the later one with pyramidal Lucas-Kanade, fit an affine transform with RANSAC
and decompose it into translation, rotation and scale. A frame whose motion relative to its
predecessor exceeds a threshold starts a new segment; a segment never grows past `max_len`
frames (except the official last-frame merge below: `max_len` + 1). Defaults are the
official ones (100 corners, quality 0.3, min distance 7; LK window 21,
3 pyramid levels; full affine fit; cut at |dx| or |dy| > 5 px, rotation > 0.5°, |scale-1| >
0.01; at most 9 frames), and the thresholds are in pixels of the ORIGINAL input resolution, as
in the official code, which analyses the low-resolution input as decoded.

The defaults follow the official `analyze_video_motion` exactly: corners at quality 0.3
only; an affine fit needs 3 or more tracked points, and with fewer (or no fit) the frame is
not cut; any fit RANSAC returns is used; the last piece of the video follows the official
segment list (a 1-frame remainder after a 9-frame segment joins it when the official list
does: when the video has no motion cut, or the piece after the last cut has 10 frames).
Where the official function gives up (it stops once corners cannot be re-detected, leaving
the rest of the video without segments) we keep going and cover every frame: a frame whose
predecessor has too few corners is not cut (status "flat"), and corners are re-detected on
every frame, so tracking recovers as soon as texture returns.

`SegmentConfig.extended()` switches on our extensions (a deliberate deviation, for footage
with hard cuts): re-detection at `fallback_quality` when one dominant corner hides the rest,
a "tracking-lost" cut when the fit fails or has few RANSAC inliers (garbage tracks), and a
"scene-change" cut on a large grey-histogram distance (a tracker happily "tracks" noise across
a scene cut).

The segmenter is streaming: `push()` takes one frame at a time and keeps only a grey,
optionally downscaled copy of the previous frame, so memory does not depend on video length.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vsrup.engine.grey import CUT_DISTANCE, grey_histogram, histogram_distance, to_gray_u8

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
    #: Fewer tracked points than this and there is no affine fit (official: 3).
    min_points: int = 3
    #: When the official quality level finds fewer than `min_points` corners (quality is
    #: relative to the strongest corner, so one very strong corner hides all others), corners
    #: are re-detected at this quality. None (official) disables it.
    fallback_quality: float | None = None
    #: A RANSAC fit whose inliers are fewer than this share of the tracked points is "lost"
    #: (official: 0, any fit is used).
    min_inlier_ratio: float = 0.0
    #: Cut where tracking is lost (too few points or no fit). Official: no cut.
    cut_on_lost: bool = False
    #: Bhattacharyya distance between consecutive grey histograms that means "new scene";
    #: None (official) never cuts on it.
    scene_threshold: float | None = None
    #: Frames larger than this (longest side) are analysed downscaled; motion is still
    #: reported and thresholded in original pixels. None analyses at full size (official).
    analysis_max_side: int | None = None
    #: When set, the translation threshold scales with frame height / reference_height, so
    #: the same camera motion cuts alike at any resolution. None = official absolute pixels.
    reference_height: int | None = None
    #: Merge a final 1-frame remainder into the segment before it where the official segment
    #: list does (see the module docstring).
    official_tail: bool = True

    @classmethod
    def extended(cls, **overrides: Any) -> SegmentConfig:
        """Our extensions on top of the official rules: fallback corners, cuts where
        tracking is lost and at scene changes, downscaled analysis of very large frames."""
        base: dict[str, Any] = dict(
            min_points=6,
            fallback_quality=0.01,
            min_inlier_ratio=0.3,
            cut_on_lost=True,
            scene_threshold=CUT_DISTANCE,
            analysis_max_side=1920,
        )
        return cls(**(base | overrides))

    def __post_init__(self) -> None:
        if self.max_len < 1:
            raise ValueError("max_len must be at least 1")
        if self.min_points < 3:
            raise ValueError("min_points must be at least 3 (an affine fit needs 3 points)")
        if self.official_tail and self.max_len < 2:
            raise ValueError("official_tail needs max_len of at least 2")


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


def decompose_affine(m: np.ndarray) -> tuple[float, float, float, float]:
    """(dx, dy, rotation in degrees, mean axis scale) of a 2x3 affine matrix, decomposed as
    the official code does."""
    dx, dy = float(m[0, 2]), float(m[1, 2])
    rot = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    scale = (math.hypot(m[0, 0], m[1, 0]) + math.hypot(m[0, 1], m[1, 1])) / 2.0
    return dx, dy, rot, scale


class MotionSegmenter:
    """Streaming segmenter: `push(frame)` per frame, then `finish()`.

    `push` returns the segments the new frame closed (a segment cut for length is returned
    one frame late, since the official list may still give it the video's last frame),
    `finish` the remaining ones; `segments` and `motions` accumulate everything.
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
        self._held: Segment | None = None
        self._motion_cuts = 0
        self._finished = False

    # -- public -----------------------------------------------------------------------------
    def push(self, frame: Any) -> list[Segment]:
        """Add the next frame; returns the segments this frame closed (usually none)."""
        gray = self._prepare(frame)
        hist = self._hist(gray)
        index = self._index
        if self._prev is None:
            motion = FrameMotion(index=0)
            reasons: list[str] = []
        else:
            motion, reasons = self._measure(index, self._prev, gray, self._prev_hist, hist)
        # A segment cut for length is held back one frame: if the video ends right after it,
        # the official segment list may still give it that last frame (see `finish`).
        closed = [self._held] if self._held is not None else []
        self._held = None
        if index > 0 and not reasons and index - self._seg_start >= self.config.max_len:
            reasons = ["max-length"]
        if reasons:
            motion.cut = "+".join(reasons)
            seg = Segment(self._seg_start, index, self._seg_reason)
            if reasons == ["max-length"] and self.config.official_tail:
                self._held = seg
            else:
                closed.append(seg)
            self._seg_start, self._seg_reason = index, motion.cut
            if motion.cut != "max-length":
                self._motion_cuts += 1
        self.segments.extend(closed)
        self.motions.append(motion)
        self._prev, self._prev_hist = gray, hist
        self._index += 1
        return closed

    def finish(self) -> list[Segment]:
        """Close the open segment(s); call once, after the last frame. Returns what it closed
        (nothing for an empty video)."""
        if self._index == 0 or self._finished:
            return []
        self._finished = True
        last = Segment(self._seg_start, self._index, self._seg_reason)
        held, self._held = self._held, None
        if held is None:
            out = [last]
        elif len(last) == 1 and (self._motion_cuts == 0 or held.reason != "max-length"):
            # Official `analyze_video_motion`: without motion cuts the last chunk gets the
            # final frame; after a cut, a 10-frame tail stays one segment.
            out = [Segment(held.start, last.end, held.reason)]
        else:
            out = [held, last]
        self.segments.extend(out)
        return out

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
        motion.scene_distance = histogram_distance(prev_hist, hist)
        reasons: list[str] = []
        if cfg.scene_threshold is not None and motion.scene_distance > cfg.scene_threshold:
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
            if cfg.min_inlier_ratio > 0 and matrix is not None and inliers is not None:
                matrix = None if inliers.sum() < enough else matrix
        if matrix is None or not np.all(np.isfinite(matrix)):
            # Official: no fit, no cut (the motion is unknown).
            motion.status = "lost"
            if cfg.cut_on_lost and "scene-change" not in reasons:
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
