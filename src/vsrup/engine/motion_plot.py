"""Draw per-frame motion (translation, rotation, scale) with the cuts marked, as a PNG.

OpenCV drawing only, so there is no plotting dependency. Three stacked panels share the frame
axis; each shows its threshold as a grey line, and every cut is a vertical line coloured by
its reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from vsrup.engine.segment import Segmentation, SegmentConfig

# BGR colours per cut reason (first reason of a combined one wins).
COLOURS = {
    "scene-change": (40, 40, 220),
    "tracking-lost": (0, 140, 255),
    "translation": (200, 80, 0),
    "rotation": (160, 0, 160),
    "scale": (0, 150, 0),
    "max-length": (170, 170, 170),
}
PANEL_H = 150
MARGIN_L, MARGIN_R, MARGIN_T, GAP = 90, 20, 28, 24


def render_motion(result: Segmentation, config: SegmentConfig) -> np.ndarray:
    """(H, W, 3) uint8 BGR image of the motion curves and cuts."""
    import cv2

    n = max(result.frames, 2)
    width = MARGIN_L + MARGIN_R + min(max(4 * n, 640), 4000)
    height = MARGIN_T + 3 * (PANEL_H + GAP) + 30
    img = np.full((height, width, 3), 255, np.uint8)
    plot_w = width - MARGIN_L - MARGIN_R

    def fx(i: float) -> int:
        return MARGIN_L + round(i / (n - 1) * plot_w)

    panels = [
        (
            "translation px",
            [max(abs(m.dx), abs(m.dy)) for m in result.motions],
            config.translation_px,
        ),
        ("rotation deg", [abs(m.rotation_deg) for m in result.motions], config.rotation_deg),
        ("|scale-1|", [abs(m.scale - 1) for m in result.motions], config.scale_tol),
    ]
    font = cv2.FONT_HERSHEY_SIMPLEX
    for p, (label, values, threshold) in enumerate(panels):
        top = MARGIN_T + p * (PANEL_H + GAP)
        bottom = top + PANEL_H
        finite = [v for v in values if math.isfinite(v)]
        vmax = max([threshold * 2, *finite]) if finite else threshold * 2

        def fy(v: float, top: int = top, vmax: float = vmax) -> int:
            return top + PANEL_H - round(min(v, vmax) / vmax * PANEL_H)

        cv2.rectangle(img, (MARGIN_L, top), (MARGIN_L + plot_w, bottom), (0, 0, 0), 1)
        cv2.putText(img, label, (4, top + 16), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, f"{vmax:.3g}", (4, top + 34), font, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
        ty = fy(threshold)
        for x in range(MARGIN_L, MARGIN_L + plot_w, 8):  # dashed threshold line
            cv2.line(img, (x, ty), (min(x + 4, MARGIN_L + plot_w), ty), (150, 150, 150), 1)
        for seg in result.segments[1:]:
            reason = seg.reason.split("+")[0]
            x = fx(seg.start)
            cv2.line(img, (x, top), (x, bottom), COLOURS.get(reason, (0, 0, 0)), 1)
        prev = None
        for i, v in enumerate(values):
            if not math.isfinite(v):
                prev = None  # a gap where motion is unknown (flat frame, lost tracking)
                continue
            pt = (fx(i), fy(v))
            if prev is not None:
                cv2.line(img, prev, pt, (20, 20, 20), 1, cv2.LINE_AA)
            cv2.circle(img, pt, 1, (20, 20, 20), -1)
            prev = pt
    # Legend and frame axis.
    y = height - 10
    cv2.putText(img, f"frames 0..{result.frames - 1}", (4, y), font, 0.4, (0, 0, 0), 1)
    x = MARGIN_L + 120
    for reason, colour in COLOURS.items():
        cv2.line(img, (x, y - 4), (x + 14, y - 4), colour, 2)
        cv2.putText(img, reason, (x + 18, y), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        x += 30 + 8 * len(reason)
    title = f"{len(result.segments)} segments, {result.frames} frames"
    cv2.putText(img, title, (MARGIN_L, 18), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def save_motion_plot(result: Segmentation, config: SegmentConfig, path: Path) -> None:
    import cv2

    img = render_motion(result, config)
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise OSError(f"could not encode the plot for {path}")
    Path(path).write_bytes(data.tobytes())
