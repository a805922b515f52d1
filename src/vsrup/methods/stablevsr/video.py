"""Whole-sequence StableVSR / DGAF-VSR, as the official pipelines sample, in bounded GPU memory.

The official `__call__` keeps every frame of the sequence and samples them together: one
latent per frame drawn in frame order, then at every step a pass over ALL frames, alternately
0→N−1 and N−1→0, each frame but the first of a pass guided by the frame denoised just before
it (see `sampler`). Here the same loop runs with the sequence's state off the GPU, in
`engine.latent_store` stores (host RAM, a memory-mapped file past a size):

- LR frames stream in (`add`) and are appended to a store;
- the flows (forward and backward, at ×4 resolution) are computed once, pair by pair, into a
  store: they are by far the largest part (2 × 2 floats per output pixel per frame);
- every step reads one frame's latent and LR image onto the device, runs that frame's UNet
  (and guide) pass, and writes the stepped latent into the step's scratch store; only the
  previous frame's x0 estimate stays on the device between frames;
- after each step the state is committed (`SteppedLatents`) together with the random
  generator's state, so `--resume` continues after the last finished step with the same
  draws: the result equals an uninterrupted run's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from vsrup.engine.latent_store import (
    DEFAULT_SPILL_BYTES,
    LatentAppender,
    LatentStore,
    SteppedLatents,
)
from vsrup.methods.stablevsr.sampler import pass_order

RNG_FILE = "rng_{step:05d}.pt"


def bytes_per_frame(lr_height: int, lr_width: int, latent_channels: int = 4) -> int:
    """Host RAM / disk the run keeps per frame (float32): two latent states (the last
    finished step and the one being written), the LR frame, and the forward and backward
    flows at ×4 resolution (two values per output pixel each): 300 bytes per LR pixel."""
    pixels = lr_height * lr_width
    return 4 * pixels * (2 * latent_channels + 3 + 2 * 2 * 16)


class SequenceRun:
    """One sequence's whole-sequence sampling; a `FlowGuidedPipeline` does the per-frame work
    (its stages `prepare` and `decode` and its pieces `flows`, `plain` and `guided`, one frame
    or frame pair at a time). `work_dir` None keeps the state in a temporary directory."""

    def __init__(
        self,
        pipeline: Any,
        steps: int,
        seed: int,
        work_dir: Path | None = None,
        resume: bool = False,
        spill_bytes: int | None = None,
    ) -> None:
        self.pipeline, self.steps, self.seed = pipeline, steps, seed
        self.persistent = work_dir is not None
        self.dir = work_dir or Path(tempfile.mkdtemp(prefix="vsrup-seq-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.resume = resume
        self.spill = DEFAULT_SPILL_BYTES if spill_bytes is None else spill_bytes
        self._lr: LatentAppender | None = None
        self.stores: list[Any] = []

    @property
    def device(self) -> torch.device:
        return next(self.pipeline.unet.parameters()).device

    def add(self, frames: torch.Tensor) -> None:
        """Append (T, 3, h, w) LR frames in [0, 1]."""
        lr = self.pipeline.prepare(frames)
        if self._lr is None:
            self._lr = LatentAppender(lr.shape[1:], self.dir / "lr.f32", spill_bytes=self.spill)
        self._lr.append(lr)

    def _flows(self, lr: LatentStore) -> LatentStore:
        """(2, N−1, 4h, 4w, 2): forward flows f_1… then backward flows b_1…, pair by pair."""
        n, _, h, w = lr.shape
        flows = LatentStore(
            (2, max(n - 1, 0), 4 * h, 4 * w, 2), self.dir / "flows.f32", spill_bytes=self.spill
        )
        p = self.pipeline
        if p.flow_model is None:
            raise RuntimeError("no flow model")
        for i in range(1, n):
            fwd, bwd = p.flows(lr.read(slice(i - 1, i + 1)).to(self.device))
            flows.write((0, i - 1), fwd[0][0])
            flows.write((1, i - 1), bwd[0][0])
        return flows

    def _initial(self, state: SteppedLatents, n: int, shape: tuple[int, ...], gen) -> None:  # noqa: ANN001
        """One `randn` per frame in frame order, as the official pipeline draws them."""
        store = state.begin_step()
        sigma = self.pipeline.scheduler.init_noise_sigma
        for i in range(n):
            noise = torch.randn((1, *shape), generator=gen, device=gen.device)
            store.write(i, noise[0] * sigma)
        state.commit(0)

    @torch.no_grad()
    def frames(self, skip_before: int = 0) -> Iterator[torch.Tensor]:
        """Sample, then decode and yield frames (3, 4h, 4w) in [0, 1] from `skip_before`."""
        if self._lr is None:
            return
        lr = self._lr.finish()
        self.stores.append(lr)
        n, _, h, w = lr.shape
        p = self.pipeline
        channels = p.vae.config.latent_channels
        meta = {"frames": n, "steps": self.steps, "seed": self.seed, "size": [h, w]}
        state = SteppedLatents(
            self.dir / "latents",
            (n, channels, h, w),
            meta,
            spill_bytes=self.spill,
            persistent=self.persistent,
            resume=self.resume,
        )
        self.stores.append(state)
        gen = torch.Generator(device="cpu").manual_seed(self.seed)
        start = state.step
        rng = self.dir / "latents" / RNG_FILE.format(step=start)
        if start > 0 and rng.is_file():
            gen.set_state(torch.load(rng, weights_only=True))
        elif start > 0:
            start = 0  # a checkpoint without its generator state cannot continue exactly
        if start < self.steps:
            flows = self._flows(lr)
            self.stores.append(flows)
            if start == 0:
                self._initial(state, n, (channels, h, w), gen)
            self._sample(lr, flows, state, start, gen)
        for i in range(skip_before, n):
            z = state.current.read(slice(i, i + 1)).to(self.device)
            yield p.decode(z)[0]

    def _sample(
        self,
        lr: LatentStore,
        flows: LatentStore,
        state: SteppedLatents,
        start: int,
        gen: torch.Generator,
    ) -> None:
        p, device = self.pipeline, self.device
        n = lr.shape[0]
        p.scheduler.set_timesteps(self.steps, device=device)
        for i in range(start, len(p.scheduler.timesteps)):
            t = p.scheduler.timesteps[i]
            out = state.begin_step()
            reverse = i % 2 == 1
            x0_prev: torch.Tensor | None = None
            for k, frame in enumerate(pass_order(n, reverse)):
                latent = state.current.read(slice(frame, frame + 1)).to(device)
                inp = p.scheduler.scale_model_input(latent, t)
                inp = torch.cat([inp, lr.read(slice(frame, frame + 1)).to(device)], dim=1)
                inp = inp.to(p.dtype)
                if k == 0 or x0_prev is None:
                    pred = p.plain(inp, t)
                else:
                    # The k-th guide of a pass: f_k forward; b_{N−k} backward (the official
                    # backward list is reversed).
                    flow = flows.read((1, n - 1 - k) if reverse else (0, k - 1))
                    pred = p.guided(inp, t, x0_prev, flow[None].to(device))
                step = p.scheduler.step(pred.float(), t, latent, generator=gen)
                out.write(frame, step.prev_sample[0])
                x0_prev = step.pred_original_sample
            if self.persistent:
                rng = self.dir / "latents" / RNG_FILE.format(step=i + 1)
                torch.save(gen.get_state(), rng)
            state.commit(i + 1)
            old = self.dir / "latents" / RNG_FILE.format(step=i)
            old.unlink(missing_ok=True)

    def close(self) -> None:
        """Drop a temporary work directory. A job's work directory is left as it is: after a
        crash it holds the checkpoint `--resume` continues from, and the job's store removes
        it once the output is complete."""
        self.stores = []
        if not self.persistent:
            shutil.rmtree(self.dir, ignore_errors=True)
