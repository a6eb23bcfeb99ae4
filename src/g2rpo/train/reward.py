"""The training reward as a TRL reward function: recipe §4 through :class:`g2rpo.rewards.BatchScorer`.

:class:`TaskReward` reads each sample's ``answer``, ``problem_type`` and ``task`` dataset columns (TRL passes
every dataset column to a reward function as a keyword argument) and returns the ``overall`` reward. It is a
plain TRL reward function — ``GRPOTrainer(reward_funcs=TaskReward(...))`` works — and
:class:`~g2rpo.train.trainer.G2RPOTrainer` calls :meth:`TaskReward.components` to keep every component.

Every scored batch logs ``reward/timeouts`` and ``reward/failures`` (items cut at a time limit or the batch
budget; items that could not be scored because of worker faults) through TRL's ``log_metric`` hook, which
logging backends show as ``train/reward/timeouts`` and ``train/reward/failures``. A batch in which no item
could be scored raises :class:`~g2rpo.rewards.RewardInfrastructureError`: training on it would train on zeros.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from g2rpo.data.options import read_options
from g2rpo.rewards import BatchScorer, RewardInfrastructureError
from g2rpo.train.rollouts import COMPONENTS, problem_type_codes
from g2rpo.train.shaping import EnvelopeTable

LogMetric = Callable[[str, float], None]
"""TRL's ``log_metric(name, value)`` (``GRPOTrainer._log_metric``): averaged over the logging window."""


@dataclass(frozen=True)
class ScoredBatch:
    """The rewards of one process's responses, as the reward function returns them. ``components`` (N, 5) in
    :data:`COMPONENTS` order; ``timed_out`` and ``failed`` (N,) bool. The trainer turns them into a
    :class:`~g2rpo.train.rollouts.Rollouts` with the rows' codes and group ids."""

    components: torch.Tensor
    lengths: torch.Tensor
    timed_out: torch.Tensor
    failed: torch.Tensor


def build_scorer(config: object) -> BatchScorer:
    """The reward :class:`~g2rpo.rewards.BatchScorer` of a :class:`~g2rpo.train.config.G2RPOConfig`
    (``scorer_workers``, ``scorer_timeout_s``, ``reward_batch_budget_s``, ``reward_rules``)."""
    budget = getattr(config, "reward_batch_budget_s", None)
    if budget is not None and not (isinstance(budget, int | float) and math.isfinite(budget) and budget > 0):
        raise ValueError(f"reward_batch_budget_s={budget!r} must be a number of seconds > 0, or null (no budget)")
    return BatchScorer(
        max_workers=getattr(config, "scorer_workers", None),
        timeout_s=getattr(config, "scorer_timeout_s", 5.0),
        batch_budget_s=budget,
        rules=getattr(config, "reward_rules", "g2rpo"),
    )


