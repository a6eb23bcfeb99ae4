"""Segment primitives: dense codes for arbitrary ids, per-segment statistics, and orderings by
``(segment, value)`` without a Python loop per segment.

Sorting dominates G2RPO's cost (a sort of N doubles costs more than all of GRPO's arithmetic), so few
segments are separated by a stable counting partition instead of a second sort.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

PARTITION_LIMIT = 1 << 22
"""Largest ``segments × N`` for which a stable partition uses a one-hot cumulative count instead of a sort."""


def as_codes(ids: torch.Tensor | Sequence[Hashable], *, length: int | None = None) -> tuple[torch.Tensor, list]:
    """Dense int64 codes ``0..S−1`` for arbitrary ids, and the key of each code.

    ``ids`` is an integer tensor (any values, any order) or a sequence of hashable keys (e.g. task names).
    Tensor ids are coded in sorted order (keys are Python ints); sequences in order of first appearance.
    """
    if isinstance(ids, torch.Tensor):
        _check_int_ids(ids)
        uniq, codes = torch.unique(ids, return_inverse=True)
        keys = uniq.tolist()
    else:
        index: dict[Hashable, int] = {}
        codes = torch.tensor([index.setdefault(k, len(index)) for k in ids], dtype=torch.int64)
        keys = list(index)
    if length is not None and codes.numel() != length:
        raise ValueError(f"expected {length} ids, got {codes.numel()}")
    return codes, keys


def as_id_tensor(ids: torch.Tensor | Sequence[Hashable], *, length: int) -> torch.Tensor:
    """Integer ids as a tensor: tensors pass through (checked), sequences of keys become codes."""
    if isinstance(ids, torch.Tensor):
        _check_int_ids(ids)
        if ids.numel() != length:
            raise ValueError(f"expected {length} ids, got {ids.numel()}")
        return ids
    return as_codes(ids, length=length)[0]


def _check_int_ids(ids: torch.Tensor) -> None:
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"ids must be an integer tensor, got {ids.dtype}")


def segment_mean(values: torch.Tensor, codes: torch.Tensor, n_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-segment mean and size. ``values`` (N,) float, ``codes`` (N,) in ``0..n_segments−1``."""
    size = torch.bincount(codes, minlength=n_segments).to(values.dtype)
    total = values.new_zeros(n_segments).index_add(0, codes, values)
    return total / size.clamp_min(1), size


def segment_starts(sorted_ids: torch.Tensor) -> torch.Tensor:
    """Bool mask of the first element of every run of equal ids in an id-sorted sequence."""
    first = torch.ones_like(sorted_ids, dtype=torch.bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    return first


def stable_partition(codes: torch.Tensor, n_segments: int) -> torch.Tensor:
    """The permutation that stably groups elements by dense ``codes`` (a counting sort when it is small)."""
    n = codes.numel()
    if n_segments * n > PARTITION_LIMIT:
        return torch.sort(codes, stable=True).indices
    one_hot = codes.unsqueeze(0) == torch.arange(n_segments).unsqueeze(1)
    rank_within = one_hot.cumsum(1).gather(0, codes.unsqueeze(0)).squeeze(0) - 1
    size = torch.bincount(codes, minlength=n_segments)
    destination = (torch.cumsum(size, 0) - size).index_select(0, codes) + rank_within
    return torch.empty_like(codes).scatter_(0, destination, torch.arange(n))


def order_by_segment_then_value(values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The permutation sorting by ``(id, value)`` for arbitrary integer ids: a value sort, then a stable id sort."""
    by_value = torch.sort(values).indices
    return by_value.index_select(0, torch.sort(ids.index_select(0, by_value), stable=True).indices)


def order_by_code_then_value(values: torch.Tensor, codes: torch.Tensor, n_segments: int) -> torch.Tensor:
    """The permutation sorting by ``(dense code, value)``: one value sort, then a stable partition."""
    by_value = torch.sort(values).indices
    return by_value.index_select(0, stable_partition(codes.index_select(0, by_value), n_segments))
