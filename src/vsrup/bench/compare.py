"""Side-by-side and split-wipe comparison videos, and temporal profiles.

Every input is resized to one common height (nearest-neighbour by default, so an LR input
shows its real pixels) and labelled. Side by side, the panels sit next to each other; with
`wipe`, all panels are resized to the first input's size and each shows one vertical band of
the frame, separated by a thin line, so the methods meet at the same scene content.

A temporal profile (as VSR papers draw them) takes one pixel row of every frame and stacks
the rows over time: a (frames x width) image in which flicker shows as horizontal streaks and
temporally stable detail as smooth vertical structure. The row is given in the common-height
coordinates, so all inputs' profiles show the same scene line at the same scale. Besides
one PNG per input, a sheet puts every input's profile side by side under its label, so
flicker (e.g. a per-frame upscaler with and without `--temporal`) is compared at a glance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vsrup.errors import UsageError

_INTERP = {"nearest": cv2.INTER_NEAREST, "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
_LINE = (255, 255, 255)


@dataclass
class CompareResult:
    frames: int
    width: int
    height: int
    profiles: list[Path] = field(default_factory=list)
    #: Frame counts of the inputs, in input order (the output stops at the shortest).
    input_frames: list[int] = field(default_factory=list)


def panel_size(width: int, height: int, target_h: int) -> tuple[int, int]:
    return max(1, round(width * target_h / height)), target_h


def draw_label(img: np.ndarray, text: str) -> None:
    """Write `text` at the top-left on a dark box, sized to the panel height."""
    scale = max(0.35, img.shape[0] / 720)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, round(6 * scale))
    cv2.rectangle(img, (0, 0), (tw + 2 * pad, th + base + 2 * pad), (0, 0, 0), thickness=-1)
    cv2.putText(
        img, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, _LINE, thick, cv2.LINE_AA
    )


def compose(
    frames: Sequence[np.ndarray],
    labels: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    wipe: bool,
    interp: int,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One comparison frame from one frame per input; also returns the resized panels."""
    panels = [
        f if (f.shape[1], f.shape[0]) == s else cv2.resize(f, s, interpolation=interp)
        for f, s in zip(frames, sizes, strict=True)
    ]
    if not wipe:
        drawn = [p.copy() for p in panels]  # labels must not reach the profiles
        for p, label in zip(drawn, labels, strict=True):
            draw_label(p, label)
        canvas = np.concatenate(drawn, axis=1)
    else:
        canvas = panels[0].copy()
        w = canvas.shape[1]
        edges = [round(i * w / len(panels)) for i in range(len(panels) + 1)]
        for i, p in enumerate(panels[1:], start=1):
            canvas[:, edges[i] : edges[i + 1]] = p[:, edges[i] : edges[i + 1]]
            canvas[:, max(0, edges[i] - 1) : edges[i] + 1] = _LINE
        for i, label in enumerate(labels):
            band = np.ascontiguousarray(canvas[:, edges[i] : edges[i + 1]])
            draw_label(band, label)
            canvas[:, edges[i] : edges[i + 1]] = band
    # Even sizes so the result plays everywhere (4:2:0): pad with black.
    h, w = canvas.shape[:2]
    if h % 2 or w % 2:
        canvas = np.pad(canvas, ((0, h % 2), (0, w % 2), (0, 0)))
    return canvas, panels