def completion_text(completion: object) -> str:
    """A TRL completion (a string, or a conversational list of messages) as plain text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        content = completion[-1].get("content", "")
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)
    return ""


def multiple_choice_options(column: object) -> dict | None:
    """Verifier options for a sample's ``options`` column (``"A. text"`` lines, ``g2rpo.data.options``):
    ``{"choices": {letter: text}}``, or ``None`` without options."""
    options = read_options(column)
    return {"choices": options} if options else None


class TaskReward:
    """Reward function ``(prompts, completions, completion_ids, answer, problem_type, task, …) -> [overall]``.

    Args:
        scorer: the batch scorer (owns the worker pool and the time limit).
        envelopes: per-family length envelopes; ``None`` or an inactive table turns length shaping off.
        length_unit: ``"tokens"`` (``len(completion_ids[i])``) or ``"characters"`` (``len(text)``).
        think_tag, format_weight, length_weight: recipe §4 (``w_f``, ``w_ℓ``).
        rules: the reward rule set (``reward_rules``); ``None`` → the scorer's own.
        log_metric: where ``reward/timeouts`` and ``reward/failures`` go when a call brings none (TRL passes
            its own to ``__call__``; a trainer calling :meth:`components` passes ``GRPOTrainer._log_metric``).
    """

    __name__ = "g2rpo_reward"

    def __init__(
        self,
        scorer: BatchScorer,
        *,
        envelopes: EnvelopeTable | None = None,
        length_unit: str = "tokens",
        think_tag: str = "thinking",
        format_weight: float = 0.1,
        length_weight: float = 0.0,
        rules: str | None = None,
        log_metric: LogMetric | None = None,
    ) -> None:
        if length_unit not in ("tokens", "characters"):
            raise ValueError(f"length_unit must be tokens or characters, got {length_unit!r}")
        self.scorer = scorer
        self.envelopes = envelopes
        self.length_unit = length_unit
        self.think_tag = think_tag
        self.format_weight = format_weight
        self.length_weight = length_weight if envelopes is not None and envelopes.active else 0.0
        self.rules = rules
        self.log_metric = log_metric

    def lengths(self, texts: Sequence[str], completion_ids: Sequence[Sequence[int]] | None) -> torch.Tensor:
        if self.length_unit == "characters" or completion_ids is None:
            return torch.tensor([len(t) for t in texts], dtype=torch.float32)
        return torch.tensor([len(ids) for ids in completion_ids], dtype=torch.float32)

    def components(
        self,
        completions: Sequence[object],
        completion_ids: Sequence[Sequence[int]] | None,
        answer: Sequence[object],
        problem_type: Sequence[str],
        task: Sequence[str],
        options: Sequence[object] | None = None,
        lengths: torch.Tensor | None = None,
        log_metric: LogMetric | None = None,
    ) -> ScoredBatch:
        """Score a batch and keep every component (the trainer's entry point).

        ``problem_type`` holds canonical names (``g2rpo.data`` canonicalises them when it loads the data).

        Raises:
            ValueError: a problem type is not canonical (naming its row).
            RewardInfrastructureError: no item of a non-empty batch could be scored (worker faults).
        """
        problem_type_codes(problem_type, "reward batch")
        texts = [completion_text(c) for c in completions]
        if lengths is None:
            lengths = self.lengths(texts, completion_ids)
        shaping = self.length_weight > 0
        envelopes = [self.envelopes.get(t) for t in task] if shaping else None
        verifier_options = None
        if options is not None:
            parsed: dict[tuple, dict | None] = {}  # a prompt's G rollouts share one column: read it once
            verifier_options = []
            for column, kind in zip(options, problem_type, strict=True):
                key = tuple(column or ())
                if kind == "multiple choice" and key not in parsed:
                    parsed[key] = multiple_choice_options(column)
                verifier_options.append(parsed[key] if kind == "multiple choice" else None)
        scored = self.scorer.score(
            texts,
            list(answer),
            list(problem_type),
            tasks=list(task),
            lengths=lengths.tolist() if shaping else None,
            envelopes=envelopes,
            think_tag=self.think_tag,
            format_weight=self.format_weight,
            length_weight=self.length_weight,
            verifier_options=verifier_options,
            rules=self.rules,
        )
        log = log_metric or self.log_metric
        if log is not None:
            log("reward/timeouts", float(scored.n_timeouts))
            log("reward/failures", float(scored.n_failures))
        if texts and scored.n_failures == len(texts):
            raise RewardInfrastructureError(
                f"none of the {len(texts)} responses of this batch could be scored (reward worker faults; see "
                "the warnings above): stopping rather than training on zero rewards. Check memory limits (an "
                "OOM killer ending workers) or set scorer_workers: 1 to score in the training process"
            )
        rows = [[getattr(b, name) for name in COMPONENTS] for b in scored.breakdowns]
        return ScoredBatch(
            components=torch.tensor(rows, dtype=torch.float32).reshape(len(texts), len(COMPONENTS)),
            lengths=lengths,
            timed_out=torch.tensor(scored.timed_out, dtype=torch.bool),
            failed=torch.tensor(scored.failed, dtype=torch.bool),
        )

    def __call__(self, prompts, completions, completion_ids=None, *, answer, problem_type, task, **kwargs):
        scored = self.components(
            completions,
            completion_ids,
            answer,
            problem_type,
            task,
            kwargs.get("options"),
            log_metric=kwargs.get("log_metric"),
        )
        return scored.components[:, COMPONENTS.index("overall")].tolist()
