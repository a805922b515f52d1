"""A job's resume store: what names it (`store_identity`), opening it, and `--resume`'s check
that an interrupted run with the same settings exists."""

from __future__ import annotations

from pathlib import Path

from vsrup.engine.job import UpscaleJob, WarnFn
from vsrup.engine.job_plan import segment_frames
from vsrup.errors import UsageError
from vsrup.interface.method import MethodSpec


def store_identity(job: UpscaleJob, spec: MethodSpec, settings: dict, sink, out_w: int,  # noqa: ANN001
                   out_h: int):  # noqa: ANN201  # fmt: skip
    """(identity, target): everything that names the job's resume store, and what its
    segments are encoded for (the final writer, or lossless segments for image sequences).
    A distributed run's workers compute it exactly as a single-process run does."""
    from dataclasses import asdict

    from vsrup.engine.resume import input_identity, software_versions

    if hasattr(sink, "packet_encoder"):
        target = sink
        encode = {**asdict(job.encode or _default_encode()), "container": job.output.suffix}
    else:
        from vsrup.video.lossless import LosslessSegments

        target = LosslessSegments(sink, out_w, out_h)
        encode = {"image_sequence": True}
    identity = {
        **input_identity(job.input),
        "method": spec.id,
        "settings": settings,
        "encode": encode,
        "segment_frames": segment_frames(spec, job),
        "versions": software_versions(),
    }
    return identity, target


def open_store(job: UpscaleJob, spec: MethodSpec, settings: dict, sink, out_w: int,  # noqa: ANN001
               out_h: int, warn: WarnFn):  # noqa: ANN201  # fmt: skip
    """The job's resume store and the segments' target (finished segments of an interrupted
    run of the same job are kept: the job continues from them)."""
    from vsrup.engine.resume import ResumeStore

    identity, target = store_identity(job, spec, settings, sink, out_w, out_h)
    if job.resume:
        check_resumable(identity, job.work_dir)
    store = ResumeStore.open(identity, work_root=job.work_dir)
    if store.frames_done:
        warn(f"{job.input}: continuing an interrupted run: {store.frames_done} frames are "
             f"finished ({len(store.prefix())} segments in {store.directory})")  # fmt: skip
    return store, target


def _default_encode():  # noqa: ANN202
    from vsrup.video.writer import EncodeSettings

    return EncodeSettings()


def check_resumable(identity: dict, work_root: Path | None) -> None:
    """`--resume`: an unfinished job with exactly these settings must exist; otherwise say
    which settings differ from the unfinished jobs of the same input."""
    from vsrup.engine.resume import differences, job_key, list_jobs

    jobs = list_jobs(work_root)
    key = job_key(identity)
    # Finished segments, or a whole-video method's sampling state (per-step latents).
    if any(j.key == key and (j.frames_done or (j.directory / "latents").is_dir()) for j in jobs):
        return
    same_input = [j for j in jobs if j.identity.get("input") == identity["input"]]
    if not same_input:
        raise UsageError("--resume: no interrupted run of this input to continue",
                         path=identity["input"], hint="run without --resume to start")  # fmt: skip
    latest = same_input[-1]
    diff = "; ".join(differences(latest.identity, identity)[:4]) or "an unreadable job file"
    raise UsageError(
        f"--resume: the interrupted run of this input used other settings ({diff})",
        path=identity["input"],
        hint="rerun with its settings, or without --resume to start over "
        f"(`vsrup jobs clean` removes its {latest.frames_done} finished frames)",
    )
