"""DLoRAL's pre- and post-processing in 8-bit images, as the official `test_DLoRAL.py` does it.

The official script works on PIL images, so every resize is a Pillow resize on uint8 pixels
(bicubic is Pillow's a = −0.5 kernel, not torch's a = −0.75) and each step's result is
rounded to 8 bits before the next one reads it. Its output path truncates (not rounds) to
8 bits twice: torchvision's `ToPILImage` multiplies by 255 and casts, once for the network's
output and once after the AdaIN colour fix. Matching those points matters: in float, with
torch's bicubic, the input alone differs by up to ~10 LSB and the output by ~2 LSB on average.

Frames come in as floats in [0, 1] (8-bit values from the decoder; deeper inputs are rounded to
8 bits here, as the official PIL loader does) and leave as floats holding 8-bit values.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from vsrup.engine.color import adain
from vsrup.methods.dloral.config import SCALE


def to_uint8(frame: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] → (H, W, 3) uint8, rounded."""
    q = frame.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return q.permute(1, 2, 0).cpu().numpy()


def from_uint8(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (1, 3, H, W) float32 in [0, 1], divided by 255 as `to_tensor` does."""
    return torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float().div(255)


def _resize(image: np.ndarray, width: int, height: int, method: Image.Resampling) -> np.ndarray:
    return np.array(Image.fromarray(image).resize((width, height), method))


def prepare(image: np.ndarray, min_short_side: int) -> tuple[np.ndarray, bool]:
    """The official input steps on an (H, W, 3) uint8 frame: frames with a side under
    `min_short_side` are first enlarged so the short side reaches it (Pillow bicubic), then ×4
    (Pillow bicubic), then a Lanczos resize down to multiples of 8 (a no-op when they already
    are). Returns the image and whether the first step ran (the output is then resized back)."""
    height, width = image.shape[:2]
    enlarged = min(width, height) < min_short_side
    if enlarged:
        s = min_short_side / min(width, height)
        image = _resize(image, int(s * width), int(s * height), Image.Resampling.BICUBIC)
    height, width = image.shape[:2]
    image = _resize(image, SCALE * width, SCALE * height, Image.Resampling.BICUBIC)
    height, width = image.shape[:2]
    if height % 8 or width % 8:
        image = _resize(image, width - width % 8, height - height % 8, Image.Resampling.LANCZOS)
    return image, enlarged


def truncate(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] → (H, W, 3) uint8 the way `ToPILImage` casts floats (× 255, then
    truncated), in the tensor's own dtype as the official script does."""
    return x[0].mul(255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def adain_8bit(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The official AdaIN colour fix on uint8 images: `source`'s per-channel mean and std given
    to `target` with eps inside the variance (`engine.color.adain`'s StableSR form), clamped
    and truncated to uint8 again."""
    out = adain(from_uint8(target), from_uint8(source), eps_in_variance=True)
    return truncate(out.clamp_(0, 1))


def resize_bicubic(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow bicubic to (height, width): the official resize back to ×4 of the input."""
    if image.shape[:2] == (height, width):
        return image
    return _resize(image, width, height, Image.Resampling.BICUBIC)
