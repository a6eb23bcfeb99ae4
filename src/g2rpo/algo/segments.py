"""Segment primitives: dense codes for arbitrary ids, per-segment statistics, and orderings by
``(segment, value)`` without a Python loop per segment.

Sorting dominates G2RPO's cost (a sort of N doubles costs more than all of GRPO's arithmetic), so few
segments are separated by a stable counting partition instead of a second sort.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch

PARTITION_LIMIT = 1 << 22
"""Largest ``segments × N`` for which a stable partition uses a one-hot cumulative count instead of a sort."""


@dataclass(frozen=True, eq=False)
class CodedKeys(Sequence):
    """A sequence of N hashable keys held as dense codes: row ``i``'s key is ``keys[codes[i]]``.

    ``codes`` (N,) int64 number the keys in order of first appearance, exactly as :func:`as_codes` numbers a
    plain sequence, so every estimator computes from a ``CodedKeys`` bit for bit what it computes from the list
    of its keys (EMA-GRPO's state keeps the keys themselves, e.g. task names) — without coding N Python objects.
    Build one from integer indices into a vocabulary with :meth:`from_ids`.
    """

    codes: torch.Tensor
    keys: tuple[Hashable, ...]

    def __post_init__(self) -> None:
        codes = self.codes
        if not isinstance(codes, torch.Tensor) or codes.dim() != 1 or codes.dtype != torch.int64:
            raise TypeError(f"CodedKeys.codes must be a 1-D int64 tensor, got {getattr(codes, 'dtype', type(codes))}")
        n_keys = len(self.keys)
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= n_keys):
            raise ValueError(f"CodedKeys.codes must lie in 0..{n_keys - 1} (one per key)")
        first = _first_positions(codes, n_keys)
        if bool((first == codes.numel()).any()) or bool((first[1:] <= first[:-1]).any()):
            raise ValueError("CodedKeys.codes must number every key in order of first appearance (use from_ids)")

    @classmethod
    def from_ids(cls, ids: torch.Tensor, vocabulary: Sequence[Hashable]) -> CodedKeys:
        """The keys ``vocabulary[ids[i]]``; ``ids`` (N,) integer indices into ``vocabulary``."""
        _check_int_ids(ids)
        unique, inverse = torch.unique(ids.to(torch.int64), return_inverse=True)
        order = torch.argsort(_first_positions(inverse, unique.numel()))
        renumber = torch.empty_like(order).scatter_(0, order, torch.arange(order.numel()))
        return cls(renumber[inverse], tuple(vocabulary[i] for i in unique[order].tolist()))

    def __len__(self) -> int:
        return self.codes.numel()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.keys[c] for c in self.codes[index].tolist()]
        return self.keys[int(self.codes[index])]


def _first_positions(codes: torch.Tensor, n_codes: int) -> torch.Tensor:
    """(S,) the first position of each code ``0..S−1`` in ``codes`` (N where a code is absent)."""
    n = codes.numel()
    first = torch.full((n_codes,), n, dtype=torch.int64)
    return first.scatter_reduce(0, codes, torch.arange(n), "amin")


def as_codes(ids: torch.Tensor | Sequence[Hashable], *, length: int | None = None) -> tuple[torch.Tensor, list]:
    """Dense int64 codes ``0..S−1`` for arbitrary ids, and the key of each code.

    ``ids`` is an integer tensor (any values, any order) or a sequence of hashable keys (e.g. task names).
    Tensor ids are coded in sorted order (keys are Python ints); sequences in order of first appearance
    (a :class:`CodedKeys` is such a sequence, already coded).
    """
    if isinstance(ids, CodedKeys):
        codes, keys = ids.codes, list(ids.keys)
    elif isinstance(ids, torch.Tensor):
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
    """Integer ids as a tensor: tensors pass through (checked), sequences of keys become codes (a
    :class:`CodedKeys` gives its codes)."""
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
