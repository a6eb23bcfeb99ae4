"""G2RPO — Gaussian group-relative advantages (recipe §3), exact and vectorised.

The core map sends a set of ``n`` scalars to standard-normal quantiles by rank ("1-D optimal transport to
N(0, 1)"): the k-th smallest of ``n`` gets ``q_k = Φ⁻¹((k − ½)/n)`` (Hazen plotting positions); tied values
share the **mean of their quantiles**; a set of one maps to 0. Many sets ("segments": groups or tasks) are
mapped at once by sorting on ``(segment, value)`` and segment operations — O(N log N), no Python loop per
segment (:mod:`g2rpo.algo.equal_groups` avoids most sorting for the usual B × G batch).

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

from g2rpo.algo.equal_groups import equal_group_layout, g2rpo_equal_groups
from g2rpo.algo.quantiles import TIE_TOLERANCE, check_values, gaussianize_sorted, out_dtype, scatter_back
from g2rpo.algo.segments import (
    as_codes,
    as_id_tensor,
    order_by_code_then_value,
    order_by_segment_then_value,
    segment_starts,
)

__all__ = ["STAGES", "TIE_TOLERANCE", "Stages", "g2rpo_advantages", "gaussianize"]

Stages = Literal["group+task", "task", "group"]
STAGES: tuple[str, ...] = ("group+task", "task", "group")


def gaussianize(values: torch.Tensor) -> torch.Tensor:
    """The G2RPO core map of recipe §3 on one set of N scalars.

    ``A_k = Φ⁻¹((rank_k − ½)/N)``, tied values sharing the mean of their quantiles, ``N ≤ 1 → 0``.
    Outputs sum to 0 and satisfy ``|A| ≤ Φ⁻¹(1 − 1/(2N))``. Ties are float-robust (module docstring).

    Args:
        values: (N,) real tensor, no NaN.
    Returns:
        (N,) float tensor (the input's float dtype, float32 for integer input).
    """
    x = check_values(values)
    if x.numel() == 0:
        return x.to(out_dtype(values))
    xs, order = torch.sort(x)
    new_segment = torch.zeros(x.numel(), dtype=torch.bool)
    new_segment[0] = True
    return scatter_back(gaussianize_sorted(xs, new_segment), order).to(out_dtype(values))


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

    Cost: O(N log N), no Python loop per group or task. When every group has G ≤ 256 rollouts (the usual
    B × G batch) it takes one sort of the N ids and one batched (B, G) sort; stage 2 is a histogram
    (:mod:`g2rpo.algo.equal_groups`). Otherwise two sorts per stage.

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
    x = check_values(rewards)
    n_items = x.numel()
    if n_items == 0:
        return x.to(out_dtype(rewards))
    tasks = as_id_tensor(task_ids, length=n_items)
    if stages == "task":
        codes, keys = as_codes(tasks)
        return _gaussianize_by_code(x, codes, len(keys)).to(out_dtype(rewards))

    groups = as_id_tensor(group_ids, length=n_items)
    layout = equal_group_layout(x, groups)
    if layout is not None:
        fast = g2rpo_equal_groups(layout, groups, tasks, stages)
        if fast is not None:
            return fast.to(out_dtype(rewards))
    return _generic_advantages(x, groups, tasks, stages).to(out_dtype(rewards))


def _generic_advantages(x: torch.Tensor, groups: torch.Tensor, tasks: torch.Tensor, stages: Stages) -> torch.Tensor:
    """Both stages for any group sizes: two sorts per stage (float64 in, float64 out, original order)."""
    order = order_by_segment_then_value(x, groups)
    new_group = segment_starts(groups.index_select(0, order))
    stage1 = scatter_back(gaussianize_sorted(x.index_select(0, order), new_group), order)
    if stages == "group":
        return stage1

    # Task codes from one entry per group (B values, not N): a group belongs to one task.
    tasks_sorted = tasks.index_select(0, order)
    group_task = tasks_sorted[new_group]
    group_of_item = torch.cumsum(new_group, 0) - 1
    if not torch.equal(tasks_sorted, group_task.index_select(0, group_of_item)):
        mixed = tasks_sorted != group_task.index_select(0, group_of_item)
        bad = groups.index_select(0, order)[mixed][:5].tolist()
        raise ValueError(f"group(s) {bad} span more than one task: every response of a group must share its task id")
    unique_tasks, group_code = torch.unique(group_task, return_inverse=True)
    codes = scatter_back(group_code.index_select(0, group_of_item), order)
    return _gaussianize_by_code(stage1, codes, unique_tasks.numel())


def _gaussianize_by_code(x: torch.Tensor, codes: torch.Tensor, n_segments: int) -> torch.Tensor:
    order = order_by_code_then_value(x, codes, n_segments)
    xs = x.index_select(0, order)
    return scatter_back(gaussianize_sorted(xs, segment_starts(codes.index_select(0, order))), order)
