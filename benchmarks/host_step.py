"""The host-side bookkeeping of one ``G2RPOTrainer`` step at paper scale, without a model.

Used by ``bench_trainer.py`` (time per step, before vs after, side by side) and by
``tests/test_train_host_step.py`` (identical advantages, selections, batches and metrics).

- :func:`fake_rounds` stands in for TRL's generation rounds: gathered reward components, response lengths,
  task families and problem types for ``W·L`` rows in groups of ``G`` (a fraction ``drop`` of the groups all
  right or all wrong, so dynamic filtering drops them), and one rank's split TRL batch of ``L`` rows.
- :class:`HostStepTrainer` is ``G2RPOTrainer`` built without ``__init__`` (no model, no TRL setup) whose
  ``_score_round`` serves those rounds as :class:`~g2rpo.train.rollouts.Rollouts`; everything after it — keep
  masks, refill planning, advantages (``g2rpo.train.step.run_step``), the rank's batch, logged advantages and
  step metrics — is the trainer's own code.
- :class:`BeforeHostStepTrainer` is the same with the step's bookkeeping as it was before it was vectorised
  (per-row Python, strings as task ids, planning re-run over every round after each refill, the gathered
  scores as :class:`GatheredScores`), copied unchanged below: the benchmark's baseline and the tests' slow
  reference.
"""

from __future__ import annotations

import copy
import logging
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import torch
from trl.trainer.utils import pad, unsplit_pixel_values_by_grid

from g2rpo.algo import filter_groups, make_estimator
from g2rpo.tasks import PROBLEM_TYPES
from g2rpo.train.refill import (
    LEFT_PADDED,
    PROMPT_COMPLETION,
    RIGHT_PADDED,
    RefillSource,
    Selection,
)
from g2rpo.train.reward import COMPONENTS
from g2rpo.train.rollouts import Rollouts
from g2rpo.train.shaping import EnvelopeTable
from g2rpo.train.trainer import FAMILIES, G2RPOTrainer

logger = logging.getLogger("g2rpo.train.trainer")


@dataclass(frozen=True)
class GatheredScores:
    """One round's rewards gathered over ranks, in TRL's gathered row order (N rows): the record before
    :class:`~g2rpo.train.rollouts.Rollouts`, as the code before vectorisation reads it."""

    components: torch.Tensor  # (N, 5) in COMPONENTS order
    tokens: torch.Tensor  # (N,) response length in tokens
    families: list[str]
    problem_types: list[str]
    timed_out: torch.Tensor  # (N,) bool

    @property
    def accuracy(self) -> torch.Tensor:
        return self.components[:, COMPONENTS.index("accuracy")]

    @property
    def overall(self) -> torch.Tensor:
        return self.components[:, COMPONENTS.index("overall")]


@dataclass(frozen=True)
class FakeRound:
    """One generation round: this rank's split TRL batch (L rows) and the gathered rows (N = W·L), as the
    trainer's :class:`~g2rpo.train.rollouts.Rollouts` and as the old :class:`GatheredScores`."""

    batch: dict
    rollouts: Rollouts
    scores: GatheredScores


