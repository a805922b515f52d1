"""SimpleGVR's flow-based degradation (paper §4.2.1), written from its description.

T2V outputs show (1) colours of the previous frame smeared into moving regions and (2) local,
motion-aligned blur. For each frame after the first:

1. DIS optical flow (OpenCV) from the current to the previous frame;
2. a motion mask where the flow magnitude is large; ellipses are centred on random moving
   pixels, oriented along the motion, sized by it;
3. inside each ellipse, colours sampled with a Gaussian around the flow-mapped position in
   the previous frame are averaged and blended in with a weight that falls off with the
   distance from the centre;
4. block by block, a linear motion-blur kernel along the block's mean flow, its length
   growing with the motion, blended in proportionally to the motion magnitude.

Choices the paper leaves open (marked "choice:"): thresholds, ellipse count and sizes, the
block size and the kernel-length law; docs/methods/simplegvr.md lists them.
"""

from __future__ import annotations

import cv2
import numpy as np

BLOCK = 16  # choice: blur blocks of 16×16 pixels
MAX_KERNEL = 15  # choice: the longest motion-blur kernel, in pixels


def dis_flow(cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """(H, W, 2) flow mapping each pixel of `cur` to its position in `prev`."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    g1 = cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY)
    g0 = cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY)
    return dis.calc(g1, g0, None)


def colour_blend(
    cur: np.ndarray, prev: np.ndarray, flow: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Blend previous-frame colours into moving regions through elliptical weight maps."""
    h, w = cur.shape[:2]
    mag = np.hypot(flow[..., 0], flow[..., 1])
    threshold = max(1.0, float(np.percentile(mag, 75)))  # choice: top quarter, ≥ 1 px
    ys, xs = np.nonzero(mag > threshold)
    out = cur.astype(np.float32)
    if len(ys) == 0:
        return cur
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(1, 6))):  # choice: 1–5 ellipses per frame
        i = int(rng.integers(len(ys)))
        cy, cx = float(ys[i]), float(xs[i])
        fx, fy = flow[ys[i], xs[i]]
        m = float(np.hypot(fx, fy))
        major = max(2.0, m * rng.uniform(1.0, 2.0))
        minor = max(1.5, major * rng.uniform(0.3, 0.8))
        angle = np.arctan2(fy, fx)
        c, s = np.cos(angle), np.sin(angle)
        u = ((xx - cx) * c + (yy - cy) * s) / major
        v = (-(xx - cx) * s + (yy - cy) * c) / minor
        dist = np.sqrt(u * u + v * v)
        weight = np.clip(1.0 - dist, 0.0, 1.0) * rng.uniform(0.3, 0.7)
        # Gaussian samples around the matching point of the previous frame, averaged.
        py = np.clip(rng.normal(cy + fy, minor / 2, 16), 0, h - 1).astype(int)
        px = np.clip(rng.normal(cx + fx, minor / 2, 16), 0, w - 1).astype(int)
        colour = prev[py, px].astype(np.float32).mean(axis=0)
        out = out * (1 - weight[..., None]) + colour * weight[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _line_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return k / max(k.sum(), 1e-6)


def motion_blur(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Block-wise blur along the local motion, stronger where the motion is larger."""
    h, w = frame.shape[:2]
    mag = np.hypot(flow[..., 0], flow[..., 1])
    peak = max(float(mag.max()), 1e-6)
    src = frame.astype(np.float32)
    out = src.copy()
    pad = MAX_KERNEL
    padded = cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
    for y in range(0, h, BLOCK):
        for x in range(0, w, BLOCK):
            fx = float(flow[y : y + BLOCK, x : x + BLOCK, 0].mean())
            fy = float(flow[y : y + BLOCK, x : x + BLOCK, 1].mean())
            m = float(np.hypot(fx, fy))
            length = min(MAX_KERNEL, int(round(m)) | 1)  # odd, choice: ~1 px per px of motion
            if length < 3:
                continue
            region = padded[y : y + BLOCK + 2 * pad, x : x + BLOCK + 2 * pad]
            blurred = cv2.filter2D(region, -1, _line_kernel(length, np.arctan2(fy, fx)))
            bh, bw = out[y : y + BLOCK, x : x + BLOCK].shape[:2]
            strength = min(1.0, m / peak)
            out[y : y + bh, x : x + bw] = (1 - strength) * out[y : y + bh, x : x + bw] + (
                strength * blurred[pad : pad + bh, pad : pad + bw]
            )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def degrade_clip(lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, h, w, 3) uint8 LR clip → the same clip with T2V-like motion artefacts."""
    out = [lr[0]]
    for t in range(1, len(lr)):
        flow = dis_flow(lr[t], lr[t - 1])
        blended = colour_blend(lr[t], out[t - 1], flow, rng)
        out.append(motion_blur(blended, flow))
    return np.stack(out)
