"""Temporal windows: which frames each method call sees, and how overlaps are blended.

A method wants windows of `length` frames (Wan's causal VAE: 4k+1; DLoRAL: pairs; per-frame
methods: any batch). Consecutive windows share `overlap` frames, blended with linear ramps, and
the output always has exactly the input's frame count:

- placement: a fixed stride `length - overlap`; the last window is flush with the end of the
  video (extra overlap, never padding) for methods with aligned windows (Wan: 4k+1), or simply
  shorter for methods that accept any length (per-frame methods, DLoRAL's pairs: no frame is
  computed twice);
- a video shorter than one window becomes one window padded at the end (reflected frames by
  default, or repeats) up to the smallest length the method accepts; padded positions get
  weight 0 and are never emitted;
- segment-aware mode (methods with `uses_segments`): windows are whole motion segments packed
  up to `length` frames, so no segment is split across method calls; overlap is whole
  segments too. Each window carries its segment starts (window-relative). No alignment padding
  is added: such methods encode each segment separately.

Planning is streaming (`WindowPlanner`): it confirms a window once the next one's start is
known, so the total frame count need not be known in advance. `StreamingBlender` takes window
outputs in order and hands back finished frames in order, holding at most about two windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from vsrup.interface.method import MethodSpec


def valid_length(n: int, alignment: int = 1) -> int:
    """Smallest length >= n the method accepts: any for alignment 1, else alignment*k + 1."""
    if n < 1:
        raise ValueError("a window holds at least one frame")
    if alignment <= 1:
        return n
    return ((n - 1 + alignment - 1) // alignment) * alignment + 1


def pad_indices(count: int, length: int, mode: str = "reflect") -> list[int]:
    """Offsets 0..count-1 extended to `length` positions by reflection (without repeating the
    edge, bouncing back and forth if needed) or by repeating the last frame."""
    if mode not in ("reflect", "repeat"):
        raise ValueError(f"unknown pad mode {mode!r}")
    out = list(range(min(count, length)))
    for p in range(count, length):
        if mode == "repeat" or count == 1:
            out.append(count - 1)
        else:
            period = 2 * (count - 1)
            q = p % period
            out.append(q if q < count else period - q)
    return out


@dataclass(frozen=True)
class Window:
    """One method call: source frame `indices` (padding repeats real frames) and a blend
    weight per position (0 for padding). After this window is blended every frame before
    `done_before` is final."""

    index: int
    start: int
    end: int
    indices: tuple[int, ...]
    weights: tuple[float, ...]
    done_before: int
    segment_starts: tuple[int, ...] = (0,)

    @property
    def length(self) -> int:
        return len(self.indices)


def _ramp_weights(
    start: int, end: int, prev_end: int | None, next_start: int | None
) -> list[float]:
    """Linear cross-fade weights for real frames [start, end): rising over the overlap with the
    previous window, falling over the overlap with the next; 1 elsewhere."""
    weights = []
    for f in range(start, end):
        w = 1.0
        if prev_end is not None and f < prev_end:
            o = prev_end - start
            w *= (f - start + 1) / (o + 1)
        if next_start is not None and f >= next_start:
            o = end - next_start
            w *= 1.0 - (f - next_start + 1) / (o + 1)
        weights.append(w)
    return weights


class WindowPlanner:
    """Plans windows as frames (or, segment-aware, closed segments) become available.

    Frame mode: call `add_frames(n)` as frames are decoded, then `finish()`.
    Segment mode: call `add_segment(start, end)` for each closed segment, then `finish()`.
    Each call returns the windows it confirmed, in order.
    """

    def __init__(
        self,
        length: int,
        overlap: int = 0,
        alignment: int = 1,
        *,
        exact: bool = False,
        flush_last: bool | None = None,
        pad: str = "reflect",
        segment_aware: bool = False,
    ) -> None:
        if length < 1:
            raise ValueError("window length must be at least 1")
        if alignment > 1 and (length - 1) % alignment:
            raise ValueError(f"window {length} is not {alignment}k+1")
        if not 0 <= overlap < length:
            raise ValueError(f"overlap {overlap} must be in [0, {length})")
        self.length, self.overlap, self.alignment = length, overlap, alignment
        self.exact, self.pad, self.segment_aware = exact, pad, segment_aware
        # Shorter last windows are fine only for methods that take any length.
        self.flush_last = (alignment > 1 or exact) if flush_last is None else flush_last
        self._seen = 0
        self._cur = 0
        self._prev_end: int | None = None
        self._count = 0
        self._segments: list[tuple[int, int]] = []  # pending, segment mode
        self._finished = False

    @property
    def frames_seen(self) -> int:
        return self._seen

    # -- frame mode -------------------------------------------------------------------------
    def add_frames(self, n: int = 1) -> list[Window]:
        if self.segment_aware:
            raise RuntimeError("segment-aware planner: use add_segment")
        self._seen += n
        out = []
        stride = self.length - self.overlap
        # The window at cur is followed by a regular one at cur+stride iff the video has more
        # than cur+stride+length frames; once that many are seen, cur is final.
        while self._seen > self._cur + stride + self.length:
            out.append(self._emit(self._cur, self._cur + self.length, self._cur + stride))
            self._cur += stride
        return out

    # -- segment mode -----------------------------------------------------------------------
    def add_segment(self, start: int, end: int) -> list[Window]:
        if not self.segment_aware:
            raise RuntimeError("frame-mode planner: use add_frames")
        expected = self._segments[-1][1] if self._segments else self._seen
        if start != expected or end <= start:
            raise ValueError(f"segment [{start}, {end}) does not follow frame {expected}")
        # A segment longer than a window is split (the method cannot take it whole).
        for s in range(start, end, self.length):
            self._segments.append((s, min(s + self.length, end)))
        self._seen = end
        return self._pack(final=False)

    def _pack(self, final: bool) -> list[Window]:
        out = []
        segs = self._segments
        while segs:
            total, j = 0, 0
            while j < len(segs) and total + (segs[j][1] - segs[j][0]) <= self.length:
                total += segs[j][1] - segs[j][0]
                j += 1
            if j == len(segs) and not final:
                break  # the window might still take the next segment
            start, end = segs[0][0], segs[j - 1][1]
            if j == len(segs):
                out.append(self._emit(start, end, None, [s for s, _ in segs]))
                segs.clear()
                break
            # Overlap: re-include the fewest trailing segments covering `overlap` frames, as
            # long as the next window can still reach past this one's end.
            k = j
            if self.overlap:
                nxt = segs[j][1] - segs[j][0]
                for cand in range(j - 1, 0, -1):
                    ov = end - segs[cand][0]
                    if ov + nxt > self.length:
                        break
                    if ov >= self.overlap:
                        k = cand
                        break
            out.append(self._emit(start, end, segs[k][0], [s for s, _ in segs[:j]]))
            del segs[:k]
        return out

    # -- both -------------------------------------------------------------------------------
    def finish(self) -> list[Window]:
        """Confirm the remaining windows; the video has ended."""
        if self._finished:
            return []
        self._finished = True
        if self.segment_aware:
            return self._pack(final=True)
        total = self._seen
        if total == 0:
            return []
        if total <= self._cur + self.length:
            return [self._emit(self._cur, total, None)]
        if not self.flush_last:
            # Regular windows until the end, the last one simply shorter.
            out = []
            stride = self.length - self.overlap
            cur = self._cur
            while cur + self.length < total:
                out.append(self._emit(cur, cur + self.length, cur + stride))
                cur += stride
            out.append(self._emit(cur, total, None))
            return out
        last = total - self.length
        return [
            self._emit(self._cur, self._cur + self.length, last),
            self._emit(last, total, None),
        ]

    def _emit(
        self, start: int, end: int, next_start: int | None, seg_starts: Sequence[int] = (0,)
    ) -> Window:
        count = end - start
        if self.segment_aware:
            length = count
        elif self.exact:
            length = max(self.length, count)
        else:
            length = valid_length(count, self.alignment)
        offsets = pad_indices(count, length, self.pad)
        real = _ramp_weights(start, end, self._prev_end, next_start)
        weights = tuple(real[o] if p < count else 0.0 for p, o in enumerate(offsets))
        win = Window(
            index=self._count,
            start=start,
            end=end,
            indices=tuple(start + o for o in offsets),
            weights=weights,
            done_before=end if next_start is None else next_start,
            segment_starts=tuple(s - start for s in seg_starts) if self.segment_aware else (0,),
        )
        self._count += 1
        self._prev_end = end
        return win


def plan_windows(
    total: int,
    length: int,
    overlap: int = 0,
    alignment: int = 1,
    *,
    exact: bool = False,
    flush_last: bool | None = None,
    pad: str = "reflect",
    segments: Iterable[tuple[int, int]] | None = None,
) -> list[Window]:
    """All windows for a video of `total` frames (see WindowPlanner); with `segments`
    ([start, end) pairs covering the video) the plan is segment-aware."""
    planner = WindowPlanner(
        length,
        overlap,
        alignment,
        exact=exact,
        flush_last=flush_last,
        pad=pad,
        segment_aware=segments is not None,
    )
    out: list[Window] = []
    if segments is not None:
        for s, e in segments:
            out += planner.add_segment(s, e)
        if planner.frames_seen != total:
            raise ValueError(f"segments cover {planner.frames_seen} frames, the video has {total}")
    else:
        out += planner.add_frames(total)
    return out + planner.finish()


def planner_for_spec(
    spec: MethodSpec,
    *,
    batch: int = 1,
    overlap: int | None = None,
    pad: str = "reflect",
    window: int | None = None,
) -> WindowPlanner:
    """The planner a method's spec asks for. Per-frame methods (window 1) get batches of
    `batch` frames without overlap; temporal methods their window (or `window`), overlap and
    alignment; methods using motion segments a segment-aware planner."""
    if spec.window <= 1:
        return WindowPlanner(max(batch, 1), 0, 1, pad=pad)
    length = window or spec.window
    return WindowPlanner(
        length,
        min(spec.overlap if overlap is None else overlap, length - 1),
        spec.alignment,
        # Alignment-1 windows (DLoRAL) take any length, so the last one is simply shorter and
        # nothing is padded: flush with the end it would compute frames twice and blend them
        # (with DLoRAL once carrying its previous frame, a repeated frame was paired with its
        # successor: 123 LSB off the official output). Earlier frames come as `spec.context`.
        pad=pad,
        segment_aware=spec.uses_segments,
    )


class StreamingBlender:
    """Blend window outputs (in plan order) into finished frames, emitted in order.

    A frame seen by one window is passed through untouched (bit-exact); frames in overlaps
    are the weighted mean of their windows' outputs (accumulated in float32).
    """

    def __init__(self, start: int = 0) -> None:
        # `start` > 0 when resuming: frames before it are final already and are ignored.
        self._parts: dict[int, list[tuple[float, torch.Tensor]]] = {}
        self._next = start
        self._last_index = -1

    @property
    def next_frame(self) -> int:
        return self._next

    def add(self, window: Window, output: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
        if window.index <= self._last_index:
            raise ValueError(f"window {window.index} arrived after {self._last_index}")
        if self._last_index < 0 and self._next == 0 and window.index != 0:
            raise ValueError(f"window {window.index} arrived first")
        if output.shape[0] != window.length:
            raise ValueError(
                f"method returned {output.shape[0]} frames for a window of {window.length}"
            )
        self._last_index = window.index
        for p, (f, w) in enumerate(zip(window.indices, window.weights)):
            real = p < window.end - window.start
            if w > 0 and real and f >= self._next:
                self._parts.setdefault(f, []).append((w, output[p]))
        return self._emit(window.done_before)

    def finish(self) -> list[tuple[int, torch.Tensor]]:
        return self._emit(max(self._parts, default=self._next - 1) + 1)

    def _emit(self, before: int) -> list[tuple[int, torch.Tensor]]:
        out = []
        while self._next < before:
            parts = self._parts.pop(self._next, None)
            if not parts:
                raise RuntimeError(f"frame {self._next} was not covered by any window")
            out.append((self._next, _combine(parts)))
            self._next += 1
        return out


def _combine(parts: list[tuple[float, torch.Tensor]]) -> torch.Tensor:
    if len(parts) == 1:
        return parts[0][1]
    total = sum(w for w, _ in parts)
    acc = parts[0][1].float() * (parts[0][0] / total)
    for w, x in parts[1:]:
        acc = acc + x.float() * (w / total)
    return acc.to(parts[0][1].dtype)


def effective_weights(windows: Sequence[Window], total: int) -> list[list[tuple[int, float]]]:
    """For each frame, the (window index, normalised weight) pairs the blender will use."""
    raw: list[list[tuple[int, float]]] = [[] for _ in range(total)]
    for win in windows:
        for p, (f, w) in enumerate(zip(win.indices, win.weights)):
            if w > 0 and p < win.end - win.start:
                raw[f].append((win.index, w))
    return [[(i, w / sum(x for _, x in ps)) for i, w in ps] for ps in raw]
