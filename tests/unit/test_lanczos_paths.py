"""The fast Lanczos paths (banded matmul, integer polyphase) equal the direct definition."""

from __future__ import annotations

import pytest
import torch

from vsrup.util import resize as resampling


def _direct(x: torch.Tensor, dim: int, n_out: int) -> torch.Tensor:
    """Gather every tap and weight it: the definition, slow but obvious."""
    idx, w = resampling.lanczos_weights(x.shape[dim], n_out)
    g = x.index_select(dim, idx.reshape(-1))
    shape = list(x.shape)
    shape[dim : dim + 1] = [n_out, idx.shape[1]]
    wshape = [1] * len(shape)
    wshape[dim], wshape[dim + 1] = n_out, idx.shape[1]
    return (g.reshape(shape) * w.to(x.dtype).reshape(wshape)).sum(dim=dim + 1)


@pytest.mark.parametrize(
    ("shape", "size"),
    [((2, 3, 17, 23), (34, 46)), ((1, 3, 5, 7), (15, 28)), ((2, 3, 30, 20), (13, 45)),
     ((1, 3, 2, 1), (8, 4)), ((3, 9, 11), (27, 33)), ((1, 1, 120, 60), (50, 300))],
)  # fmt: skip
def test_fast_paths_match_the_definition(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    want = _direct(_direct(x, x.dim() - 2, size[0]), x.dim() - 1, size[1])
    got = resampling.lanczos_resize(x, *size)
    assert got.shape == want.shape
    assert (got - want).abs().max() < 1e-5
