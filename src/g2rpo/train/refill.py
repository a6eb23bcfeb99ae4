"""Dynamic filtering with refill (recipe §7): which rows each rank trains on, and where refill prompts come from.

One *round* is one TRL generation batch: ``W`` ranks × ``L`` rows, groups of ``G`` contiguous rows in the
gathered order (TRL's layout). After each round every rank knows the gathered keep mask
(:func:`g2rpo.algo.filter_groups`), so every rank can compute every rank's selection without communication:
rank ``r`` takes its kept rows in round order until it has ``L``; rounds continue until every rank is full or
``max_refill_tries`` extra rounds were generated. A rank left short after the last try is topped up with
dropped rows that are masked out of the loss (a *partial* batch, logged).

The tensor helpers work on TRL's per-round output dict after ``split_pixel_values_by_grid`` (one entry per
row for image tensors) and rebuild the padded layout when rows of different rounds are concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

LEFT_PADDED = ("prompt_ids", "prompt_mask")
RIGHT_PADDED = (
    "completion_ids", "completion_mask", "old_per_token_logps", "sampling_per_token_logps",
    "ref_per_token_logps", "importance_sampling_ratio", "tool_mask",
)
PROMPT_COMPLETION = ("token_type_ids", "mm_token_type_ids")
"""Per-token fields spanning ``[prompt | completion]``: split at the prompt width, pad each side its way."""


@dataclass(frozen=True)
class Selection:
    """The rows one rank trains on: ``rows[j] = (round, local_row)``; the last ``n_padding`` are masked out."""

    rows: list[tuple[int, int]]
    n_padding: int


class SelectionPlanner:
    """:func:`plan_selection` one round at a time: each :meth:`add` costs O(W·L) tensor work, so a step with
    ``K`` rounds plans in O(K·W·L) instead of re-planning every round after each refill (O(K²·W·L)).

    After ``k`` calls to :meth:`add` the plan equals ``plan_selection(keeps[:k], W, L)``. Per rank it holds the
    first ``L`` kept rows and the first ``L`` dropped rows (the padding candidates), in round order.
    """

    def __init__(self, world_size: int, local_size: int) -> None:
        self.world_size, self.local_size, self.n_rounds = world_size, local_size, 0
        shape = (world_size, local_size)
        self._kept = (torch.zeros(shape, dtype=torch.long), torch.zeros(shape, dtype=torch.long))
        self._dropped = (torch.zeros(shape, dtype=torch.long), torch.zeros(shape, dtype=torch.long))
        self.n_kept = torch.zeros(world_size, dtype=torch.long)  # (W,) kept rows taken, ≤ L
        self._n_dropped = torch.zeros(world_size, dtype=torch.long)

    def add(self, keep: torch.Tensor) -> bool:
        """Take round ``n_rounds``'s gathered keep mask (W·L,) bool; return whether every rank is full."""
        w, n = self.world_size, self.local_size
        if keep.numel() != w * n:
            raise ValueError(f"keep mask of round {self.n_rounds} has {keep.numel()} rows, expected W·L = {w * n}")
        mask = keep.reshape(w, n).to(device="cpu", dtype=torch.bool)
        self._take(mask, self._kept, self.n_kept)
        if not self.full:
            self._take(~mask, self._dropped, self._n_dropped)
        self.n_rounds += 1
        return self.full

    def _take(self, mask: torch.Tensor, slots: tuple[torch.Tensor, torch.Tensor], count: torch.Tensor) -> None:
        """Append each rank's ``mask``ed rows of this round, in row order, to its slots while fewer than L."""
        slot = count.unsqueeze(1) + mask.cumsum(1) - 1
        rank, row = torch.nonzero(mask & (slot < self.local_size), as_tuple=True)
        column = slot[rank, row]
        slots[0][rank, column] = self.n_rounds
        slots[1][rank, column] = row
        count += torch.bincount(rank, minlength=self.world_size)

    @property
    def full(self) -> bool:
        return bool((self.n_kept == self.local_size).all())

    @property
    def n_padding(self) -> torch.Tensor:
        """(W,) rows each rank is short of ``L`` kept rows (topped up with dropped rows, masked out)."""
        return self.local_size - self.n_kept

    def rank_rows(self, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rank ``rank``'s rows as ``(round, local_row)`` int64 tensors: its kept rows, then its padding rows."""
        kept, n_pad = int(self.n_kept[rank]), min(int(self.n_padding[rank]), int(self._n_dropped[rank]))
        return tuple(torch.cat([k[rank, :kept], d[rank, :n_pad]]) for k, d in zip(self._kept, self._dropped, strict=True))

    def final_rows(self) -> torch.Tensor:
        """(M,) int64: every rank's kept rows, rank by rank, as ``round · W·L + gathered_row`` (the flat index
        into the rounds' gathered rows concatenated in round order)."""
        real = torch.arange(self.local_size).unsqueeze(0) < self.n_kept.unsqueeze(1)
        gathered = torch.arange(self.world_size).unsqueeze(1) * self.local_size + self._kept[1]
        return (self._kept[0] * (self.world_size * self.local_size) + gathered)[real]

    def selections(self) -> list[Selection]:
        """Every rank's :class:`Selection` (as :func:`plan_selection` returns them)."""
        out = []
        for rank in range(self.world_size):
            rounds, rows = self.rank_rows(rank)
            out.append(Selection(rows=list(zip(rounds.tolist(), rows.tolist(), strict=True)),
                                 n_padding=int(self.n_padding[rank])))
        return out


def plan_selection(keeps: Sequence[torch.Tensor], world_size: int, local_size: int) -> tuple[list[Selection], bool]:
    """Every rank's rows after ``len(keeps)`` rounds, and whether every rank is full.

    Args:
        keeps: per round, the gathered keep mask (W·L,) bool.
        world_size: W.  local_size: L rows per rank per round.
    Returns:
        ``(selections, full)``; a rank short of ``L`` kept rows is topped up with dropped rows (earliest
        first) counted in ``Selection.n_padding``. Rank ``r`` takes its kept rows in round order, then row order.
        The trainer plans round by round with :class:`SelectionPlanner`.
    """
    planner = SelectionPlanner(world_size, local_size)
    for keep in keeps:
        planner.add(keep)
    return planner.selections(), planner.full


def select_rows(batch: dict, rows: Sequence[int] | torch.Tensor) -> dict:
    """Rows ``rows`` of a split TRL batch (tensors along dim 0, per-row lists); 0-d tensors are dropped."""
    n = len(batch["prompt_ids"])
    index = rows.to(torch.long) if isinstance(rows, torch.Tensor) else torch.as_tensor(list(rows), dtype=torch.long)
    positions = index.tolist()
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == n:
            out[key] = value[index.to(value.device)]
        elif isinstance(value, list) and len(value) == n:
            out[key] = [value[i] for i in positions]
        elif isinstance(value, torch.Tensor) and value.dim() == 0:
            continue
        elif value is None:
            out[key] = None
        else:
            raise ValueError(f"cannot select rows of batch field {key!r} ({type(value).__name__})")
    return out


def _pad_rows(tensors: list[torch.Tensor], value: float, side: str) -> torch.Tensor:
    """Stack the rows of padded batches into one, as TRL's ``pad`` over the rows: every dimension after the
    row's first widened to the largest; the first one padded on ``side``, the others on the right."""
    if tensors[0].dim() < 2:
        return torch.cat(tensors)
    parts = [t for t in tensors if t.size(0)]  # a part without rows widens nothing
    shape = [max(t.size(d) for t in parts or tensors) for d in range(1, tensors[0].dim())]
    out = torch.full((sum(t.size(0) for t in parts), *shape), value, dtype=tensors[0].dtype,
                     device=tensors[0].device)
    start = 0
    for t in parts:
        seq = slice(shape[0] - t.size(1), shape[0]) if side == "left" else slice(0, t.size(1))
        out[(slice(start, start + t.size(0)), seq, *(slice(0, s) for s in t.shape[2:]))] = t
        start += t.size(0)
    return out


def concat_batches(batches: Sequence[dict], pad_token_id: int) -> dict:
    """Concatenate row-selected batches of different rounds, re-padding prompt (left) and completion (right)."""
    if len(batches) == 1:
        return dict(batches[0])
    out = {}
    for key in batches[0]:
        values = [b[key] for b in batches]
        first = values[0]
        if first is None:
            out[key] = None
        elif key in LEFT_PADDED:
            out[key] = _pad_rows(values, pad_token_id if key == "prompt_ids" else 0, "left")
        elif key in RIGHT_PADDED:
            fill = {"completion_ids": pad_token_id, "tool_mask": 1}.get(key, 0)
            out[key] = _pad_rows(values, fill, "right")
        elif key in PROMPT_COMPLETION:
            widths = [b["prompt_ids"].size(1) for b in batches]
            prompt_part = _pad_rows([v[:, :w] for v, w in zip(values, widths, strict=True)], 0, "left")
            completion_part = _pad_rows([v[:, w:] for v, w in zip(values, widths, strict=True)], 0, "right")
            out[key] = torch.cat([prompt_part, completion_part], dim=1)
        elif isinstance(first, list):
            out[key] = [x for v in values for x in v]
        elif isinstance(first, torch.Tensor):
            out[key] = torch.cat(values, dim=0)
        else:
            raise ValueError(f"cannot concatenate batch field {key!r} ({type(first).__name__})")
    return out


class RoundPages:
    """Consecutive global generation batches (``P`` prompts × ``G`` repeats, group-contiguous) paged out of one
    epoch's index order after another; rank ``r`` reads ``[r·L, (r+1)·L)`` of each. The position (epoch,
    round) is checkpointed. Subclasses give the order of an epoch (:meth:`order_for_epoch`)."""

    def __init__(self, num_generations: int, prompts_per_round: int) -> None:
        self.num_generations, self.prompts_per_round = num_generations, prompts_per_round
        self.width = prompts_per_round * num_generations
        self.epoch, self.round = 0, 0
        self._order: list[int] | None = None

    def order_for_epoch(self, epoch: int) -> list[int]:
        raise NotImplementedError

    def next_round(self) -> list[int]:
        if self._order is None:
            self._order = self.order_for_epoch(self.epoch)
        if (self.round + 1) * self.width > len(self._order):  # the epoch's tail is shorter than a round
            self.epoch, self.round, self._order = self.epoch + 1, 0, None
            return self.next_round()
        indices = self._order[self.round * self.width : (self.round + 1) * self.width]
        self.round += 1
        return indices

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "round": self.round}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.round, self._order = int(state["epoch"]), int(state["round"]), None


class RefillSource(RoundPages):
    """Prompts for refill rounds: the train set in TRL's ``RepeatSampler`` order under seed ``seed + epoch``."""

    def __init__(self, dataset_size: int, num_generations: int, prompts_per_round: int, *, seed: int, shuffle: bool):
        if 0 < dataset_size < prompts_per_round:
            raise ValueError(
                f"refill needs at least {prompts_per_round} prompts per round but the train set has {dataset_size}"
            )
        super().__init__(num_generations, prompts_per_round)
        self.dataset_size, self.seed, self.shuffle = dataset_size, seed, shuffle

    def order_for_epoch(self, epoch: int) -> list[int]:
        # imported here so that the planner and the row helpers import without TRL
        from trl.trainer.utils import RepeatSampler

        return list(RepeatSampler(
            range(self.dataset_size), mini_repeat_count=self.num_generations, batch_size=self.prompts_per_round,
            shuffle=self.shuffle, seed=self.seed + epoch,
        ))
