"""Training clips streamed from videos and frame folders, chosen reproducibly from a seed.

Sample `i` of a run with seed `s` is a function of (s, i) only: which source, which first
frame, where the crop sits and whether it is mirrored all come from
`numpy.random.default_rng([s, i])`. So the data order of a resumed run, or of a run split over
several processes, is the same as that of one uninterrupted run. Frames are decoded on demand
through vsrup's reader (frame range, colour matrix from the file's tags): nothing is dumped
to disk, only one clip is in memory at a time.

Hold-out: when a source has at least twice the clip length in frames, its last clip-length
frames are kept for validation and never used for training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vsrup.errors import InputError, UsageError

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".nut", ".y4m", ".ts"}


@dataclass(frozen=True)
class Source:
    """A video file, or a folder of numbered frames (`frames` is set for those)."""

    path: Path
    count: int
    width: int
    height: int
    frames: tuple[Path, ...] | None = None


def _frame_folder(path: Path) -> Source | None:
    from vsrup.video.imageseq import IMAGE_EXTENSIONS, list_images, read_image

    if not any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir()):
        return None
    images = list_images(path)
    h, w = read_image(images[0]).shape[:2]
    return Source(path, len(images), w, h, tuple(images))


def _video(path: Path) -> Source:
    from vsrup.video.reader import VideoReader

    reader = VideoReader(path)
    return Source(path, reader.total, reader.video.width, reader.video.height)


def find_sources(roots: list[Path]) -> list[Source]:
    """Every video file and every folder holding images below `roots`, sorted by path."""
    found: list[Source] = []
    for root in roots:
        if not root.exists():
            raise InputError("no such file or directory", path=root)
        if root.is_file():
            found.append(_video(root))
            continue
        for folder in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
            seq = _frame_folder(folder)
            if seq is not None:
                found.append(seq)
        for file in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
            found.append(_video(file))
    if not found:
        raise InputError("holds no videos and no folders of frames", path=roots[0])
    return found


def read_frames(source: Source, start: int, count: int) -> np.ndarray:
    """(count, H, W, 3) uint8 frames [start, start + count) of a source."""
    from vsrup.metrics.frames import as_u8

    if source.frames is not None:
        from vsrup.video.imageseq import read_image

        return np.stack([as_u8(read_image(p)) for p in source.frames[start : start + count]])
    from vsrup.video.reader import FrameRange, VideoReader

    reader = VideoReader(source.path, frame_range=FrameRange(start=start, stop=start + count))
    frames = [as_u8(array) for array, _pts in reader.frames()]
    if len(frames) != count:
        raise InputError(f"decoded {len(frames)} of {count} frames from {start}", path=source.path)
    return np.stack(frames)


class ClipSampler:
    """Random (frames × crop × crop) HR clips; sample `i` depends only on (seed, i)."""

    def __init__(self, sources: list[Source], frames: int, crop: int, seed: int) -> None:
        self.frames, self.crop, self.seed = frames, crop, seed
        usable = [s for s in sources if s.count >= frames and min(s.width, s.height) >= crop]
        if not usable:
            smallest = min(sources, key=lambda s: s.count)
            raise UsageError(
                f"no source has {frames} frames of at least {crop}x{crop} pixels "
                f"(e.g. {smallest.path}: {smallest.count} frames, "
                f"{smallest.width}x{smallest.height})",
                hint="use longer or larger clips, or a smaller --crop",
            )
        self.sources = usable
        #: Frames each source offers for training (its hold-out tail excluded).
        self.train_counts = [s.count - (frames if s.count >= 2 * frames else 0) for s in usable]
        starts = np.array([c - frames + 1 for c in self.train_counts], dtype=np.float64)
        self.weights = starts / starts.sum()

    def held_out(self) -> list[tuple[Source, int]]:
        """(source, first frame) of every validation clip: each long source's tail."""
        return [
            (s, s.count - self.frames)
            for s, n in zip(self.sources, self.train_counts, strict=True)
            if n < s.count
        ]

    def sample(self, index: int) -> np.ndarray:
        """(frames, crop, crop, 3) uint8 for sample `index`."""
        rng = np.random.default_rng([self.seed, index])
        k = int(rng.choice(len(self.sources), p=self.weights))
        src = self.sources[k]
        start = int(rng.integers(0, self.train_counts[k] - self.frames + 1))
        y = int(rng.integers(0, src.height - self.crop + 1))
        x = int(rng.integers(0, src.width - self.crop + 1))
        flip = bool(rng.random() < 0.5)
        clip = read_frames(src, start, self.frames)[:, y : y + self.crop, x : x + self.crop]
        return np.ascontiguousarray(clip[:, :, ::-1] if flip else clip)


def make_pair(
    sampler: ClipSampler, pipeline: str, scale: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 clips of sample `index`; the LR side is degraded from its own seed."""
    from vsrup.train.degradations.apply import degrade
    from vsrup.train.seeds import seed_for

    hr = sampler.sample(index)
    rng = np.random.default_rng(seed_for(sampler.seed, index, 1))
    return hr, degrade(hr, pipeline, scale, rng)
