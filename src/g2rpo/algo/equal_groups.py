"""G2RPO's fast path for the standard batch layout: B prompt groups of G rollouts each (recipe §3).

Stage 1 sorts every group's G rewards in one batched call on the (B, G) layout. A stage-1 value is the mean
quantile of a tie block spanning positions ``i..j`` of a group of size G, so it is one of the G(G+1)/2 numbers
of a table cached per G. Ranking that table once, with the same float-robust tie rule, turns stage 2 into a
histogram over (task, value rank): no sort of the N stage-1 values at all. The results are bit-identical to
the generic path (the tests compare them); a table whose merged ties are not pure rounding noise, which would
make the rank table disagree with the tie rule applied to the values present, is never used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from g2rpo.algo.quantiles import block_mean, scatter_back, tie_starts
from g2rpo.algo.segments import segment_starts

MAX_GROUP_SIZE = 256
"""Largest G served by the cached table (G(G+1)/2 cells); larger groups take the generic path."""

ROUNDING_NOISE = 1e-12
"""Largest spread of a merged tie in the table that still counts as rounding noise (≪ the tie tolerance)."""


@dataclass(frozen=True)
class CellTable:
    """Every possible stage-1 value of a group of size G, indexed by its tie block ``(i, j)``, ``i ≤ j``."""

    values: torch.Tensor  # (C,) float64 — the block's mean quantile
    rank: torch.Tensor  # (C,) int64 — dense rank of the value, float-robust ties merged
    n_ranks: int
    cell_of: torch.Tensor  # (G·G,) int64 — (i − 1)·G + (j − 1) → cell, −1 where i > j
    usable: bool


@lru_cache(maxsize=64)
def cell_table(g: int) -> CellTable:
    i, j = torch.triu_indices(g, g) + 1
    values = block_mean(torch.full_like(i, g), i, j)
    sorted_values, order = torch.sort(values)
    first = torch.zeros_like(sorted_values, dtype=torch.bool)
    first[0] = True
    rank_sorted = torch.cumsum(tie_starts(sorted_values, first), 0) - 1
    n_ranks = int(rank_sorted[-1]) + 1
    low = sorted_values.new_full((n_ranks,), float("inf")).scatter_reduce(0, rank_sorted, sorted_values, "amin")
    high = sorted_values.new_full((n_ranks,), float("-inf")).scatter_reduce(0, rank_sorted, sorted_values, "amax")
    usable = bool(((high - low) <= ROUNDING_NOISE * high.abs().clamp_min(1.0)).all())
    cell_of = torch.full((g * g,), -1, dtype=torch.int64)
    cell_of[(i - 1) * g + (j - 1)] = torch.arange(i.numel())
    return CellTable(values, scatter_back(rank_sorted, order), n_ranks, cell_of, usable)


def equal_group_layout(x: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(rows, values)``, both (B, G), sorted by value within each group — or ``None`` if group sizes differ.

    ``rows`` holds the original index of each entry of ``values``.
    """
    n = x.numel()
    grouped = bool((groups[1:] >= groups[:-1]).all())  # TRL lays out B × G rollouts grouped: no sort needed
    by_id = torch.arange(n) if grouped else torch.sort(groups).indices
    first = segment_starts(groups if grouped else groups.index_select(0, by_id))
    b = int(first.sum())
    g = n // b
    if b * g != n or g > MAX_GROUP_SIZE or not bool(first.view(b, g)[:, 0].all()):
        return None
    values, within = torch.sort((x if grouped else x.index_select(0, by_id)).view(b, g), dim=1)
    return by_id.view(b, g).gather(1, within), values


def g2rpo_equal_groups(
    layout: tuple[torch.Tensor, torch.Tensor],
    groups: torch.Tensor,
    tasks: torch.Tensor,
    stages: str,
) -> torch.Tensor | None:
    """Stage 1 (and stage 2 unless ``stages == "group"``) on an equal-group layout, in original order.

    Returns ``None`` when the cached table for this G is not usable (the caller takes the generic path).
    """
    rows, values = layout
    b, g = values.shape
    table = cell_table(g)
    if not table.usable:
        return None
    flat_rows = rows.flatten()
    new_group = torch.zeros(b * g, dtype=torch.bool)
    new_group[::g] = True
    block = torch.cumsum(tie_starts(values.flatten(), new_group), 0) - 1
    block_size = torch.bincount(block)
    j = (torch.cumsum(block_size, 0) - 1) % g + 1
    i = j - block_size + 1
    cell = table.cell_of.index_select(0, (i - 1) * g + (j - 1)).index_select(0, block)
    if stages == "group":
        return scatter_back(table.values.index_select(0, cell), flat_rows)

    row_tasks = tasks.index_select(0, flat_rows).view(b, g)
    group_task = row_tasks[:, 0]
    mixed = (row_tasks != group_task.unsqueeze(1)).any(dim=1)
    if bool(mixed.any()):
        bad = groups.index_select(0, rows[mixed, 0])[:5].tolist()
        raise ValueError(f"group(s) {bad} span more than one task: every response of a group must share its task id")
    unique_tasks, code = torch.unique(group_task, return_inverse=True)
    s, k = unique_tasks.numel(), table.n_ranks
    key = code.repeat_interleave(g) * k + table.rank.index_select(0, cell)
    count = torch.bincount(key, minlength=s * k).view(s, k)
    upto = torch.cumsum(count, 1)  # a (task, rank) cell spans positions upto − count + 1 .. upto of its task
    n = upto[:, -1:].expand(s, k)
    value = block_mean(n.flatten(), (upto - count + 1).flatten(), upto.flatten())
    return scatter_back(value.index_select(0, key), flat_rows)
