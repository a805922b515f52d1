"""Which files `vsrup upscale` reads and where each result goes.

One rule for `-o`, stated in `--help` (OUTPUT_HELP) and never guessed from a missing
extension:

- a name with a video extension (.mp4 .m4v .mkv .mov .webm) is the output file;
- an existing folder, or a name ending in `/`, is a folder (created if needed) that receives
  `NAME_x2.EXT` for each input; with several inputs -o is always a folder, and the batch
  mirrors its input tree under it, so two inputs with the same name in different folders
  never collide;
- an image pattern such as `frames/%06d.png` (or .jpg/.tif) writes an image sequence, and a
  single image name (`still_up.png`) takes a one-image input;
- anything else is a usage error that says so.

A batch never takes vsrup's own outputs (`NAME_x2.mp4` beside `NAME.mp4`, or anything under
the output folder) as inputs, and a finished output is skipped, not reported as a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vsrup.errors import UsageError

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mkv", ".mov", ".webm", ".avi", ".ts", ".mts", ".m2ts",
                    ".flv", ".wmv", ".mpg", ".mpeg", ".3gp"}  # fmt: skip
OUTPUT_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".mov", ".webm")
IMAGE_OUTPUT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

OUTPUT_HELP = (
    "Where to write. A name ending in .mp4/.m4v/.mkv/.mov/.webm is the output file; an existing "
    "folder or a name ending in / receives NAME_x2.EXT per input (a batch mirrors its input "
    "tree there); frames/%06d.png (or .jpg/.tif) writes an image sequence; a .png name takes "
    "a single image. Anything else is refused. Default: beside each input, NAME_x2.EXT."
)

#: The tag `output_name` appends: _x2, _x1.5, _1920x1080, _1920xh, _wx1080.
_OWN_TAG = re.compile(r"_(x\d+(\.\d+)?|(\d+|w)x(\d+|h))$")


@dataclass
class Planned:
    """One input, where its result goes, and why it is skipped (None: run it)."""

    input: Path
    output: Path
    skip: str | None = None
    #: The output's folder is ours to create (a folder -o, or a mirrored sub-folder).
    make_folder: bool = False


def is_image_file(path: Path) -> bool:
    from vsrup.video.imageseq import IMAGE_EXTENSIONS

    return path.suffix.lower() in IMAGE_EXTENSIONS and "%" not in path.name


def is_own_output(path: Path, siblings: set[str]) -> bool:
    """`clip_x2.mp4` when `clip.<any video extension>` is in the same folder."""
    m = _OWN_TAG.search(path.stem)
    if m is None:
        return False
    base = path.stem[: m.start()]
    return any(name.rsplit(".", 1)[0] == base for name in siblings if name != path.name)


def _videos_under(folder: Path, skip_dir: Path | None) -> list[Path]:
    """Videos in `folder` and its sub-folders (hidden ones and the output folder excluded)."""
    found: list[Path] = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if skip_dir is not None and p.resolve().is_relative_to(skip_dir):
            continue
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            found.append(p)
    names_by_dir: dict[Path, set[str]] = {}
    for p in found:
        names_by_dir.setdefault(p.parent, set()).add(p.name)
    return [p for p in found if not is_own_output(p, names_by_dir[p.parent])]


def expand_inputs(inputs: list[Path], output: Path | None = None) -> tuple[list[Path], bool]:
    """Files to process, and whether this is a batch (several files or a folder of videos).

    A folder that holds videos (at any depth) is a batch of them; a folder of images only is
    an image sequence (one input)."""
    from vsrup.video.imageseq import IMAGE_EXTENSIONS

    skip_dir = output.resolve() if output is not None and output.is_dir() else None
    files: list[Path] = []
    batch = len(inputs) > 1
    for p in inputs:
        if p.is_dir():
            videos = _videos_under(p, skip_dir)
            if videos:
                files.extend(videos)
                batch = True
                continue
            if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir()):
                files.append(p)  # an image sequence
                continue
            raise UsageError("no videos or images in this folder", path=p)
        files.append(p)
    return files, batch


def output_name(src: Path, scale: float | None, width: int | None, height: int | None) -> str:
    tag = f"{width or 'w'}x{height or 'h'}" if (width or height) else f"x{scale:g}"
    if is_image_file(src):
        return f"{src.stem}_{tag}.png"
    ext = src.suffix.lower() if src.suffix.lower() in OUTPUT_EXTENSIONS else ".mkv"
    return f"{src.stem}_{tag}{ext}"


def _is_folder_target(output: Path, raw: str) -> bool:
    return output.is_dir() or raw.endswith(("/", "\\"))


def check_output_kind(output: Path, raw: str, single_image: bool) -> None:
    """Refuse an `-o` that is neither a video file, a folder, nor an image target."""
    if _is_folder_target(output, raw):
        return
    suffix = output.suffix.lower()
    if suffix in OUTPUT_EXTENSIONS:
        return
    if suffix in IMAGE_OUTPUT_EXTENSIONS:
        if "%" in output.name or single_image:
            return
        raise UsageError(
            "an image output needs a single image input, or a numbered pattern",
            path=output,
            hint=f"use {output.with_name('%06d' + output.suffix)} for an image sequence",
        )
    what = f"extension {output.suffix!r} is not an output format" if suffix else "no extension"
    raise UsageError(
        f"-o: {what}",
        path=output,
        hint="give a file ending in " + "/".join(OUTPUT_EXTENSIONS) + ", a folder ending in /, "
        "or an image pattern such as frames/%06d.png",
    )


def _mirror_root(files: list[Path]) -> Path:
    """The deepest folder holding every input: the tree under it is mirrored under -o."""
    import os

    parents = [str(f.resolve().parent) for f in files]
    return Path(os.path.commonpath(parents)) if parents else Path(".")


def plan_outputs(
    files: list[Path],
    batch: bool,
    output: Path | None,
    raw_output: str,
    scale: float | None,
    width: int | None,
    height: int | None,
    overwrite: bool,
) -> list[Planned]:
    if batch:
        # Several inputs can only go to a folder, so a bare name is one (created if needed).
        if output is not None and output.exists() and not output.is_dir():
            raise UsageError("with several inputs, -o must be a folder", path=output)
        if output is not None and output.suffix.lower() in OUTPUT_EXTENSIONS:
            raise UsageError("with several inputs, -o must be a folder, not a video name",
                             path=output)  # fmt: skip
        root = _mirror_root(files)
        plans = []
        for f in files:
            name = output_name(f, scale, width, height)
            if output is None:
                dst = f.parent / name
            else:
                dst = output / f.resolve().parent.relative_to(root) / name
            plans.append(Planned(f, dst, make_folder=output is not None))
        for p in plans:
            if p.output.exists() and not overwrite:
                p.skip = "already done (use --overwrite to redo it)"
        return plans
    src = files[0]
    if output is None:
        return [Planned(src, src.parent / output_name(src, scale, width, height))]
    check_output_kind(output, raw_output, single_image=is_image_file(src))
    if _is_folder_target(output, raw_output):
        return [Planned(src, output / output_name(src, scale, width, height), make_folder=True)]
    return [Planned(src, output)]


def make_output_folders(plans: list[Planned]) -> None:
    """Create the folders the outputs go to (a folder -o, mirrored sub-folders)."""
    for p in plans:
        if p.skip is None and p.make_folder:
            p.output.parent.mkdir(parents=True, exist_ok=True)
