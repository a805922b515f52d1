"""Classical resamplers: sizes, range, and agreement with reference implementations."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vsrup import methods
from vsrup.interface.method import Clip, MethodOptions
from vsrup.util.resize import lanczos_resize, resize


def test_registry_lists_classical_methods() -> None:
    assert {"nearest", "bicubic", "lanczos"} <= set(methods.ids())


@pytest.mark.parametrize("kernel", ["nearest", "bicubic", "lanczos"])
def test_shapes_and_range(kernel: str) -> None:
    cls = methods.get(kernel)
    m = cls.from_weights(None, None, MethodOptions(scale=3))
    x = torch.rand(2, 3, 11, 7)
    y = m.process(Clip(x))
    assert y.shape == (2, 3, 33, 21)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_lanczos_preserves_constants_and_matches_opencv_roughly() -> None:
    flat = torch.full((1, 1, 9, 13), 0.5)
    assert torch.allclose(lanczos_resize(flat, 18, 26), flat.new_full((1, 1, 18, 26), 0.5))
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.random((40, 50)).astype(np.float32), (0, 0), 2)
    ours = lanczos_resize(torch.from_numpy(img)[None, None].double(), 80, 100)[0, 0].numpy()
    ref = cv2.resize(img, (100, 80), interpolation=cv2.INTER_LANCZOS4)
    # OpenCV uses an 8-tap Lanczos; on smooth content both agree closely away from borders.
    assert np.abs(ours[8:-8, 8:-8] - ref[8:-8, 8:-8]).max() < 2e-3


def test_resize_is_identity_at_same_size() -> None:
    x = torch.rand(1, 3, 8, 8)
    assert resize(x, 8, 8, "lanczos") is x
