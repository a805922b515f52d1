"""Image sequences: a directory or glob of PNG/JPG/TIFF in, numbered PNGs out.

Input frames are read in natural name order (frame2 before frame10) with OpenCV, keeping
16-bit PNG/TIFF at 16 bits. They get the timestamps of a constant rate (`fps`, 24 by default)
so they can be encoded to video too. Output PNGs are 16-bit when the source is deeper than
8 bits. Output is atomic like video: files are written to a hidden directory beside the
target and moved into place only when every frame has been written.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vsrup.errors import EncodeError, InputError, OutputError
from vsrup.video.output import probe_writable
from vsrup.video.probe import MediaInfo, VideoInfo
from vsrup.video.reader import FrameBatch, FrameRange, to_float

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def is_image_sequence(spec: str | Path) -> bool:
    """A directory, a glob pattern, a printf pattern (`frames/%04d.png`) or one image file."""
    text = str(spec)
    if any(ch in text for ch in "*?[") or _printf_regex(Path(text).name) is not None:
        return True
    p = Path(text)
    return p.is_dir() or p.suffix.lower() in IMAGE_EXTENSIONS


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _printf_regex(name: str) -> re.Pattern[str] | None:
    """`frame_%04d.png` → a regex matching frame_0001.png (None when there is no %d)."""
    m = re.search(r"%(0?)(\d*)d", name)
    if m is None:
        return None
    digits = rf"\d{{{int(m.group(2))}}}" if m.group(1) and m.group(2) else r"\d+"
    return re.compile(re.escape(name[: m.start()]) + digits + re.escape(name[m.end() :]) + "$")


def list_images(spec: str | Path) -> list[Path]:
    text = str(spec)
    pattern = _printf_regex(Path(text).name)
    if pattern is not None:
        folder = Path(text).parent
        names = os.listdir(folder) if folder.is_dir() else []
        files = [folder / n for n in names if pattern.match(n)]
    elif any(ch in text for ch in "*?["):
        files = [Path(p) for p in glob.glob(text)]
    elif Path(text).is_dir():
        files = list(Path(text).iterdir())
    elif Path(text).exists():
        files = [Path(text)]
    else:
        raise InputError("no such file or directory", path=text)
    images = sorted((f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)
    if not images:
        raise InputError("no PNG/JPG/TIFF images found", path=text)
    return images


def has_alpha(path: Path) -> bool:
    """Whether the image file has an alpha channel (read from the header only where cheap)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    return img is not None and img.ndim == 3 and img.shape[2] == 4


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) RGB uint8 or uint16; an alpha channel is dropped (the reader warns)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise InputError("cannot read this image (corrupt or unsupported)", path=path)
    if img.dtype not in (np.uint8, np.uint16):
        img = np.clip(img.astype(np.float32), 0, 1) * 65535
        img = img.astype(np.uint16)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]  # alpha is not upscaled: drop it
    return np.ascontiguousarray(img[:, :, ::-1])  # BGR → RGB


class ImageSequenceReader:
    """Same interface as VideoReader: iterate FrameBatch; `info`, `video`, `total`, ..."""

    def __init__(
        self,
        spec: str | Path,
        *,
        batch: int = 8,
        fps: Fraction | int = 24,
        frame_range: FrameRange | None = None,
        ignore_errors: bool = False,
        on_warning=None,  # noqa: ANN001 - (text) -> None
    ) -> None:
        self.path = Path(str(spec))
        files = list_images(spec)
        if on_warning is not None and has_alpha(files[0]):
            on_warning(f"{files[0]}: the alpha channel (transparency) is dropped; methods "
                       "upscale colour only")  # fmt: skip
        r = frame_range or FrameRange()
        fps = Fraction(fps).limit_denominator(1001)
        if r.start_s is not None or r.duration_s is not None:
            lo = round((r.start_s or 0) * fps)
            hi = None if r.duration_s is None else lo + round(r.duration_s * fps)
        else:
            lo, hi = r.start, r.stop
        self.files = files[lo:hi]
        if not self.files:
            raise InputError("the frame range selects no images", path=self.path)
        self.first_index = lo
        first = read_image(self.files[0])
        self.deep = first.dtype == np.uint16
        h, w = first.shape[:2]
        self.batch = max(batch, 1)
        self.ignore_errors = ignore_errors
        self.errors = 0
        self.time_base = 1 / fps
        self.first_pts = None
        self.total = len(self.files)
        self.video = VideoInfo(
            index=0, codec="image", profile=None, pix_fmt="rgb48le" if self.deep else "rgb24",
            bit_depth=16 if self.deep else 8, width=w, height=h, sar=None,
            dar=Fraction(w, h), fps=fps, time_base=self.time_base, frames=len(files),
            frames_header=len(files), start_pts=0, duration_s=float(len(files) / fps),
            vfr=False, missing_frames=0, color_primaries=1, color_trc=13, colorspace=1,
            color_range=0, rotation=0, language=None,
        )  # fmt: skip
        self.info = MediaInfo(
            path=self.path, container="image2", duration_s=self.video.duration_s,
            bit_rate=None, size_bytes=sum(f.stat().st_size for f in files), metadata={},
            video=self.video, streams=[],
        )  # fmt: skip

    def integer_frames(self) -> Iterator[tuple[torch.Tensor, int]]:
        """(C, H, W) uint8/uint16 frames with their pts, one image at a time (the engine's
        form; see `VideoReader.integer_frames`)."""
        import torch

        h, w = self.video.height, self.video.width
        for i, f in enumerate(self.files):
            a = read_image(f)
            if a.shape[:2] != (h, w):
                raise InputError(
                    f"image is {a.shape[1]}x{a.shape[0]}, the sequence is {w}x{h}", path=f
                )
            frame = torch.from_numpy(a)
            if self.deep and frame.dtype != torch.uint16:
                frame = frame.to(torch.uint16)
            yield frame.permute(2, 0, 1), self.first_index + i

    def __iter__(self) -> Iterator[FrameBatch]:
        import torch

        h, w = self.video.height, self.video.width
        for start in range(0, len(self.files), self.batch):
            chunk = self.files[start : start + self.batch]
            arrays = [read_image(f) for f in chunk]
            for f, a in zip(chunk, arrays, strict=True):
                if a.shape[:2] != (h, w):
                    raise InputError(
                        f"image is {a.shape[1]}x{a.shape[0]}, the sequence is {w}x{h}", path=f
                    )
            stacked = torch.from_numpy(np.stack(arrays).astype(arrays[0].dtype, copy=False))
            if self.deep and stacked.dtype != torch.uint16:
                stacked = stacked.to(torch.uint16)
            pts = [self.first_index + start + i for i in range(len(chunk))]
            yield FrameBatch(to_float(stacked, self.deep), pts, start)


