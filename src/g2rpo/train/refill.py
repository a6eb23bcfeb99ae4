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
from trl.trainer.utils import RepeatSampler, pad

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


def plan_selection(keeps: Sequence[torch.Tensor], world_size: int, local_size: int) -> tuple[list[Selection], bool]:
    """Every rank's rows after ``len(keeps)`` rounds, and whether every rank is full.

    Args:
        keeps: per round, the gathered keep mask (W·L,) bool.
        world_size: W.  local_size: L rows per rank per round.
    Returns:
        ``(selections, full)``; a rank short of ``L`` kept rows is topped up with dropped rows (earliest
        first) counted in ``Selection.n_padding``.
    """
    selections, full = [], True
    for rank in range(world_size):
        lo = rank * local_size
        kept = [(k, i) for k, keep in enumerate(keeps) for i in range(local_size) if bool(keep[lo + i])]
        rows = kept[:local_size]
        n_padding = local_size - len(rows)
        if n_padding:
            full = False
            dropped = [(k, i) for k, keep in enumerate(keeps) for i in range(local_size) if not bool(keep[lo + i])]
            rows += dropped[:n_padding]
        selections.append(Selection(rows=rows, n_padding=n_padding))
    return selections, full


def select_rows(batch: dict, rows: Sequence[int]) -> dict:
    """Rows ``rows`` of a split TRL batch (tensors along dim 0, per-row lists); 0-d tensors are dropped."""
    n = len(batch["prompt_ids"])
    index = torch.as_tensor(list(rows), dtype=torch.long)
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == n:
            out[key] = value[index.to(value.device)]
        elif isinstance(value, list) and len(value) == n:
            out[key] = [value[i] for i in rows]
        elif isinstance(value, torch.Tensor) and value.dim() == 0:
            continue
        elif value is None:
            out[key] = None
        else:
            raise ValueError(f"cannot select rows of batch field {key!r} ({type(value).__name__})")
    return out


def _pad_rows(tensors: list[torch.Tensor], value: float, side: str) -> torch.Tensor:
    rows = [row for t in tensors for row in t]
    return pad(rows, padding_value=value, padding_side=side)


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


class RefillSource:
    """Prompts for refill rounds: the train set in TRL's ``RepeatSampler`` order under seed ``seed + epoch``.

    Each call to :meth:`next_round` returns one global generation batch of dataset indices (``P`` prompts ×
    ``G`` repeats, group-contiguous); rank ``r`` reads ``[r·L, (r+1)·L)``. Its position is checkpointed.
    """

    def __init__(self, dataset_size: int, num_generations: int, prompts_per_round: int, *, seed: int, shuffle: bool):
        if 0 < dataset_size < prompts_per_round:
            raise ValueError(
                f"refill needs at least {prompts_per_round} prompts per round but the train set has {dataset_size}"
            )
        self.dataset_size, self.num_generations = dataset_size, num_generations
        self.prompts_per_round, self.seed, self.shuffle = prompts_per_round, seed, shuffle
        self.epoch, self.round = 0, 0
        self._order: list[int] | None = None

    def _epoch_order(self) -> list[int]:
        if self._order is None:
            sampler = RepeatSampler(
                range(self.dataset_size),
                mini_repeat_count=self.num_generations,
                batch_size=self.prompts_per_round,
                shuffle=self.shuffle,
                seed=self.seed + self.epoch,
            )
            self._order = list(sampler)
        return self._order

    def next_round(self) -> list[int]:
        width = self.prompts_per_round * self.num_generations
        order = self._epoch_order()
        if (self.round + 1) * width > len(order):
            self.epoch, self.round, self._order = self.epoch + 1, 0, None
            order = self._epoch_order()
        indices = order[self.round * width : (self.round + 1) * width]
        self.round += 1
        return indices

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "round": self.round}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.round, self._order = int(state["epoch"]), int(state["round"]), None
