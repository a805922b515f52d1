"""SimpleGVR's efficient attention patterns (paper §4.4), as plain functions on (B, H, L, D).

Tokens are in Wan's order: frame-major, then rows, then columns of the latent token grid
(F, Hh, Ww). Two patterns, usable separately or together:

- Interleaving temporal units: attention only among tokens whose frames fall in the same unit
  of `unit` latent frames. Odd layers shift the unit boundaries by `unit // 2` frames (no
  wrap-around: the first and last units are partial), so information crosses every boundary
  on the next layer, Swin-style but along time.
- Sparse local attention (after MoBA and Swin): tokens are cut into 2-D windows of
  `block` = (rows, cols) tokens inside each frame. Every window attends to itself and to the
  `topk` other windows whose mean key best matches its mean query, anywhere in the video (or
  in its temporal unit when both patterns are on).

`reference_mask` builds the same patterns as a dense boolean mask for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AttentionPattern:
    """Which attention a SimpleGVR self-attention layer uses."""

    temporal_unit: int | None = None  # latent frames per unit (paper: 5); None = all frames
    sparse_block: tuple[int, int] | None = None  # window in tokens (paper: 12×9); None = dense
    topk: int = 1  # extra windows each window attends to (paper: 1)

    @property
    def is_dense(self) -> bool:
        return self.temporal_unit is None and self.sparse_block is None


def unit_offset(layer: int, unit: int) -> int:
    """Even layers use plain units; odd layers shift the boundaries by half a unit."""
    return (unit // 2) if layer % 2 else 0


def temporal_segments(frames: int, unit: int, offset: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges of the units: boundaries at k·unit − offset, clipped."""
    if unit <= 0:
        raise ValueError("temporal unit must be positive")
    bounds = sorted({0, frames, *(b for b in range(unit - offset, frames, unit) if b > 0)})
    return list(zip(bounds[:-1], bounds[1:]))


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _windows(x: torch.Tensor, grid: tuple[int, int, int], block: tuple[int, int]):
    """(B, H, L, D) → (B, H, nW, bh*bw, D) windows, plus a validity mask for padded tokens."""
    b, h, _, d = x.shape
    f, gh, gw = grid
    bh, bw = block
    ph, pw = (-gh) % bh, (-gw) % bw
    x = x.reshape(b, h, f, gh, gw, d)
    valid = torch.ones(f, gh, gw, dtype=torch.bool, device=x.device)
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
        valid = F.pad(valid, (0, pw, 0, ph), value=False)
    nh, nw = (gh + ph) // bh, (gw + pw) // bw
    x = x.reshape(b, h, f, nh, bh, nw, bw, d).permute(0, 1, 2, 3, 5, 4, 6, 7)
    valid = valid.reshape(f, nh, bh, nw, bw).permute(0, 1, 3, 2, 4)
    return x.reshape(b, h, f * nh * nw, bh * bw, d), valid.reshape(f * nh * nw, bh * bw), (nh, nw)


def _unwindow(x: torch.Tensor, grid: tuple[int, int, int], block: tuple[int, int], nhw):
    b, h, _, _, d = x.shape
    f, gh, gw = grid
    bh, bw = block
    nh, nw = nhw
    x = x.reshape(b, h, f, nh, nw, bh, bw, d).permute(0, 1, 2, 3, 5, 4, 6, 7)
    x = x.reshape(b, h, f, nh * bh, nw * bw, d)[:, :, :, :gh, :gw]
    return x.reshape(b, h, f * gh * gw, d)


def select_windows(
    q_win: torch.Tensor, k_win: torch.Tensor, valid: torch.Tensor, topk: int, allowed: torch.Tensor
) -> torch.Tensor:
    """Indices (B, H, nW, 1 + topk): each window itself first, then its top-k other windows
    by mean-query · mean-key relevance among `allowed` (nW, nW) candidates."""
    w = valid.to(q_win.dtype)[None, None, :, :, None]
    count = w.sum(dim=3).clamp(min=1)
    q_mean = (q_win * w).sum(dim=3) / count
    k_mean = (k_win * w).sum(dim=3) / count
    scores = q_mean @ k_mean.transpose(-1, -2)
    n = scores.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=scores.device)
    scores = scores.masked_fill(~allowed | eye, float("-inf"))
    k_eff = min(topk, n - 1)
    own = torch.arange(n, device=scores.device).view(n, 1).expand(*scores.shape[:-1], 1)
    if k_eff <= 0:
        return own
    top = scores.topk(k_eff, dim=-1).indices
    # Where fewer than k candidates are allowed, -inf picks are replaced by the window itself.
    picked = scores.gather(-1, top)
    top = torch.where(torch.isinf(picked), own.expand_as(top), top)
    return torch.cat([own, top], dim=-1)


