"""Test helpers for the engine: synthetic camera motion over real photos (scikit-image)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np


@functools.lru_cache(maxsize=8)
def photo(name: str = "astronaut") -> np.ndarray:
    """An RGB uint8 photo shipped with scikit-image (astronaut, coffee, chelsea, rocket...)."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[:, :, :3])


def camera_matrix(
    center: tuple[float, float], tx: float, ty: float, angle_deg: float, zoom: float
) -> np.ndarray:
    """3x3 matrix taking photo coordinates to view coordinates for a camera that moved by
    (tx, ty) view pixels, rotated by angle and zoomed about `center` of the photo."""
    cx, cy = center
    a = math.radians(angle_deg)
    c, s = math.cos(a) * zoom, math.sin(a) * zoom
    # rotate/zoom about the photo centre, then shift.
    return np.array(
        [[c, -s, cx - c * cx + s * cy + tx], [s, c, cy - s * cx - c * cy + ty], [0, 0, 1]],
        dtype=np.float64,
    )


def camera_clip(
    image: np.ndarray,
    poses: Sequence[tuple[float, float, float, float]],
    size: tuple[int, int] = (192, 144),
) -> list[np.ndarray]:
    """Frames of `size` (w, h) seen by a camera at each pose (tx, ty, angle°, zoom), looking at
    the middle of `image`. Consecutive poses differ by the camera motion between frames."""
    import cv2

    h, w = image.shape[:2]
    vw, vh = size
    # View origin at the photo centre so the crop stays inside the photo for modest motion.
    offset = np.array([[1, 0, -(w - vw) / 2], [0, 1, -(h - vh) / 2], [0, 0, 1]], np.float64)
    frames = []
    for tx, ty, ang, zoom in poses:
        m = offset @ camera_matrix((w / 2, h / 2), tx, ty, ang, zoom)
        frames.append(
            cv2.warpAffine(
                image, m[:2], (vw, vh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
        )
    return frames


def poses_from_steps(
    steps: Sequence[tuple[float, float, float, float]],
) -> list[tuple[float, float, float, float]]:
    """Accumulate per-frame camera steps (dx, dy, dangle, zoom factor) into absolute poses;
    the first pose is the identity and len(result) == len(steps) + 1."""
    tx = ty = ang = 0.0
    zoom = 1.0
    poses = [(tx, ty, ang, zoom)]
    for dx, dy, da, dz in steps:
        tx, ty, ang, zoom = tx + dx, ty + dy, ang + da, zoom * dz
        poses.append((tx, ty, ang, zoom))
    return poses


def write_video(path, frames: Sequence[np.ndarray], fps: int = 24) -> None:
    """Write RGB uint8 frames losslessly (FFV1 in Matroska) so decoded pixels match exactly."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "bgr0"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


# -- tiny methods for engine tests (not registered) -------------------------------------------


def _methods():
    import torch
    import torch.nn.functional as F

    from vsrup.interface.method import Clip, Method, MethodSpec

    class TemporalMean(Method):
        """×2 nearest upscale plus a little of the window's mean frame: deterministic, and its
        output depends on which frames share a window, so blending and resume matter."""

        spec = MethodSpec(
            id="test-temporal",
            summary="test",
            kind="learned",
            scales=(2,),
            window=9,
            overlap=4,
            alignment=4,
            size_multiple=4,
        )

        def __init__(self) -> None:
            self.calls: list[tuple[int, int]] = []
            self.fail_after: int | None = None
            self.begun: list[torch.Tensor] = []

        def begin(self, first: torch.Tensor) -> str | None:
            self.begun.append(first.clone())
            return f"first frame mean {first.mean().item():.4f}"

        @classmethod
        def from_weights(cls, weights, runtime, options):  # noqa: ANN001
            return cls()

        def process(self, clip: Clip) -> torch.Tensor:
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                raise RuntimeError("injected failure")
            x = clip.frames
            assert x.shape[-1] % 4 == 0 and x.shape[-2] % 4 == 0
            self.calls.append((clip.start, x.shape[0]))
            up = F.interpolate(x, scale_factor=2, mode="nearest")
            return (0.8 * up + 0.2 * up.mean(0, keepdim=True)).clamp(0, 1)

    class SegmentRecorder(TemporalMean):
        spec = MethodSpec(
            id="test-segments",
            summary="test",
            kind="diffusion",
            scales=(2,),
            window=21,
            alignment=4,
            uses_segments=True,
        )

        def __init__(self) -> None:
            super().__init__()
            self.segment_starts: list[tuple[int, tuple[int, ...]]] = []

        def process(self, clip: Clip) -> torch.Tensor:
            self.segment_starts.append((clip.start, clip.segment_starts))
            return super().process(clip)

    return TemporalMean, SegmentRecorder


def temporal_method():
    return _methods()[0]()


def segment_method():
    return _methods()[1]()


def tensor_frames(frames: Sequence[np.ndarray]):
    """RGB uint8 arrays → [(C, H, W) float tensor, pts] pairs as a decoder would yield."""
    import torch

    return [
        (torch.from_numpy(f).permute(2, 0, 1).float() / 255, 1000 + 40 * i)
        for i, f in enumerate(frames)
    ]
