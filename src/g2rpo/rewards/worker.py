"""What a reward worker does: score items under their time limits (the task :class:`g2rpo.rewards.BatchScorer`
sends to its pool, also run in-process) and warm every verifier up (the pool initializer).

Imports no torch: workers are forked from the forkserver, which preloads :mod:`g2rpo.rewards.preload`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from g2rpo.metrics.timeouts import ScoringTimeout, signals_available, time_limit, watch_time_limits
from g2rpo.rewards.compose import score_components, score_response
from g2rpo.rewards.registry import VERIFIERS, Verifier

OK, TIMED_OUT, OVER_BUDGET, FAILED = range(4)
"""Outcome of one item: scored, cut at its time limit, not reached within the batch budget, not scorable."""

Item = tuple[str, object, Verifier, str, bool, Mapping[str, object], str]
"""``(response, gold, verifier, think_tag, strict, options, rules)``; ``gold`` is unwrapped for ``g2rpo``."""

Outcome = tuple[int, tuple[float, float, float] | None]


def _components(item: Item) -> tuple[float, float, float]:
    response, gold, verifier, think_tag, strict, options, rules = item
    if rules == "g2rpo":
        return score_components(response, gold, verifier, think_tag=think_tag, strict=strict, options=options)
    breakdown = score_response(
        response,
        gold,
        problem_type=verifier.name,
        think_tag=think_tag,
        strict=strict,
        verifier_options=options,
        rules=rules,
    )
    return breakdown.accuracy, breakdown.format, breakdown.structure


def score_item(item: Item, timeout_s: float, deadline: float | None) -> Outcome:
    """One item under ``min(timeout_s, time left before deadline)``; a limit that fires inside (ours, or the
    math verifier's own, or its refusal of a power tower) makes it a timeout, never a grade."""
    limit = timeout_s
    if deadline is not None:
        limit = min(limit, deadline - time.monotonic())
        if limit <= 0:
            return OVER_BUDGET, None
    cut = TIMED_OUT if limit == timeout_s else OVER_BUDGET
    with watch_time_limits() as log:
        try:
            if signals_available():
                with time_limit(limit):
                    parts = _components(item)
            else:  # not the main thread: only the math verifier's own limit applies
                parts = _components(item)
        except ScoringTimeout:
            return cut, None
    return (TIMED_OUT, None) if log.expired else (OK, parts)


def score_chunk(items: list[Item], timeout_s: float, deadline: float | None) -> list[Outcome]:
    """Worker task: the outcome of each item, in order (see :func:`score_item`)."""
    return [score_item(item, timeout_s, deadline) for item in items]


_WARM_UP = {
    "multiple choice": ("<answer>(B) dog</answer>", "B"),
    "numerical": ("<answer>1,234.5 cm</answer>", "1234.5"),
    "regression": ("<answer>3.2</answer>", "3"),
    "math": ("<answer>$\\frac{1}{2}$</answer>", "0.5"),
    "ocr": ("<answer>hello world</answer>", "hello world"),
    "spatial grounding": ('<answer>{"boxes": [1, 2, 3, 4]}</answer>', '{"boxes": [1, 2, 3, 4]}'),
    "open-ended": ("<answer>a running cat</answer>", "the cat runs"),
}


def warm_up() -> None:
    """Load every built-in verifier's dependencies and run each once (the pool initializer)."""
    for name, (response, gold) in _WARM_UP.items():
        score_components(response, gold, VERIFIERS[name])