def sparse_local_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    grid: tuple[int, int, int],
    block: tuple[int, int],
    topk: int,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Window self-attention plus top-k selected windows; cost O(L · (1 + k) · window)."""
    qw, valid, nhw = _windows(q, grid, block)
    kw, _, _ = _windows(k, grid, block)
    vw, _, _ = _windows(v, grid, block)
    n_win, size = valid.shape
    if allowed is None:
        allowed = torch.ones(n_win, n_win, dtype=torch.bool, device=q.device)
    idx = select_windows(qw, kw, valid, topk, allowed)  # (B, H, nW, S)
    b, h, _, s = idx.shape
    d = q.shape[-1]
    gather = idx.reshape(b, h, n_win * s, 1, 1).expand(-1, -1, -1, size, d)
    k_sel = kw.gather(2, gather).reshape(b, h, n_win, s * size, d)
    v_sel = vw.gather(2, gather).reshape(b, h, n_win, s * size, d)
    key_ok = valid[idx.reshape(-1)].reshape(b, h, n_win, 1, s * size)
    # Duplicate picks (the window itself standing in for a missing candidate) count once.
    dup = torch.zeros_like(idx, dtype=torch.bool)
    dup[..., 1:] = idx[..., 1:] == idx[..., :1]
    key_ok = key_ok & ~dup.repeat_interleave(size, dim=-1).unsqueeze(-2)
    out = _sdpa(qw, k_sel, v_sel, key_ok)
    return _unwindow(out, grid, block, nhw)


def pattern_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    grid: tuple[int, int, int],
    pattern: AttentionPattern,
    layer: int,
) -> torch.Tensor:
    """Self-attention under `pattern` at layer index `layer` (for the temporal shift)."""
    if pattern.is_dense:
        return _sdpa(q, k, v)
    f, gh, gw = grid
    per_frame = gh * gw
    segments = [(0, f)]
    if pattern.temporal_unit:
        segments = temporal_segments(
            f, pattern.temporal_unit, unit_offset(layer, pattern.temporal_unit)
        )
    out = torch.empty_like(q)
    for start, end in segments:
        sl = slice(start * per_frame, end * per_frame)
        sub = (end - start, gh, gw)
        if pattern.sparse_block:
            out[:, :, sl] = sparse_local_attention(
                q[:, :, sl], k[:, :, sl], v[:, :, sl], sub, pattern.sparse_block, pattern.topk
            )
        else:
            out[:, :, sl] = _sdpa(q[:, :, sl], k[:, :, sl], v[:, :, sl])
    return out


def reference_mask(
    q: torch.Tensor,
    k: torch.Tensor,
    grid: tuple[int, int, int],
    pattern: AttentionPattern,
    layer: int,
) -> torch.Tensor:
    """Dense (B, H, L, L) boolean mask of the same pattern, for tests (O(L²) memory)."""
    f, gh, gw = grid
    per_frame = gh * gw
    b, h, length, _ = q.shape
    mask = torch.zeros(b, h, length, length, dtype=torch.bool, device=q.device)
    segments = [(0, f)]
    if pattern.temporal_unit:
        segments = temporal_segments(
            f, pattern.temporal_unit, unit_offset(layer, pattern.temporal_unit)
        )
    for start, end in segments:
        sl = slice(start * per_frame, end * per_frame)
        if not pattern.sparse_block:
            mask[:, :, sl, sl] = True
            continue
        sub = (end - start, gh, gw)
        qw, valid, _ = _windows(q[:, :, sl], sub, pattern.sparse_block)
        kw, _, _ = _windows(k[:, :, sl], sub, pattern.sparse_block)
        n_win = valid.shape[0]
        idx = select_windows(
            qw, kw, valid, pattern.topk, torch.ones(n_win, n_win, dtype=torch.bool)
        )
        # Token index of every window slot in the segment (−1 for padding).
        pos = torch.arange((end - start) * per_frame).reshape(1, 1, -1, 1).float()
        pw, _, _ = _windows(pos, sub, pattern.sparse_block)
        slot = pw[0, 0, :, :, 0].long()
        slot[~valid] = -1
        for bi in range(b):
            for hi in range(h):
                for wi in range(n_win):
                    rows = slot[wi][slot[wi] >= 0] + sl.start
                    cols = slot[idx[bi, hi, wi]].reshape(-1)
                    cols = cols[cols >= 0] + sl.start
                    mask[bi, hi, rows[:, None], cols[None, :]] = True
    return mask


def attention_flops(
    grid: tuple[int, int, int], heads: int, head_dim: int, pattern: AttentionPattern
) -> float:
    """Multiply-add FLOPs of QKᵀ and AV for one layer (2·2·L·L_kv·D per head), for reports."""
    f, gh, gw = grid
    per_frame = gh * gw
    segments = [(0, f)]
    if pattern.temporal_unit:
        segments = temporal_segments(f, pattern.temporal_unit, 0)
    total = 0.0
    for start, end in segments:
        length = (end - start) * per_frame
        if pattern.sparse_block:
            bh, bw = pattern.sparse_block
            win = bh * bw
            n_win = (end - start) * -(-gh // bh) * -(-gw // bw)
            total += 4.0 * n_win * win * win * (1 + pattern.topk) * head_dim * heads
        else:
            total += 4.0 * length * length * head_dim * heads
    return total
