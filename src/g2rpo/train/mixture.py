"""Per-task sampling weights (``task_mixture: {family: weight}``): which prompts each training step sees.

TRL draws training prompts with its ``RepeatSampler`` (every row once per epoch, in a shuffled order). With a
mixture, each prompt of an epoch is drawn in two stages:

1. its task family ``f`` with probability ``p_f = w_f / Σ_g w_g`` (independent draws, so the number of prompts
   of family ``f`` among ``n`` is Binomial(n, p_f));
2. a row of that family, walking a fresh random permutation of the family's rows and starting a new one when
   it runs out (a small, heavily weighted family is repeated; every row of a family is seen before any repeats).

An epoch holds as many prompts as the weighted families have rows (rounded down to whole generation batches,
at least one), so ``num_train_epochs`` keeps its meaning for a mixture proportional to the family sizes. The
prompt order is a pure function of ``(seed, epoch)``: the Trainer calls :meth:`TaskMixtureSampler.set_epoch`
and, on resume, rebuilds the sampler and skips the batches already trained, so a resumed run sees exactly the
prompts of an uninterrupted one. The layout is TRL's (``trl.trainer.utils.RepeatSampler``): prompts in chunks
of ``batch_size``, each chunk repeated ``repeat_count`` times, each prompt ``mini_repeat_count`` (= G) times in
a row, so the G rollouts of a prompt form one contiguous group.

Families found in the train set but missing from the mapping get weight 0 (never drawn; a warning names them).
A family with a positive weight but no row in the train set is an error, as is an unknown family name. Refill
rounds of dynamic filtering draw from the same mixture (:class:`MixtureRefill`, its own random stream).

The realised mix is logged per step as ``train/mix/<family>``: the share of the step's sampled prompts (before
dynamic filtering) of each family of the mapping.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Sampler

from g2rpo.errors import ConfigError
from g2rpo.train.refill import RoundPages

logger = logging.getLogger(__name__)

FAMILY_COLUMN = "task"
"""Column of the training dataset holding each row's task family (``g2rpo.data.to_hf_dataset``)."""

SAMPLER_STREAM, REFILL_STREAM = 0, 1
"""Independent random streams of one seed: the training sampler's and the refill rounds'."""


def check_mixture(weights: object, valid: Sequence[str] | None = None) -> dict[str, float]:
    """``task_mixture`` validated: a mapping from known family names to finite weights >= 0, positive sum.

    Raises:
        ConfigError: naming the key, the bad entry and what is allowed.
    """
    if valid is None:
        from g2rpo.tasks import TASK_FAMILIES

        valid = list(TASK_FAMILIES)
    if not isinstance(weights, Mapping) or not weights:
        raise ConfigError(f"task_mixture must map task families to weights, e.g. {{math: 2, chart: 1}}; got {weights!r}")
    unknown = sorted(str(name) for name in weights if name not in valid)
    if unknown:
        raise ConfigError(f"task_mixture names unknown task families {unknown}; valid: {', '.join(valid)}")
    out: dict[str, float] = {}
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"task_mixture[{name}]={weight!r} must be a finite number >= 0")
        out[name] = float(weight)
    if sum(out.values()) <= 0:
        raise ConfigError(f"task_mixture weights must have a positive sum, got {out}")
    return out


def dataset_families(dataset) -> list[str]:
    """The task family of every row of a map-style dataset (its ``task`` column)."""
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise ConfigError("task_mixture samples the train set by index, which needs a map-style datasets.Dataset "
                          "(not an IterableDataset); drop task_mixture or load the data map-style")
    columns = getattr(dataset, "column_names", None)
    if columns is not None:
        if FAMILY_COLUMN not in columns:
            raise ConfigError(f"task_mixture: the train set has no {FAMILY_COLUMN!r} column (columns: {columns})")
        return [str(f) for f in dataset[FAMILY_COLUMN]]
    return [str(dataset[i][FAMILY_COLUMN]) for i in range(len(dataset))]


