"""Checkpointed progress: finished output frames survive a crash or Ctrl-C.

A job's work directory is named by a hash of everything that decides its output: the input
(resolved path, size, modification time), the method and every output-affecting setting. It
holds finished chunks of output frames, each a small lossless FFV1 file (exact uint8/uint16
RGB), and `manifest.json` listing them with their frame ranges and timestamps. Chunks and the
manifest are written to a temporary name and renamed into place, so a crash leaves either the
old or the new state, never a torn one.

After an interruption, a run with `--resume` finds the same directory (same key), keeps the
chunks the manifest lists, and the pipeline recomputes only what comes after them. The final
file is identical to an uninterrupted run because the pipeline quantises every output frame
before it is both stored and encoded: the encoder sees the same integers either way. The
directory is removed once the output file is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"
VERSION = 1


def default_work_root() -> Path:
    from vsrup.hub.registry import cache_root

    return cache_root() / "jobs"


def job_key(input_path: str | Path, method: str, settings: Mapping[str, Any]) -> str:
    """A stable hash of the input file's identity, the method and its settings."""
    p = Path(input_path).resolve()
    st = p.stat()
    ident = {
        "input": str(p),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "method": method,
        "settings": settings,
    }
    blob = json.dumps(ident, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


@dataclass
class ChunkRecord:
    first: int
    count: int
    file: str
    pts: list[int | None]
    dtype: str  # "uint8" | "uint16"


class ResumeStore:
    """Finished output chunks of one job, in frame order."""

    def __init__(self, directory: Path, key: str, chunks: list[ChunkRecord] | None = None):
        self.directory = directory
        self.key = key
        self.chunks: list[ChunkRecord] = chunks or []

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        input_path: str | Path,
        method: str,
        settings: Mapping[str, Any],
        *,
        work_root: Path | None = None,
        resume: bool = False,
    ) -> ResumeStore:
        """The job's store: previous chunks kept with `resume`, otherwise a fresh directory."""
        key = job_key(input_path, method, settings)
        directory = Path(work_root or default_work_root()) / f"job-{key}"
        chunks: list[ChunkRecord] = []
        if directory.exists():
            if resume:
                chunks = cls._load(directory, key)
            else:
                shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory, key, chunks)
        store._write_manifest()
        return store

    @staticmethod
    def _load(directory: Path, key: str) -> list[ChunkRecord]:
        try:
            data = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return []  # no usable manifest: start over (stray chunk files are overwritten)
        if data.get("version") != VERSION or data.get("key") != key:
            return []
        chunks = []
        expected = 0
        for raw in data.get("chunks", []):
            rec = ChunkRecord(**raw)
            # Keep only a gap-free prefix of chunks whose files exist.
            if rec.first != expected or not (directory / rec.file).is_file():
                break
            chunks.append(rec)
            expected += rec.count
        return chunks

    # -- state ------------------------------------------------------------------------------
    @property
    def frames_done(self) -> int:
        """Output frames [0, frames_done) are stored."""
        return sum(c.count for c in self.chunks)

    def add_chunk(self, frames: np.ndarray, pts: Sequence[int | None]) -> None:
        """Store frames (N, H, W, 3) uint8 or uint16 that follow the stored ones."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype not in (np.uint8, np.uint16):
            raise ValueError(
                f"expected (N, H, W, 3) uint8/uint16, got {frames.shape} {frames.dtype}"
            )
        if len(pts) != len(frames):
            raise ValueError("one timestamp per frame")
        first = self.frames_done
        name = f"chunk-{first:09d}.mkv"
        tmp = self.directory / (name + ".tmp")
        _write_lossless(tmp, frames)
        os.replace(tmp, self.directory / name)
        self.chunks.append(
            ChunkRecord(
                first,
                len(frames),
                name,
                [None if p is None else int(p) for p in pts],
                str(frames.dtype),
            )
        )
        self._write_manifest()

    def iter_frames(self) -> Iterator[tuple[int, np.ndarray, int | None]]:
        """(frame index, (H, W, 3) array, pts) for every stored frame, in order."""
        for rec in self.chunks:
            frames = _read_lossless(self.directory / rec.file, rec.dtype)
            if len(frames) != rec.count:
                raise OSError(
                    f"{self.directory / rec.file}: {len(frames)} frames, want {rec.count}"
                )
            for i, (frame, p) in enumerate(zip(frames, rec.pts)):
                yield rec.first + i, frame, p

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _write_manifest(self) -> None:
        data = {"version": VERSION, "key": self.key, "chunks": [asdict(c) for c in self.chunks]}
        tmp = self.directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.directory / MANIFEST)


_FORMATS = {"uint8": ("rgb24", "bgr0"), "uint16": ("rgb48le", "gbrp16le")}


def _write_lossless(path: Path, frames: np.ndarray) -> None:
    import av

    src_fmt, pix_fmt = _FORMATS[str(frames.dtype)]
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("ffv1", rate=1)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=src_fmt)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _read_lossless(path: Path, dtype: str) -> list[np.ndarray]:
    import av

    src_fmt, _ = _FORMATS[dtype]
    with av.open(str(path)) as inp:
        return [f.to_ndarray(format=src_fmt) for f in inp.decode(video=0)]


def quantize(frames: Any, bits: int = 8) -> np.ndarray:
    """(T, C, H, W) float frames in [0, 1] → (T, H, W, C) uint8 (bits 8) or uint16 (bits > 8,
    full 16-bit scale), rounding half up like the video writer. The pipeline quantises every
    output frame once, so stored and freshly computed frames reach the encoder as the same
    integers. Runs where the frames are (a GPU sends 1-byte pixels, not floats)."""
    import torch

    peak = 255.0 if bits <= 8 else 65535.0
    q = frames.detach().to(torch.float32).mul(peak).add_(0.5).clamp_(0, peak)
    q = q.to(torch.uint8 if bits <= 8 else torch.int32).permute(0, 2, 3, 1).contiguous()
    arr = q.to("cpu").numpy()
    return arr if bits <= 8 else arr.astype(np.uint16)