def compare_videos(
    inputs: Sequence[str | Path],
    output: str | Path | None,
    *,
    labels: Sequence[str] | None = None,
    height: int | None = None,
    wipe: bool = False,
    resize: str = "nearest",
    profile_row: int | None = None,
    profile_dir: str | Path | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> CompareResult:
    """Write a comparison video of `inputs` (when `output` is set) and/or temporal profiles."""
    from vsrup.metrics.frames import RgbWriter, as_u8, read_rgb
    from vsrup.video.probe import probe_video

    if len(inputs) < 1 or (len(inputs) < 2 and output is not None):
        raise UsageError("compare needs at least two inputs")
    if output is None and profile_row is None:
        raise UsageError("nothing to do", hint="give -o OUT.mp4 and/or --profile ROW")
    if resize not in _INTERP:
        raise UsageError(f"unknown resize {resize!r}", hint=f"use {', '.join(_INTERP)}")
    paths = [Path(p) for p in inputs]
    labels = list(labels) if labels else [p.stem for p in paths]
    if len(labels) != len(paths):
        raise UsageError(f"{len(labels)} labels for {len(paths)} inputs")
    infos = [probe_video(p) for p in paths]
    target_h = height or max(i.height for i in infos)
    if target_h < 2:
        raise UsageError(f"height {target_h} is too small")
    if wipe:
        size = panel_size(infos[0].width, infos[0].height, target_h)
        sizes = [size] * len(paths)
    else:
        sizes = [panel_size(i.width, i.height, target_h) for i in infos]
    if profile_row is not None and not 0 <= profile_row < target_h:
        raise UsageError(f"profile row {profile_row} is outside 0..{target_h - 1}")
    interp = _INTERP[resize]

    readers: list[Iterator[np.ndarray]] = [read_rgb(p) for p in paths]
    counts = [0] * len(paths)
    rows: list[list[np.ndarray]] = [[] for _ in paths]
    writer = RgbWriter(output, fps=infos[0].rate) if output is not None else None
    n = 0
    shape = (0, 0)
    try:
        while True:
            frames = []
            for i, r in enumerate(readers):
                f = next(r, None)
                if f is not None:
                    counts[i] += 1
                    frames.append(as_u8(f))
            if len(frames) < len(readers):
                for i, r in enumerate(readers):  # finish counting, to report unequal lengths
                    counts[i] += sum(1 for _ in r)
                break
            canvas, panels = compose(frames, labels, sizes, wipe, interp)
            shape = canvas.shape[:2]
            if writer is not None:
                writer.write(canvas)
            if profile_row is not None:
                for i, p in enumerate(panels):
                    rows[i].append(p[profile_row].copy())
            n += 1
            if on_frame:
                on_frame(n)
    except BaseException:
        if writer is not None:
            writer.close(ok=False)
        raise
    if n == 0:
        if writer is not None:
            writer.close(ok=False)
        raise UsageError("an input has no frames")
    if writer is not None:
        writer.close()

    result = CompareResult(frames=n, width=shape[1], height=shape[0], input_frames=counts)
    if profile_row is not None:
        out_dir = Path(profile_dir) if profile_dir else (Path(output).parent if output else Path())
        stem = Path(output).stem if output else "profile"
        for label, stack in zip(labels, rows, strict=True):
            path = out_dir / f"{stem}_profile_row{profile_row}_{_safe(label)}.png"
            if not cv2.imwrite(str(path), np.stack(stack)[..., ::-1]):
                raise OSError(f"cannot write {path}")
            result.profiles.append(path)
        sheet = profile_sheet([np.stack(stack) for stack in rows], labels)
        path = out_dir / f"{stem}_profile_row{profile_row}.png"
        if not cv2.imwrite(str(path), sheet[..., ::-1]):
            raise OSError(f"cannot write {path}")
        result.profiles.append(path)
    return result


def profile_sheet(profiles: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """Temporal profiles (frames x width x 3 each) side by side, each under a label strip,
    separated by white lines."""
    strip = 24
    parts = []
    for i, (profile, label) in enumerate(zip(profiles, labels, strict=True)):
        head = np.zeros((strip, profile.shape[1], 3), np.uint8)
        cv2.putText(head, label, (3, strip - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _LINE, 1,
                    cv2.LINE_AA)  # fmt: skip
        if i:
            parts.append(np.full((strip + profile.shape[0], 2, 3), _LINE, np.uint8))
        parts.append(np.concatenate([head, profile], axis=0))
    return np.concatenate(parts, axis=1)


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) or "input"