def fake_rounds(n_rounds: int, *, world: int, local_size: int, group_size: int, drop: float, seed: int,
                prompt_width: int = 48, completion_width: int = 96) -> list[FakeRound]:
    """``n_rounds`` synthetic rounds; a group is all wrong or all right with probability ``drop`` (half each)."""
    gen = torch.Generator().manual_seed(seed)
    n = world * local_size
    n_groups = n // group_size
    out = []
    for _ in range(n_rounds):
        family = torch.randint(len(FAMILIES), (n_groups,), generator=gen).repeat_interleave(group_size)
        ptype = torch.randint(len(PROBLEM_TYPES), (n_groups,), generator=gen).repeat_interleave(group_size)
        kind = torch.rand(n_groups, generator=gen).repeat_interleave(group_size)
        accuracy = (torch.rand(n, generator=gen) < 0.5).float()
        graded = family == FAMILIES.index("spatial_grounding")  # IoU-like partial credit
        accuracy = torch.where(graded, torch.rand(n, generator=gen).mul(8).round().div(8), accuracy)
        accuracy = torch.where(kind < drop / 2, 0.0, torch.where(kind < drop, 1.0, accuracy))
        fmt = (torch.rand(n, generator=gen) < 0.9).float()
        structure = (torch.rand(n, generator=gen) < 0.8).float()
        length = torch.rand(n, generator=gen).mul(4).round().div(4)
        overall = accuracy + 0.1 * fmt + 0.05 * structure + 0.1 * length
        components = torch.stack([accuracy, fmt, structure, length, overall], 1)
        assert components.shape[1] == len(COMPONENTS)
        tokens = torch.randint(16, 2048, (n,), generator=gen)
        timed_out = torch.rand(n, generator=gen) < 0.002
        scores = GatheredScores(
            components=components,
            tokens=tokens.float(),
            families=[FAMILIES[c] for c in family.tolist()],
            problem_types=[PROBLEM_TYPES[c] for c in ptype.tolist()],
            timed_out=timed_out,
        )
        rollouts = Rollouts(components=components, tokens=tokens, families=family, problem_types=ptype,
                            timed_out=timed_out, failed=torch.zeros(n, dtype=torch.bool),
                            group_ids=torch.arange(n) // group_size)
        p = int(torch.randint(prompt_width // 2, prompt_width + 1, (), generator=gen))
        c = int(torch.randint(completion_width // 2, completion_width + 1, (), generator=gen))
        prompt_len = torch.randint(1, p + 1, (local_size, 1), generator=gen)
        completion_len = torch.randint(1, c + 1, (local_size, 1), generator=gen)
        prompt_mask = (torch.arange(p) >= p - prompt_len).long()
        completion_mask = (torch.arange(c) < completion_len).long()
        batch = {
            "prompt_ids": torch.randint(1, 1000, (local_size, p), generator=gen) * prompt_mask,
            "prompt_mask": prompt_mask,
            "completion_ids": torch.randint(1, 1000, (local_size, c), generator=gen) * completion_mask,
            "completion_mask": completion_mask,
            "old_per_token_logps": -torch.rand(local_size, c, generator=gen) * completion_mask,
            "mm_token_type_ids": torch.cat([prompt_mask, torch.zeros(local_size, c, dtype=torch.long)], 1),
            "num_images": [1] * local_size,
            "advantages": torch.zeros(local_size),
            "num_items_in_batch": completion_mask.sum(),
        }
        out.append(FakeRound(batch=batch, rollouts=rollouts, scores=scores))
    return out


class _Accelerator:
    """One rank of ``W``: every rank computes every rank's plan, so one rank's host work is the step's."""

    def __init__(self, world: int, rank: int) -> None:
        self.num_processes, self.process_index, self.device = world, rank, torch.device("cpu")

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.reshape(-1)


class HostStepTrainer(G2RPOTrainer):
    """``G2RPOTrainer``'s step bookkeeping over :func:`fake_rounds` (build with :meth:`build`, run with :meth:`step`)."""

    @classmethod
    def build(cls, rounds: Sequence[FakeRound], *, world: int, rank: int = 0, group_size: int = 8,
              estimator: str = "g2rpo", advantage_key: str = "task", max_refill_tries: int = 20,
              dynamic_filtering: bool = True, length_shaping: str = "fixed") -> HostStepTrainer:
        self = cls.__new__(cls)
        local_size = len(rounds[0].batch["prompt_ids"])
        self.args = SimpleNamespace(dynamic_filtering=dynamic_filtering, filter_low=0.01, filter_high=0.99,
                                    max_refill_tries=max_refill_tries, advantage_key=advantage_key)
        self.model = SimpleNamespace(training=True)
        self.num_generations = self.num_generations_eval = group_size
        self.accelerator = _Accelerator(world, rank)
        self._tokenizer = SimpleNamespace(pad_token_id=0)
        self.estimator = make_estimator(estimator)
        self.envelope_table = EnvelopeTable(length_shaping, None, {})
        prompts_per_round = world * local_size // group_size
        self.train_dataset = range(4 * prompts_per_round)
        self.refill_source = RefillSource(len(self.train_dataset), group_size, prompts_per_round, seed=1,
                                          shuffle=True)
        self._fake, self._local_size = list(rounds), local_size
        self.reset()
        return self

    def reset(self) -> None:
        """Start a step afresh: the first fake round next, empty metrics and logs, refill order from the start."""
        self._next = 0
        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._logs = {"advantages": deque(maxlen=len(self._fake[0].scores.families))}
        self.refill_source.epoch = self.refill_source.round = 0  # keeps its cached epoch order

    def _serve(self) -> FakeRound:
        if self._next >= len(self._fake):
            raise IndexError(f"the step asked for fake round {self._next + 1} of {len(self._fake)}; build more")
        served = self._fake[self._next]
        self._next += 1
        self._logs["advantages"].extend([0.0] * len(served.scores.families))  # TRL logs its own first
        return served

    def _score_round(self, inputs):
        served = self._serve()
        return served.batch, served.rollouts

    def step(self) -> dict:
        """One step's bookkeeping from the first fake round; returns the rank's training batch."""
        self.reset()
        return self._generate_and_score_completions(list(range(self._local_size)))


# ---- the bookkeeping before vectorisation, unchanged ------------------------------------------------------------
def plan_selection_before(keeps: Sequence[torch.Tensor], world_size: int, local_size: int) -> tuple[list[Selection], bool]:
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


def select_rows_before(batch: dict, rows: Sequence[int]) -> dict:
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


def _pad_rows_before(tensors: list[torch.Tensor], value: float, side: str) -> torch.Tensor:
    rows = [row for t in tensors for row in t]
    return pad(rows, padding_value=value, padding_side=side)


def concat_batches_before(batches: Sequence[dict], pad_token_id: int) -> dict:
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
            out[key] = _pad_rows_before(values, pad_token_id if key == "prompt_ids" else 0, "left")
        elif key in RIGHT_PADDED:
            fill = {"completion_ids": pad_token_id, "tool_mask": 1}.get(key, 0)
            out[key] = _pad_rows_before(values, fill, "right")
        elif key in PROMPT_COMPLETION:
            widths = [b["prompt_ids"].size(1) for b in batches]
            prompt_part = _pad_rows_before([v[:, :w] for v, w in zip(values, widths, strict=True)], 0, "left")
            completion_part = _pad_rows_before([v[:, w:] for v, w in zip(values, widths, strict=True)], 0, "right")
            out[key] = torch.cat([prompt_part, completion_part], dim=1)
        elif isinstance(first, list):
            out[key] = [x for v in values for x in v]
        elif isinstance(first, torch.Tensor):
            out[key] = torch.cat(values, dim=0)
        else:
            raise ValueError(f"cannot concatenate batch field {key!r} ({type(first).__name__})")
    return out


def task_metrics_before(families: Sequence[str], components: torch.Tensor, token_lengths: torch.Tensor) -> dict[str, float]:
    """Per-family reward, accuracy and length statistics of every response generated this step (all rounds,
    gathered over ranks: what the policy does, before filtering).

    Args:
        families: (N,) task family of every row.
        components: (N, 5) reward components in :data:`~g2rpo.train.reward.COMPONENTS` order.
        token_lengths: (N,) response lengths in tokens.
    """
    out: dict[str, float] = {}
    for family in sorted(set(families)):
        rows = torch.tensor([f == family for f in families], dtype=torch.bool)
        comp, lengths = components[rows].double(), token_lengths[rows].double()
        out[f"{family}/reward"] = comp[:, COMPONENTS.index("overall")].mean().item()
        for name in COMPONENTS[:-1]:
            out[f"{family}/reward/{name}"] = comp[:, COMPONENTS.index(name)].mean().item()
        out[f"{family}/accuracy"] = comp[:, COMPONENTS.index("accuracy")].mean().item()
        out[f"{family}/length/mean"] = lengths.mean().item()
        out[f"{family}/length/p90"] = torch.quantile(lengths, 0.9).item()
        out[f"{family}/count"] = float(rows.sum())
    return out


def advantage_metrics_before(families: Sequence[str], advantages: torch.Tensor) -> dict[str, float]:
    """Per-family ``advantage/mean|std|min|max`` of the rows the update trains on (after filtering)."""
    out: dict[str, float] = {}
    for family in sorted(set(families)):
        adv = advantages[torch.tensor([f == family for f in families], dtype=torch.bool)].double()
        out[f"{family}/advantage/mean"] = adv.mean().item()
        out[f"{family}/advantage/std"] = adv.std(unbiased=False).item()
        out[f"{family}/advantage/min"] = adv.min().item()
        out[f"{family}/advantage/max"] = adv.max().item()
    return out


def filter_metrics_before(families: Sequence[str], kept: torch.Tensor) -> dict[str, float]:
    """``<task>/fraction_filtered`` over every response generated this step (all rounds), and the total."""
    out = {"filter/fraction_filtered": 1.0 - kept.double().mean().item() if kept.numel() else 0.0}
    for family in sorted(set(families)):
        rows = torch.tensor([f == family for f in families], dtype=torch.bool)
        out[f"{family}/fraction_filtered"] = 1.0 - kept[rows].double().mean().item()
    return out


class BeforeHostStepTrainer(HostStepTrainer):
    """The step's bookkeeping before vectorisation (the baseline)."""

    def _score_round(self, inputs):
        served = self._serve()
        return served.batch, served.scores

    def _keep(self, scores: GatheredScores, group_size: int) -> torch.Tensor:
        group_ids = torch.arange(len(scores.families)) // group_size
        return filter_groups(scores.accuracy, group_ids, low=self.args.filter_low, high=self.args.filter_high)

    def _generate_and_score_completions(self, inputs):
        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        world, rank, local_size = self.accelerator.num_processes, self.accelerator.process_index, len(inputs)
        filtering = mode == "train" and self.args.dynamic_filtering
        rounds = [self._score_round(inputs)]
        keep = self._keep if filtering else (lambda s, g: torch.ones(len(s.families), dtype=torch.bool))
        keeps = [keep(rounds[0][1], group_size)]
        selections, full = plan_selection_before(keeps, world, local_size)
        while not full and len(rounds) - 1 < self.args.max_refill_tries:
            indices = self.refill_source.next_round()[rank * local_size : (rank + 1) * local_size]
            rounds.append(self._score_round([self.train_dataset[i] for i in indices]))
            keeps.append(keep(rounds[-1][1], group_size))
            selections, full = plan_selection_before(keeps, world, local_size)

        # The gathered final batch: every rank's real (unpadded) rows, rank by rank.
        final = [(k, r * local_size + i) for r, sel in enumerate(selections)
                 for k, i in sel.rows[: len(sel.rows) - sel.n_padding]]
        scores = [s for _, s in rounds]
        per_round = world * local_size // group_size
        rewards = torch.stack([scores[k].overall[j] for k, j in final]) if final else torch.zeros(0)
        group_ids = torch.tensor([k * per_round + j // group_size for k, j in final], dtype=torch.long)
        key_of = (lambda s, j: s.families[j]) if self.args.advantage_key == "task" else (lambda s, j: s.problem_types[j])
        keys = [key_of(scores[k], j) for k, j in final]
        estimator = self.estimator if mode == "train" else copy.deepcopy(self.estimator)
        advantages = estimator(rewards, group_ids, keys).float() if final else torch.zeros(0)

        mine = selections[rank]
        offset = sum(len(s.rows) - s.n_padding for s in selections[:rank])
        n_real = len(mine.rows) - mine.n_padding
        batch = self._assemble(rounds, mine.rows)
        device = self.accelerator.device
        batch["advantages"] = torch.cat([advantages[offset : offset + n_real], torch.zeros(mine.n_padding)]).to(device)
        if mine.n_padding:
            batch["completion_mask"][n_real:] = 0
        families = [scores[k].families[rank * local_size + i] for k, i in mine.rows]
        batch["task_index"] = torch.tensor([FAMILIES.index(f) for f in families], dtype=torch.long, device=device)
        loss_mask = batch["completion_mask"] * batch.get("tool_mask", 1)
        batch["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()

        self._replace_logged_advantages(scores, final, advantages)
        self._log_step(mode, scores, keeps, final, advantages, selections, full)
        return unsplit_pixel_values_by_grid(batch)

    def _assemble(self, rounds, rows: list[tuple[int, int]]) -> dict:
        runs: list[tuple[int, list[int]]] = []
        for k, i in rows:
            if runs and runs[-1][0] == k:
                runs[-1][1].append(i)
            else:
                runs.append((k, [i]))
        parts = [select_rows_before(rounds[k][0], idx) for k, idx in runs]
        return concat_batches_before(parts, self._tokenizer.pad_token_id)

    def _replace_logged_advantages(self, scores, final, advantages) -> None:
        value = {kj: a for kj, a in zip(final, advantages.tolist(), strict=True)}
        ours = [value.get((k, j), float("nan")) for k, s in enumerate(scores) for j in range(len(s.families))]
        logged = self._logs["advantages"]
        n = min(len(logged), len(ours))
        for _ in range(n):
            logged.pop()
        logged.extend(ours[len(ours) - n :])

    def _log_step(self, mode, scores, keeps, final, advantages, selections, full) -> None:
        metrics = self._metrics[mode]
        all_families = [f for s in scores for f in s.families]
        everything = task_metrics_before(
            all_families,
            torch.cat([s.components for s in scores]),
            torch.cat([s.tokens for s in scores]),
        )
        trained = advantage_metrics_before([scores[k].families[j] for k, j in final], advantages) if final else {}
        for key, value in {**everything, **trained}.items():
            metrics[key].append(value)
        for key, value in filter_metrics_before(all_families, torch.cat(keeps)).items():
            metrics[key].append(value)
        n_padding = sum(s.n_padding for s in selections)
        metrics["filter/tries"].append(float(len(scores) - 1))
        metrics["filter/partial_batch"].append(float(not full))
        metrics["filter/padding_fraction"].append(n_padding / sum(len(s.rows) for s in selections))
        metrics["scorer/timeouts"].append(float(sum(int(s.timed_out.sum()) for s in scores)))
        if self.envelope_table.active:
            for family in sorted(set(all_families)):
                for name, v in zip("abcd", self.envelope_table.envelopes[family].as_list(), strict=True):
                    metrics[f"{family}/envelope/{name}"].append(v)
        if not full:
            logger.warning(
                "dynamic filtering: batch still short after %d refill tries; %d of %d rows are padding (masked out "
                "of the loss). Raise max_refill_tries or widen filter_low/filter_high.",
                len(scores) - 1, n_padding, sum(len(s.rows) for s in selections),
            )
