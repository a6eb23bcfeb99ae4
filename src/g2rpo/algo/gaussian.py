"""G2RPO — Gaussian group-relative advantages (recipe §3), exact and vectorised.

The core map sends a set of ``n`` scalars to standard-normal quantiles by rank ("1-D optimal transport to
N(0, 1)"): the k-th smallest of ``n`` gets ``q_k = Φ⁻¹((k − ½)/n)`` (Hazen plotting positions); tied values
share the **mean of their quantiles**; a set of one maps to 0. Many sets ("segments": groups or tasks) are
mapped at once with one sort on ``(segment, value)`` and segment operations — O(N log N), no Python loop per
segment.

Exactness. A tie block holding positions ``i..j`` of a segment of size ``n`` gets ``(C(j) − C(i−1)) / (j−i+1)``
with ``C(k) = Σ_{m≤k} q_m``. Since ``q_{n+1−m} = −q_m``, ``C(k) = C(n−k)``; we compute ``C`` only on
``0..⌊n/2⌋`` (one table row per distinct segment size, shared by every segment of that size) and read
``C(k)`` as ``C(min(k, n−k))``. Hence, bit for bit: a segment whose values are all tied maps to exactly 0,
mirrored tie blocks get exactly opposite values, and segments of equal size and tie pattern get identical
values.

Deviation (recipe §3, choice): **float-robust ties**. Sorted neighbours ``u ≤ v`` of a segment are tied when
``v − u ≤ 1e-9 · max(1, |v|)`` (so a chain of such steps forms one tie block). Stage-1 values that are equal in
exact arithmetic but differ in the last bits are therefore tied in stage 2; the authors' code compares floats
exactly and lets rounding noise rank them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import torch

from g2rpo.algo.segments import as_codes, sort_within_segments

TIE_TOLERANCE = 1e-9
"""Relative/absolute tolerance under which two values count as tied (see module docstring)."""

Stages = Literal["group+task", "task", "group"]
STAGES: tuple[str, ...] = ("group+task", "task", "group")


def _check_values(values: torch.Tensor) -> torch.Tensor:
    if values.dim() != 1:
        raise ValueError(f"rewards must be a 1-D tensor of length N, got shape {tuple(values.shape)}")
    x = values.to(torch.float64)
    if torch.isnan(x).any():
        raise ValueError(f"rewards contain NaN at positions {torch.nonzero(torch.isnan(x)).flatten()[:10].tolist()}")
    return x


def _prefix_table(sizes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Half-quantile prefix sums for every distinct segment size.

    Returns ``(offset_by_size, prefix)`` where ``prefix[offset_by_size[n] + f] = C_n(f)`` for ``f = 0..⌊n/2⌋``
    (``C_n(0) = 0`` is stored as a difference of equal entries, so it is exactly 0).
    """
    distinct = torch.unique(sizes)
    row_len = distinct // 2 + 1
    row_start = torch.cumsum(row_len, 0) - row_len
    row = torch.repeat_interleave(torch.arange(distinct.numel()), row_len)
    f = torch.arange(int(row_len.sum())) - row_start[row]
    n = distinct[row].to(torch.float64)
    q = torch.where(f >= 1, torch.special.ndtri((f.to(torch.float64) - 0.5) / n), torch.zeros_like(n))
    prefix = torch.cumsum(q, 0)
    offset_by_size = torch.full((int(distinct.max()) + 1,), -1, dtype=torch.int64)
    offset_by_size[distinct] = row_start
    return offset_by_size, prefix


