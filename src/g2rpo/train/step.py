"""One training step's bookkeeping as a pure function: rounds of rollouts → filtered rows, advantages, metrics.

:func:`run_step` is everything ``G2RPOTrainer`` does between scoring and the update, without TRL: dynamic
filtering (recipe §7) on each gathered round, refill planning (:class:`~g2rpo.train.refill.SelectionPlanner`),
the advantage estimator on the gathered final batch (recipe §3), this rank's slice, and the step's metrics.
It pulls rounds from an iterator, so refill rounds are generated only when the plan asks for one.

Shape legend: ``W`` processes, ``L`` rows per process per round, ``G`` rollouts per prompt, ``N = W·L`` rows per
gathered round, ``K`` rounds, ``M`` trained rows (every rank's kept rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from g2rpo.algo import filter_groups
from g2rpo.train.metrics import advantage_metrics, filter_metrics, task_metrics
from g2rpo.train.refill import SelectionPlanner
from g2rpo.train.rollouts import Rollouts

ADVANTAGE_KEYS = ("problem_type", "task")


@dataclass(frozen=True)
class StepSettings:
    """What one step needs to know besides its rollouts."""

    world_size: int
    """W, processes."""
    local_size: int
    """L, rows per process per round."""
    group_size: int
    """G, rollouts per prompt."""
    filtering: bool = True
    """Dynamic filtering with refill (recipe §7); off: every row of the first round is trained on."""
    filter_low: float = 0.01
    """A group whose mean accuracy is ≤ this is dropped."""
    filter_high: float = 0.99
    """A group whose mean accuracy is ≥ this is dropped."""
    max_refill_tries: int = 0
    """Refill rounds generated at most after the first."""
    advantage_key: str = "problem_type"
    """What the estimator's task stage groups by: ``problem_type`` or ``task`` (family)."""

    def __post_init__(self) -> None:
        if self.advantage_key not in ADVANTAGE_KEYS:
            raise ValueError(f"advantage_key={self.advantage_key!r}; valid: {', '.join(ADVANTAGE_KEYS)}")


@dataclass(frozen=True)
class StepResult:
    """The step's outcome, gathered (every rank computes the same) plus this rank's slice.

    Fields:
        n_rounds: K, rounds generated (the first and the refill rounds).
        rollouts: every generated row of every round (K·N), round by round; row ``j`` of round ``k`` is ``k·N + j``.
        kept: (K·N,) bool, the filter's keep mask.
        final: (M,) int64, the trained rows (indices into ``rollouts``), rank by rank.
        advantages: (M,) float32, the estimator's advantages of ``final``.
        round_of, row_of: (L,) int64, this rank's rows as (round, local row): kept rows, then padding rows.
        rank_advantages: (L,) float32, this rank's advantages (0 on padding rows).
        n_real: this rank's kept rows (the first ``n_real`` of ``round_of``/``row_of``).
        task_index: (L,) int64 family codes of this rank's rows.
        logged_advantages: (K·N,) float64, ``advantages`` at ``final``, NaN on every row not trained on.
        full: every rank got L kept rows.
        n_padding: padding rows over all ranks.  n_rows: rows over all ranks.
        metrics: the step's metrics (``<task>/reward``, ``filter/…``, …) in logging order.
    """

    n_rounds: int
    rollouts: Rollouts
    kept: torch.Tensor
    final: torch.Tensor
    advantages: torch.Tensor
    round_of: torch.Tensor
    row_of: torch.Tensor
    rank_advantages: torch.Tensor
    n_real: int
    task_index: torch.Tensor
    logged_advantages: torch.Tensor
    full: bool
    n_padding: int
    n_rows: int
    metrics: dict[str, float]


Estimator = Callable[..., torch.Tensor]


def keep_mask(rollouts: Rollouts, settings: StepSettings) -> torch.Tensor:
    """(N,) bool: the rows of one gathered round that dynamic filtering keeps (all of them when it is off)."""
    if not settings.filtering:
        return torch.ones(len(rollouts), dtype=torch.bool)
    return filter_groups(rollouts.accuracy, rollouts.group_ids, low=settings.filter_low, high=settings.filter_high)


def run_step(rounds: Iterable[Rollouts], settings: StepSettings, estimator: Estimator, *, rank: int) -> StepResult:
    """Filter, refill, estimate: one step over gathered rounds pulled from ``rounds`` as the plan needs them.

    Args:
        rounds: gathered rounds (N rows each); the first, then one refill round per further pull.
        settings: the step's :class:`StepSettings`.
        estimator: ``(rewards (M,), group_ids (M,), keys) -> advantages (M,)``, e.g. ``make_estimator("g2rpo")``
            (stateful estimators update their state here: pass a copy to leave it unchanged).
        rank: this process.
    """
    world, local = settings.world_size, settings.local_size
    n_round = world * local
    source = iter(rounds)
    planner = SelectionPlanner(world, local)
    taken, keeps = [], []
    while True:
        record = next(source)
        if len(record) != n_round:
            raise ValueError(f"round {len(taken)} has {len(record)} rows, expected W·L = {world}·{local}")
        taken.append(record)
        keeps.append(keep_mask(record, settings))
        if planner.add(keeps[-1]) or len(taken) - 1 >= settings.max_refill_tries:
            break
    everything = Rollouts.cat(taken)
    kept = torch.cat(keeps)

    final = planner.final_rows()
    trained = everything.select(final)
    keys = trained.family_keys() if settings.advantage_key == "task" else trained.problem_type_keys()
    advantages = estimator(trained.overall, trained.group_ids, keys).float() if len(final) else torch.zeros(0)

    round_of, row_of = planner.rank_rows(rank)
    offset, n_real = int(planner.n_kept[:rank].sum()), int(planner.n_kept[rank])
    rank_advantages = torch.cat([advantages[offset : offset + n_real], torch.zeros(len(row_of) - n_real)])
    task_index = everything.families.index_select(0, round_of * n_round + rank * local + row_of)
    logged = torch.full((len(everything),), float("nan"), dtype=torch.float64)
    logged[final] = advantages.double()

    families = everything.family_keys()
    n_padding = int(planner.n_padding.sum())
    n_rows = sum(len(planner.rank_rows(r)[0]) for r in range(world))
    metrics = {
        **task_metrics(families, everything.components, everything.tokens),
        **(advantage_metrics(trained.family_keys(), advantages) if len(final) else {}),
        **filter_metrics(families, kept),
        "filter/tries": float(len(taken) - 1),
        "filter/partial_batch": float(not planner.full),
        "filter/padding_fraction": n_padding / n_rows,
        "scorer/timeouts": float(int(everything.timed_out.sum())),
    }
    return StepResult(
        n_rounds=len(taken), rollouts=everything, kept=kept, final=final, advantages=advantages,
        round_of=round_of, row_of=row_of, rank_advantages=rank_advantages, n_real=n_real, task_index=task_index, logged_advantages=logged,
        full=planner.full, n_padding=n_padding, n_rows=n_rows, metrics=metrics,
    )
