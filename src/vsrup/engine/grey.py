"""Grey uint8 frames for motion analysis (the segmenter, the temporal stage): conversion from
whatever the engine carries, and the histogram the scene-change distance compares."""

from __future__ import annotations

from typing import Any

import numpy as np


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


#: Grey-histogram Bhattacharyya distance above which two consecutive frames belong to different
#: shots (the segmenter's scene-change test, the temporal stage's and the metrics' cut test).
CUT_DISTANCE = 0.3


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance between two `grey_histogram`s (0: same; NaN-free: 0 when
    undefined, e.g. for two empty histograms)."""
    import cv2

    distance = float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))
    return distance if np.isfinite(distance) else 0.0