@dataclass(frozen=True)
class TaskMixture:
    """A mixture resolved against a train set.

    Attributes:
        weights: every family of the mapping or the data → its weight (0 for data families not in the mapping).
        rows: each family with a positive weight → its dataset row indices, in dataset order.
        probabilities: each family of ``rows`` → ``p_f = w_f / Σ w``.
    """

    weights: dict[str, float]
    rows: dict[str, list[int]]
    probabilities: dict[str, float]

    @classmethod
    def from_families(cls, row_families: Sequence[str], weights: Mapping[str, float]) -> TaskMixture:
        """Resolve ``weights`` (validated with :func:`check_mixture`) against the rows' families."""
        weights = check_mixture(weights, valid=None)
        by_family: dict[str, list[int]] = {}
        for index, family in enumerate(row_families):
            by_family.setdefault(family, []).append(index)
        missing = sorted(f for f, w in weights.items() if w > 0 and f not in by_family)
        if missing:
            raise ConfigError(f"task_mixture gives {missing} a positive weight but the train set has no rows of "
                              f"{'it' if len(missing) == 1 else 'them'} (families present: {', '.join(sorted(by_family))}); "
                              "set the weight to 0 or add the data")
        unlisted = sorted(set(by_family) - set(weights))
        if unlisted:
            count = sum(len(by_family[f]) for f in unlisted)
            logger.warning("task_mixture does not list %s: their %d train rows get weight 0 and are never sampled; "
                           "give them a weight to train on them", unlisted, count)
        resolved = {**weights, **dict.fromkeys(unlisted, 0.0)}
        rows = {f: by_family[f] for f in sorted(by_family) if resolved[f] > 0}
        total = sum(resolved[f] for f in rows)
        return cls(weights=dict(sorted(resolved.items())), rows=rows,
                   probabilities={f: resolved[f] / total for f in rows})

    @classmethod
    def from_dataset(cls, dataset, weights: Mapping[str, float]) -> TaskMixture:
        return cls.from_families(dataset_families(dataset), weights)

    @property
    def num_rows(self) -> int:
        """Rows that can be drawn (those of positively weighted families)."""
        return sum(len(r) for r in self.rows.values())

    def draw(self, n: int, rng: np.random.Generator) -> list[int]:
        """``n`` prompt indices: families by ``probabilities``, rows without replacement within each family."""
        families = list(self.rows)
        codes = rng.choice(len(families), size=n, p=[self.probabilities[f] for f in families])
        orders: dict[int, list[int]] = {}
        out = []
        for code in codes.tolist():
            order = orders.get(code)
            if not order:
                rows = self.rows[families[code]]
                order = orders[code] = [rows[i] for i in rng.permutation(len(rows)).tolist()][::-1]
            out.append(order.pop())
        return out

    def sampler(self, *, mini_repeat_count: int, batch_size: int = 1, repeat_count: int = 1,
                seed: int = 0) -> TaskMixtureSampler:
        return TaskMixtureSampler(self, mini_repeat_count=mini_repeat_count, batch_size=batch_size,
                                  repeat_count=repeat_count, seed=seed)

    def refill_source(self, num_generations: int, prompts_per_round: int, *, seed: int) -> MixtureRefill:
        return MixtureRefill(self, num_generations, prompts_per_round, seed=seed)

    def counts(self, families: Sequence[str]) -> torch.Tensor:
        """(F,) float counts of ``families`` over the families of :attr:`weights`, in that order."""
        index = {f: i for i, f in enumerate(self.weights)}
        out = torch.zeros(len(index))
        for family in families:
            if family in index:
                out[index[family]] += 1
        return out

    def mix_metrics(self, counts: torch.Tensor) -> dict[str, float]:
        """``mix/<family>`` → share of the counted prompts (``counts`` from :meth:`counts`, summed over ranks)."""
        total = float(counts.sum())
        if total == 0:
            return {}
        return {f"mix/{f}": float(c) / total for f, c in zip(self.weights, counts.tolist(), strict=True)}


class TaskMixtureSampler(Sampler[int]):
    """Dataset indices in ``RepeatSampler``'s layout, prompts drawn from a :class:`TaskMixture`.

    Args:
        mixture: the resolved mixture.
        mini_repeat_count: consecutive repeats of each prompt (G, TRL's ``num_generations``).
        batch_size: prompts per chunk (TRL: ``generation_batch_size // num_generations``).
        repeat_count: repeats of each chunk (TRL: ``num_iterations · steps_per_generation``).
        seed: with the epoch (:meth:`set_epoch`), the whole order.
    """

    def __init__(self, mixture: TaskMixture, *, mini_repeat_count: int, batch_size: int = 1, repeat_count: int = 1,
                 seed: int = 0, stream: int = SAMPLER_STREAM):
        if min(mini_repeat_count, batch_size, repeat_count) < 1:
            raise ValueError(f"mini_repeat_count, batch_size and repeat_count must be >= 1, got "
                             f"{mini_repeat_count}, {batch_size}, {repeat_count}")
        self.mixture = mixture
        self.mini_repeat_count, self.batch_size, self.repeat_count = mini_repeat_count, batch_size, repeat_count
        self.seed, self.stream, self.epoch = int(seed), stream, 0
        self.num_prompts = max(1, mixture.num_rows // batch_size) * batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def epoch_prompts(self, epoch: int | None = None) -> list[int]:
        """The ``num_prompts`` distinct draws of ``epoch`` (default: the current one), one entry per prompt."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch, self.stream])
        return self.mixture.draw(self.num_prompts, rng)

    def __iter__(self) -> Iterator[int]:
        prompts = self.epoch_prompts()
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:
        return self.num_prompts * self.mini_repeat_count * self.repeat_count


class MixtureRefill(RoundPages):
    """Refill prompts for dynamic filtering drawn from the mixture: the refill stream's epochs, paged into
    rounds exactly as :class:`~g2rpo.train.refill.RefillSource` pages TRL's order."""

    def __init__(self, mixture: TaskMixture, num_generations: int, prompts_per_round: int, *, seed: int):
        super().__init__(num_generations, prompts_per_round)
        self.sampler = TaskMixtureSampler(mixture, mini_repeat_count=num_generations, batch_size=prompts_per_round,
                                          seed=seed, stream=REFILL_STREAM)

    def order_for_epoch(self, epoch: int) -> list[int]:
        self.sampler.set_epoch(epoch)
        return list(self.sampler)