def _gaussianize_segments(x: torch.Tensor, codes: torch.Tensor, n_segments: int) -> torch.Tensor:
    """The core map applied independently within every segment. ``x`` float64 (N,), ``codes`` (N,) dense."""
    n_items = x.numel()
    if n_items == 0:
        return x.clone()
    order = sort_within_segments(x, codes)
    xs, cs = x[order], codes[order]

    size = torch.bincount(codes, minlength=n_segments)
    seg_start = torch.cumsum(size, 0) - size
    position = torch.arange(n_items) - seg_start[cs] + 1  # 1-based rank k within the segment

    new_segment = torch.ones(n_items, dtype=torch.bool)
    new_segment[1:] = cs[1:] != cs[:-1]
    gap = torch.zeros(n_items, dtype=torch.float64)
    gap[1:] = xs[1:] - xs[:-1]
    scale = torch.clamp(xs.abs(), min=1.0)
    scale = torch.where(torch.isinf(scale), torch.ones_like(scale), scale)  # ±inf rank as extremes; inf − inf ties
    distinct = gap > TIE_TOLERANCE * scale
    block_start = new_segment | distinct
    block = torch.cumsum(block_start.to(torch.int64), 0) - 1
    first = position[block_start]  # i: first position of each tie block
    last = torch.empty_like(first)  # j: last position of each tie block
    last[:-1] = position[torch.nonzero(block_start).flatten()[1:] - 1]
    last[-1] = position[-1]
    n = size[cs[block_start]]

    offset, prefix = _prefix_table(n)
    row = offset[n]
    upper = prefix[row + torch.minimum(last, n - last)]
    lower = prefix[row + torch.minimum(first - 1, n - first + 1)]
    block_mean = (upper - lower) / (last - first + 1).to(torch.float64)

    out = torch.empty_like(x)
    out[order] = block_mean[block]
    return out


def gaussianize(values: torch.Tensor) -> torch.Tensor:
    """The G2RPO core map of recipe §3 on one set of N scalars.

    ``A_k = Φ⁻¹((rank_k − ½)/N)``, tied values sharing the mean of their quantiles, ``N ≤ 1 → 0``.
    Outputs sum to 0 and satisfy ``|A| ≤ Φ⁻¹(1 − 1/(2N))``. Ties are float-robust (module docstring).

    Args:
        values: (N,) real tensor, no NaN.
    Returns:
        (N,) float tensor (the input's float dtype, float32 for integer input).
    """
    x = _check_values(values)
    out = _gaussianize_segments(x, torch.zeros_like(x, dtype=torch.int64), 1)
    return out.to(_out_dtype(values))


def _out_dtype(values: torch.Tensor) -> torch.dtype:
    return values.dtype if values.is_floating_point() else torch.float32


def g2rpo_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor | Sequence[Hashable],
    task_ids: torch.Tensor | Sequence[Hashable],
    *,
    stages: Stages = "group+task",
) -> torch.Tensor:
    """G2RPO advantages of a batch of N responses (recipe §3).

    - ``"group+task"`` (default, the authors' code): the core map within each prompt group, then again on
      those values within each task.
    - ``"task"``: the core map on the raw rewards within each task (the paper figure's ``Φ⁻¹(F_τ(R_i))``).
    - ``"group"``: the core map within each group only.

    The scalar advantage is broadcast over the response's tokens by the caller. For data-parallel training,
    call it on the batch gathered from all ranks (the task stage needs every rank's values) and keep the slice.

    Args:
        rewards: (N,) float rewards, no NaN.
        group_ids: (N,) int64 ids (any values, any order, groups need not be contiguous) or hashable keys.
            A group belongs to one task.
        task_ids: (N,) int64 ids or hashable keys (e.g. problem-type names).
        stages: ``"group+task"``, ``"task"`` or ``"group"``.
    Returns:
        (N,) float tensor of advantages (the rewards' float dtype, float32 for integer rewards).
    """
    if stages not in STAGES:
        raise ValueError(f"unknown stages {stages!r}; valid: {', '.join(STAGES)}")
    x = _check_values(rewards)
    n_items = x.numel()
    groups, group_keys = as_codes(group_ids, length=n_items)
    tasks, task_keys = as_codes(task_ids, length=n_items)
    if stages != "task" and n_items:
        _check_groups_within_tasks(groups, tasks, len(group_keys), len(task_keys), group_keys)
        x = _gaussianize_segments(x, groups, len(group_keys))
    if stages != "group":
        x = _gaussianize_segments(x, tasks, len(task_keys))
    return x.to(_out_dtype(rewards))


def _check_groups_within_tasks(groups, tasks, n_groups, n_tasks, group_keys) -> None:
    pairs = torch.unique(groups * n_tasks + tasks)
    if pairs.numel() != n_groups:
        counts = torch.bincount(pairs // n_tasks, minlength=n_groups)
        bad = [group_keys[g] for g in torch.nonzero(counts > 1).flatten()[:5].tolist()]
        raise ValueError(f"group(s) {bad} span more than one task: every response of a group must share its task id")