def sequence_pattern(target: Path) -> tuple[Path, str]:
    """`out/frame_%06d.png` → (out, 'frame_%06d.png'); `still.png` → (., 'still.png'), a
    single image. Any image extension OpenCV writes (.png, .jpg, .tif)."""
    if target.suffix.lower() not in IMAGE_EXTENSIONS:
        raise OutputError("an image output needs a .png, .jpg or .tif name", path=target)
    if "%" in target.name:
        try:
            target.name % 0
        except (TypeError, ValueError):
            raise OutputError("bad image pattern; use a %d form such as %06d",
                              path=target) from None  # fmt: skip
    return target.parent, target.name


class ImageSequenceWriter:
    """Write numbered PNGs; `write(frames, pts)`, `close()`, `abort()` like VideoWriter.

    `target` is a pattern such as `out/frame_%06d.png` (the folder is created), or one image
    name (`still.png`) for a single frame. Files are numbered from 0 (or `start_number`).
    16-bit PNG/TIFF when `deep`; JPEG holds 8 bits only, so deep frames are rounded to 8.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        deep: bool,
        overwrite: bool = False,
        start_number: int = 0,
    ) -> None:
        target = Path(target)
        self.directory, self.pattern = sequence_pattern(target)
        self.single = "%" not in self.pattern
        self.deep = deep and target.suffix.lower() not in (".jpg", ".jpeg")
        self.number = start_number
        self.overwrite = overwrite
        if self.single:
            parent = self.directory
            if (parent / self.pattern).exists() and not overwrite:
                raise OutputError("already exists", path=target,
                                  hint="use --overwrite to replace it")  # fmt: skip
        else:
            parent = self.directory.parent
            if self.directory.exists() and any(self.directory.iterdir()) and not overwrite:
                raise OutputError("output directory is not empty", path=self.directory,
                                  hint="use --overwrite to replace its frames")  # fmt: skip
        if not parent.is_dir():
            raise OutputError("output directory does not exist", path=parent)
        probe_writable(parent)
        name = f".{self.directory.name}.vsrup-{os.getpid()}-{secrets.token_hex(4)}.partial"
        self.temp = parent / name
        self.temp.mkdir()
        self.frames_written = 0

    def write(self, frames: torch.Tensor, pts: Sequence[int]) -> None:
        import torch

        peak = 65535.0 if self.deep else 255.0
        q = frames.detach().to("cpu", torch.float32).mul(peak).add_(0.5).clamp_(0, peak)
        arr = q.to(torch.int32).permute(0, 2, 3, 1).numpy()
        self.write_array(arr.astype(np.uint16 if self.deep else np.uint8), pts)

    def write_array(self, arr: np.ndarray, pts: Sequence[int]) -> None:
        """(T, H, W, 3) RGB uint8, or uint16 when `deep`: one PNG per frame."""
        import cv2

        if self.deep != (arr.dtype == np.uint16):  # JPEG: 16-bit frames rounded to 8 bits
            arr = (arr.astype(np.float32) / 257).round().astype(np.uint8) if not self.deep else arr
        for img in arr:
            if self.single and self.frames_written:
                raise EncodeError("a single image output takes one frame; use a %06d pattern",
                                  path=self.directory / self.pattern)  # fmt: skip
            name = self.pattern if self.single else self.pattern % self.number
            path = self.temp / name
            if not cv2.imwrite(str(path), np.ascontiguousarray(img[:, :, ::-1])):
                raise EncodeError("cannot write PNG (disk full?)", path=path)
            self.number += 1
            self.frames_written += 1

    def close(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for f in sorted(self.temp.iterdir()):
            os.replace(f, self.directory / f.name)
        self.temp.rmdir()

    def abort(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)
