"""The quantile core of G2RPO (recipe §3): tie blocks of sorted values → mean Hazen quantiles.

See :mod:`g2rpo.algo.gaussian` for the map, the exactness argument and the float-robust tie rule.
"""

from __future__ import annotations

from functools import lru_cache

import torch

_FLOAT64_MAX = torch.finfo(torch.float64).max

TIE_TOLERANCE = 1e-9
"""Relative/absolute tolerance under which two values count as tied (see module docstring)."""



def check_values(values: torch.Tensor) -> torch.Tensor:
    if values.dim() != 1:
        raise ValueError(f"rewards must be a 1-D tensor of length N, got shape {tuple(values.shape)}")
    x = values.to(torch.float64)
    if torch.isnan(x.sum()):  # one reduction; NaN (or +inf − inf) only then is worth locating
        nan = torch.nonzero(torch.isnan(x)).flatten()[:10].tolist()
        if nan:
            raise ValueError(f"rewards contain NaN at positions {nan}")
    return x


def out_dtype(values: torch.Tensor) -> torch.dtype:
    return values.dtype if values.is_floating_point() else torch.float32


@lru_cache(maxsize=4096)
def _half_prefix(n: int) -> torch.Tensor:
    """``C_n(f) = Σ_{m ≤ f} Φ⁻¹((m − ½)/n)`` for ``f = 0..⌊n/2⌋`` (float64, ``C_n(0) = 0``)."""
    m = torch.arange(1, n // 2 + 1, dtype=torch.float64)
    return torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(torch.special.ndtri((m - 0.5) / n), 0)])


def _prefix_table(block_sizes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``_half_prefix`` row per distinct segment size, concatenated, and each size's row offset.

    ``block_sizes`` holds a segment size per element (only the distinct values matter)."""
    counts = torch.bincount(block_sizes)
    distinct = torch.nonzero(counts).flatten().tolist()
    rows = [_half_prefix(n) for n in distinct]
    lengths = torch.tensor([r.numel() for r in rows])
    offset_by_size = torch.zeros(counts.numel(), dtype=torch.int64)
    offset_by_size[distinct] = torch.cumsum(lengths, 0) - lengths
    return offset_by_size, torch.cat(rows)


def block_mean(n: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Mean quantile of a tie block spanning positions ``i..j`` (1-based) of a segment of size ``n``.

    ``(C_n(j) − C_n(i − 1)) / (j − i + 1)`` with ``C_n(k)`` read as ``C_n(min(k, n − k))`` (module docstring).
    Every caller goes through here, so equal ``(n, i, j)`` give equal bits.
    """
    offset, prefix = _prefix_table(n)
    row = offset.index_select(0, n)
    upper = prefix.index_select(0, row + torch.minimum(j, n - j))
    lower = prefix.index_select(0, row + torch.minimum(i - 1, n - i + 1))
    return (upper - lower) / (j - i + 1).clamp_min(1)


def tie_starts(xs: torch.Tensor, new_segment: torch.Tensor) -> torch.Tensor:
    """Flags the first element of every tie block of values sorted within segments (float-robust ties)."""
    block_start = new_segment.clone()
    scale = xs[1:].abs().clamp(1.0, _FLOAT64_MAX)  # ±inf rank as extremes (gap inf > any scale); inf − inf ties
    block_start[1:] |= (xs[1:] - xs[:-1]) > TIE_TOLERANCE * scale
    return block_start


def gaussianize_sorted(xs: torch.Tensor, new_segment: torch.Tensor) -> torch.Tensor:
    """The core map on values already sorted by ``(segment, value)``; ``new_segment`` flags segment starts.

    Tie blocks and segments are runs of the sorted sequence: their sizes come from one ``bincount`` each and
    the quantile arithmetic runs once per tie block. Returns the outputs in the same (sorted) order.
    """
    block = torch.cumsum(tie_starts(xs, new_segment), 0) - 1
    block_size = torch.bincount(block)
    block_last = torch.cumsum(block_size, 0) - 1  # global index of each tie block's last element
    segment = torch.cumsum(new_segment, 0) - 1
    segment_size = torch.bincount(segment)
    segment_first = torch.cumsum(segment_size, 0) - segment_size
    block_segment = segment.index_select(0, block_last)
    n = segment_size.index_select(0, block_segment)
    j = block_last - segment_first.index_select(0, block_segment) + 1  # the block spans positions i..j (1-based)
    return block_mean(n, j - block_size + 1, j).index_select(0, block)


def scatter_back(sorted_values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(sorted_values).scatter_(0, order, sorted_values)
