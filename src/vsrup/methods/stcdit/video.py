"""Whole-video STCDiT, as the official `test_tlc_seg` runs it, in bounded GPU memory.

The official code encodes every motion segment, draws the noise for ALL latent frames of the
video at once (seed 42 on the CPU), and runs one sampling loop in which every step visits
every 3-D tile (21 latent frames × up to 960×1280 output pixels, stride 95 % of the tile),
steps each tile with its own velocity and blends the stepped tiles with gaussian weights.
Anchors of a tile are the segment-start latents inside it. We do the same with the video's
latents in `engine.latent_store` stores (host RAM, a memory-mapped file past a size):

- segments stream in (`add_segment`), are encoded one by one and appended frame-major
  ((F, C, h, w): a temporal tile is one contiguous range);
- noise is drawn in the official (C, F, h, w) order in chunks of 2²⁰ values, which gives
  exactly the values of one `torch.randn` of the whole shape, and scattered into the store;
- every step reads one tile at a time onto the device, and adds its gaussian-weighted stepped
  latents into a second store; tile placement follows the official loop *including* the
  repeated tiles it produces when two clamped starts coincide (they weigh twice). The sum of
  weights is separable (the tiles form a full grid), so it is three 1-D sums;
- the blended state is rounded to the model dtype, as the official state tensor is, and
  committed as a per-step checkpoint (`SteppedLatents`): `--resume` continues after the last
  finished step, and decoding skips segments whose frames are already written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vsrup.engine.latent_store import (
    DEFAULT_SPILL_BYTES,
    LatentAppender,
    LatentStore,
    SteppedLatents,
)
from vsrup.errors import MethodError
from vsrup.methods.stcdit import config as cfg
from vsrup.methods.stcdit.frames import Geometry, model_output, plan_geometry
from vsrup.methods.stcdit.pipeline import STCDiTParts, guided_velocity, select_anchors
from vsrup.nn.wan.flow import shifted_sigmas
from vsrup.nn.wan.vae import decode_segments, encode_segments, first_latents
from vsrup.util.windows import gaussian_window

#: Values drawn per `torch.randn` call; any multiple of 16 gives the same stream (the CPU
#: generator fills blocks of 16), the last call takes the remainder plus one chunk.
NOISE_CHUNK = 1 << 20


def official_starts(length: int, kernel: int, stride: float) -> list[int]:
    """Tile starts of the official `LocalAttention3D.grids` loop along one axis, repeats
    included (a start past the end is moved back flush with it, possibly onto another)."""
    kernel = min(kernel, length)
    step = kernel if kernel == length else max(1, int(kernel * stride))
    return [min(s, length - kernel) for s in range(0, length, step)]


def weight_sum(length: int, kernel: int, starts: list[int]) -> torch.Tensor:
    """(length,) float64: the gaussian tile weights of `starts` summed per position."""
    window = gaussian_window(kernel)
    total = torch.zeros(length, dtype=torch.float64)
    for s in starts:
        total[s : s + kernel] += window
    return total


def draw_noise(store: LatentStore, seed: int) -> None:
    """Fill a frame-major (F, C, h, w) store with `torch.randn((1, C, F, h, w))` of a CPU
    generator seeded with `seed`, without materialising it."""
    frames, channels, h, w = store.shape
    per_channel = frames * h * w
    total = channels * per_channel
    gen = torch.Generator().manual_seed(seed)
    array = store.array
    pos = 0
    while pos < total:
        n = NOISE_CHUNK if total - pos >= 2 * NOISE_CHUNK else total - pos
        chunk = torch.randn(n, generator=gen).numpy()
        done = 0
        while done < n:  # scatter the channel-major run into the frame-major store
            c, q = divmod(pos + done, per_channel)
            take = min(n - done, per_channel - q)
            plane = array[:, c].reshape(frames, h * w)
            _write_rows(plane, q, chunk[done : done + take], h * w)
            done += take
        pos += n


def _write_rows(plane, start: int, values, row: int) -> None:  # noqa: ANN001
    """Write a flat run of `values` at flat position `start` of a (rows, row) view."""
    r, c = divmod(start, row)
    i = 0
    while i < len(values):
        take = min(len(values) - i, row - c)
        plane[r, c : c + take] = values[i : i + take]
        i += take
        r, c = r + 1, 0


@dataclass
class _Segments:
    """What the encoded segments look like (persisted next to the LQ latents)."""

    frames: list[int] = field(default_factory=list)
    latents: list[int] = field(default_factory=list)

    @property
    def anchors(self) -> list[int]:
        return first_latents(self.latents)


class VideoRun:
    """One whole-video (or whole-shot) sampling run: `add_segment` per motion segment, then
    `frames(skip_before)` yields the output frames in order."""

    def __init__(
        self,
        parts: STCDiTParts,
        scale: int,
        steps: int,
        seed: int,
        directory: Path | None = None,
        *,
        resume: bool = False,
        spill_bytes: int = DEFAULT_SPILL_BYTES,
    ) -> None:
        self.parts, self.scale, self.steps, self.seed = parts, scale, steps, seed
        self.persistent = directory is not None
        self._tmp = None if self.persistent else tempfile.mkdtemp(prefix="vsrup-latents-")
        self.directory = directory if directory is not None else Path(self._tmp)  # type: ignore[arg-type]
        self.directory.mkdir(parents=True, exist_ok=True)
        self.spill_bytes = spill_bytes
        self.segments = _Segments()
        self._geometry: Geometry | None = None
        self._appender: LatentAppender | None = None
        # LQ latents finished by an interrupted run are reused as they are.
        self._stored = self._read_lq_meta() if resume and self.persistent else None
        self._resume = resume
        #: Set by `frames`: the sampling state, for tests and measurements.
        self.states: SteppedLatents | None = None
        self.lq: LatentStore | None = None
        #: Largest tile tensor (elements) the device saw, for tests.
        self.max_tile_elements = 0

    # -- encoding ---------------------------------------------------------------------------
    def add_segment(self, frames: torch.Tensor) -> None:
        """(n, 3, H, W) in [0, 1]: one motion segment, encoded on its own."""
        from vsrup.methods.stcdit.pipeline import prepare_video

        n = frames.shape[0]
        self._geometry = plan_geometry(frames.shape[-2], frames.shape[-1], self.scale)
        if self._stored is not None:
            k = len(self.segments.frames)
            if k >= len(self._stored.frames) or self._stored.frames[k] != n:
                raise MethodError(
                    f"stcdit: the work directory {self.directory} holds another segmentation; "
                    "rerun without --resume"
                )
            self.segments.frames.append(n)
            self.segments.latents.append(self._stored.latents[k])
            return
        video, _ = prepare_video(self.parts, frames, self.scale)
        enc = encode_segments(self.parts.vae, video, [range(n)])
        latents = enc.latents[0].permute(1, 0, 2, 3)  # (f, C, h, w)
        if self._appender is None:
            self._appender = LatentAppender(
                latents.shape[1:],
                self.directory / "lq.f32",
                spill_bytes=self.spill_bytes,
                persistent=self.persistent,
            )
        self._appender.append(latents)
        self.segments.frames.append(n)
        self.segments.latents.append(latents.shape[0])

    def _lq_store(self) -> LatentStore:
        if self._stored is not None:
            if self.segments.frames != self._stored.frames:
                raise MethodError(
                    f"stcdit: the work directory {self.directory} holds another segmentation; "
                    "rerun without --resume"
                )
            meta = json.loads((self.directory / "lq.json").read_text())
            return LatentStore(meta["shape"], self.directory / "lq.f32", existing=True)
        assert self._appender is not None
        store = self._appender.finish()
        if self.persistent:
            store.flush()
            meta = {
                "frames": self.segments.frames,
                "latents": self.segments.latents,
                "shape": list(store.shape),
            }
            (self.directory / "lq.json").write_text(json.dumps(meta))
        return store

    def _read_lq_meta(self) -> _Segments | None:
        try:
            meta = json.loads((self.directory / "lq.json").read_text())
        except (OSError, ValueError):
            return None
        return _Segments(list(meta["frames"]), list(meta["latents"]))

    # -- sampling ---------------------------------------------------------------------------
    def frames(self, skip_before: int = 0) -> Iterator[torch.Tensor]:
        """Sample (or resume sampling) and yield output frames (3, H·s, W·s) in [0, 1] from
        frame `skip_before` on."""
        if not self.segments.frames:
            return
        self.lq = lq = self._lq_store()
        meta = {"steps": self.steps, "seed": self.seed, "latents": self.segments.latents}
        self.states = states = SteppedLatents(
            self.directory,
            lq.shape,
            meta,
            spill_bytes=self.spill_bytes,
            persistent=self.persistent,
            resume=self._resume,
        )
        if not states.resumed:
            draw_noise(states.current, self.seed)
        self._sample(lq, states)
        yield from self._decode(states.current, skip_before)

    def _sample(self, lq: LatentStore, states: SteppedLatents) -> None:
        parts = self.parts
        frames, _, h, w = lq.shape
        spatial = parts.vae.config.scale_factor_spatial
        # test_tlc_seg: a video of fewer than 21 latent frames is one temporal tile, whatever
        # --tile_frame_kernel says (the 21 is written into the function).
        kf = frames if frames < cfg.TILE_FRAMES else min(parts.tile_frames, frames)
        kh = min(h, parts.tile_max_hw[0] // spatial)
        kw = min(w, parts.tile_max_hw[1] // spatial)
        starts = [
            official_starts(n, k, cfg.TILE_STRIDE) for n, k in ((frames, kf), (h, kh), (w, kw))
        ]
        tile_w = (
            gaussian_window(kf).view(-1, 1, 1, 1)
            * gaussian_window(kh).view(1, 1, -1, 1)
            * gaussian_window(kw).view(1, 1, 1, -1)
        )
        norm = [weight_sum(n, k, s) for (n, k), s in zip(((frames, kf), (h, kh), (w, kw)), starts)]
        sigmas = shifted_sigmas(self.steps, cfg.SHIFT).float()
        device, dtype = parts.device, parts.dtype
        for i in range(states.step, self.steps):
            t = (sigmas[i] * 1000).reshape(1).to(device, dtype)
            dt = sigmas[i + 1] - sigmas[i]
            out = states.begin_step()
            for t0, mt in Counter(starts[0]).items():
                anchors = select_anchors(self.segments.anchors, t0, kf)
                for h0, mh in Counter(starts[1]).items():
                    for w0, mw in Counter(starts[2]).items():
                        idx = (
                            slice(t0, t0 + kf),
                            slice(None),
                            slice(h0, h0 + kh),
                            slice(w0, w0 + kw),
                        )
                        x = states.current.read(idx).to(device, dtype).permute(1, 0, 2, 3)[None]
                        q = lq.read(idx).to(device, dtype).permute(1, 0, 2, 3)[None]
                        self.max_tile_elements = max(self.max_tile_elements, x.numel())
                        v = guided_velocity(parts, x, q, anchors, t)
                        # The official scheduler steps each tile in the model dtype.
                        stepped = (x + v * dt.to(device)).to(dtype)[0].permute(1, 0, 2, 3)
                        weighted = stepped.cpu().double() * (tile_w * (mt * mh * mw))
                        out.add(idx, weighted.float())
            self._normalise(out, norm, dtype)
            states.commit(i + 1)

    @staticmethod
    def _normalise(out: LatentStore, norm: list[torch.Tensor], dtype: torch.dtype) -> None:
        """Divide the weighted sums by the summed weights, a few frames at a time, and round
        to the model dtype (the official state tensor has it)."""
        nf, nh, nw = norm
        plane = (nh.view(-1, 1) * nw.view(1, -1)).float()
        for f0 in range(0, out.shape[0], 8):
            idx = (slice(f0, f0 + 8),)
            denom = nf[f0 : f0 + 8].float().view(-1, 1, 1, 1) * plane
            out.write(idx, (out.read(idx) / denom).to(dtype).float())

    # -- decoding ---------------------------------------------------------------------------
    def _decode(self, latents: LatentStore, skip_before: int) -> Iterator[torch.Tensor]:
        geometry = self._geometry
        assert geometry is not None
        pos, first = 0, 0
        for n_frames, n_lat in zip(self.segments.frames, self.segments.latents):
            if first + n_frames > skip_before:
                z = latents.read((slice(pos, pos + n_lat),)).to(self.parts.dtype)
                z = z.permute(1, 0, 2, 3)[None].to(self.parts.device)
                out = decode_segments(self.parts.vae, z, [n_lat], [n_frames])
                out = model_output(out[0].permute(1, 0, 2, 3), geometry)
                for k in range(max(0, skip_before - first), n_frames):
                    yield out[k]
            pos += n_lat
            first += n_frames

    def close(self) -> None:
        """Drop a temporary work directory (a job's work directory is the job's to remove)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
