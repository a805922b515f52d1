"""The tiny RAM/DAPE parity fixture (tools/parity/ram.py) written back as official files."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

FIX = Path(__file__).resolve().parent / "fixtures" / "ram"
TAGS = FIX / "tags.txt"
THRESHOLDS = FIX / "thresholds.txt"


def fp32(name: str) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in load_file(FIX / name).items()}


def official_files(directory: Path, *, dape: bool = True) -> tuple[Path, Path | None]:
    """`ram_swin_large_14m.pth` ({"model": ...}, head under `vision_multi`) and `DAPE.pth`."""
    ram = fp32("ram.safetensors")
    # The real file also holds the Swin buffers, which the official loader drops: so do we.
    ram["visual_encoder.layers.0.blocks.1.attn_mask"] = torch.full((64, 144, 144), 7.0)
    ram["visual_encoder.layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(
        144, 144, dtype=torch.long
    )
    ram_path = directory / "ram_swin_large_14m.pth"
    torch.save({"model": ram}, ram_path)
    if not dape:
        return ram_path, None
    dape_path = directory / "DAPE.pth"
    torch.save(fp32("dape.safetensors"), dape_path)
    return ram_path, dape_path
