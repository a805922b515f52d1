"""What `vsrup bench` times: one upscaling job, described by `Job`, run by a `Runner`.

A `Runner` is any callable `runner(job) -> frames written (or None to have them counted)` that
decodes `job.input` (frames `job.start` to `job.stop`), upscales with `job.method`, and encodes
`job.output`, calling `StageTimer` for its stages. The default, `pipeline_runner`, is exactly
what `vsrup upscale` runs: the engine's `run_job`, whose stages (`load`, `decode`,
`decode_wait`, `method`, `blend`, `temporal`, `encode`) and the diffusion methods' own
(`vae_encode`, `denoise`, `vae_decode`, inside `method`) are StageTimer calls in the code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vsrup.interface.method import MethodOptions

Runner = Callable[["Job"], "int | None"]


@dataclass
class Job:
    input: Path
    output: Path
    method: str
    options: MethodOptions = field(default_factory=MethodOptions)
    device: str = "auto"
    dtype: str = "auto"
    start: int = 0
    stop: int | None = None

    @property
    def frames(self) -> str | None:
        """The `--frames A:B` text for this range (None for the whole clip)."""
        if self.start == 0 and self.stop is None:
            return None
        return f"{self.start}:{'' if self.stop is None else self.stop}"


def pipeline_runner(job: Job) -> int:
    """Run the job through the engine pipeline, as `vsrup upscale` would (overwriting the
    previous repeat's output)."""
    from vsrup.engine.pipeline import UpscaleJob, run_job

    result = run_job(
        UpscaleJob(
            input=job.input,
            output=job.output,
            method=job.method,
            scale=job.options.scale,
            options=copy.deepcopy(job.options),  # the pipeline sets options.scale itself
            frames=job.frames,
            overwrite=True,
            device=job.device,
            dtype=job.dtype,
        )
    )
    return result.frames
