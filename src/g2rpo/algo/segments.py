"""Segment primitives: dense codes for arbitrary ids, and per-segment statistics without Python loops."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch


def as_codes(ids: torch.Tensor | Sequence[Hashable], *, length: int | None = None) -> tuple[torch.Tensor, list]:
    """Dense int64 codes ``0..S−1`` for arbitrary ids, and the key of each code.

    ``ids`` is an integer tensor (any values, any order) or a sequence of hashable keys (e.g. task names).
    Tensor ids are coded in sorted order (keys are Python ints); sequences in order of first appearance.
    """
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
        if ids.is_floating_point() or ids.is_complex():
            raise TypeError(f"ids must be an integer tensor, got {ids.dtype}")
        uniq, codes = torch.unique(ids, return_inverse=True)
        keys = uniq.tolist()
    else:
        index: dict[Hashable, int] = {}
        codes_list = [index.setdefault(k, len(index)) for k in ids]
        codes = torch.tensor(codes_list, dtype=torch.int64)
        keys = list(index)
    if length is not None and codes.numel() != length:
        raise ValueError(f"expected {length} ids, got {codes.numel()}")
    return codes, keys


def segment_mean(values: torch.Tensor, codes: torch.Tensor, n_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-segment mean and size. ``values`` (N,) float, ``codes`` (N,) in ``0..n_segments−1``."""
    size = torch.bincount(codes, minlength=n_segments).to(values.dtype)
    total = values.new_zeros(n_segments).index_add(0, codes, values)
    return total / size.clamp_min(1), size


def sort_within_segments(values: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """The permutation that sorts by ``(segment code, value)``, ties kept in input order (two stable sorts)."""
    by_value = torch.sort(values, stable=True).indices
    by_segment = torch.sort(codes[by_value], stable=True).indices
    return by_value[by_segment]
