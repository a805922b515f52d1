"""Quality and temporal-consistency metrics for video super-resolution.

- `quality`: PSNR and SSIM on BT.601 luma (the SR literature's convention).
- `temporal`: DIS-flow warping error, luminance flicker and temporal-change error.
- `report`: streaming evaluation of two frame sequences or videos, and the JSON report.
"""

from vsrup.metrics.quality import PSNR_CAP_DB, frame_quality, psnr, rgb_to_y, ssim
from vsrup.metrics.report import (
    METRICS,
    SCHEMA,
    FrameScores,
    MetricsAccumulator,
    MetricsReport,
    evaluate_frames,
    evaluate_videos,
)

__all__ = [
    "METRICS",
    "PSNR_CAP_DB",
    "SCHEMA",
    "FrameScores",
    "MetricsAccumulator",
    "MetricsReport",
    "evaluate_frames",
    "evaluate_videos",
    "frame_quality",
    "psnr",
    "rgb_to_y",
    "ssim",
]
