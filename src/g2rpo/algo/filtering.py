"""Dynamic filtering of groups without learning signal (recipe §7)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

from g2rpo.algo.segments import as_codes, segment_mean


def filter_groups(
    accuracy: torch.Tensor,
    group_ids: torch.Tensor | Sequence[Hashable],
    low: float = 0.01,
    high: float = 0.99,
) -> torch.Tensor:
    """Keep mask dropping every group whose mean accuracy is ``≤ low`` or ``≥ high`` (recipe §7).

    All-wrong and all-right groups carry no signal. The trainer refills the batch with more prompts.

    Args:
        accuracy: (N,) verifier accuracies in ``[0, 1]`` (not the overall reward).
        group_ids: (N,) int64 ids or hashable keys.
    Returns:
        (N,) bool tensor, ``True`` for responses of kept groups.
    """
    if not low < high:
        raise ValueError(f"filter bounds need low < high, got low={low}, high={high}")
    codes, keys = as_codes(group_ids, length=accuracy.numel())
    mean, _ = segment_mean(accuracy.to(torch.float64), codes, len(keys))
    keep = (mean > low) & (mean < high)
    return keep[codes]
