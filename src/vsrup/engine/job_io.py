"""A job's source (a video or an image sequence, restricted to the chosen frames) and sink (a
video writer or an image-sequence writer)."""

from __future__ import annotations

from pathlib import Path

from vsrup.engine.job import UpscaleJob, WarnFn
from vsrup.errors import UsageError


def open_source(job: UpscaleJob, batch: int, warn: WarnFn):  # noqa: ANN201
    """A reader for a video file or an image sequence, restricted to the chosen frames."""
    from vsrup.video.imageseq import ImageSequenceReader, is_image_sequence
    from vsrup.video.reader import FrameRange, VideoReader

    frange = FrameRange.parse(job.frames, job.start, job.duration)
    kwargs = dict(batch=batch, frame_range=frange, ignore_errors=job.ignore_errors)
    if is_image_sequence(job.input):
        return ImageSequenceReader(job.input, fps=job.fps or 24, on_warning=warn, **kwargs)
    if job.fps is not None:
        raise UsageError("--fps sets the rate of image sequences; a video keeps its own",
                         path=job.input)  # fmt: skip
    return VideoReader(job.input, on_warning=warn, **kwargs)


def is_sequence_output(path: Path) -> bool:
    """Images out (`frames/%06d.png`, or one `still.png`); never guessed from a bare name."""
    from vsrup.video.imageseq import IMAGE_EXTENSIONS

    return path.suffix.lower() in IMAGE_EXTENSIONS


def partials_dir(output: Path, sequence_out: bool) -> Path:
    """Where the output's temporary lives (beside the file, or beside the PNG folder)."""
    if sequence_out:
        from vsrup.video.imageseq import sequence_pattern

        return sequence_pattern(output)[0].parent
    return output.parent if str(output.parent) else Path(".")


def open_sink(job: UpscaleJob, reader, out_w: int, out_h: int, temp: Path | None, warn: WarnFn):  # noqa: ANN001, ANN201
    from vsrup.video.imageseq import ImageSequenceWriter
    from vsrup.video.writer import EncodeSettings, VideoWriter

    if temp is None:
        return ImageSequenceWriter(job.output, deep=reader.deep, overwrite=job.overwrite)
    video = reader.video
    offset = reader.first_pts if reader.first_pts is not None else 0
    from vsrup.video.imageseq import ImageSequenceReader

    copy_from = None if isinstance(reader, ImageSequenceReader) else job.input
    return VideoWriter(
        temp,
        width=out_w,
        height=out_h,
        time_base=reader.time_base,
        fps=video.fps,
        source=video,
        settings=job.encode or EncodeSettings(),
        copy_from=copy_from,
        container_metadata=reader.info.metadata,
        window=getattr(reader, "window_s", None),
        pts_offset=offset if getattr(reader, "window_s", None) else 0,
        warn=warn,
        label=str(job.output),
    )
