"""Scoring many responses at once: a warm process pool with a hard per-item time limit.

Training scores ``N = B·G`` responses every step. :class:`BatchScorer` sends each item to a pool of worker
processes (pebble's ``ProcessPool``); an item that runs past ``timeout_s`` has its worker killed and
replaced, scores accuracy 0, is counted in ``n_timeouts`` and logged, and never stalls the rest of the batch.
Workers are started once, warmed (every built-in verifier runs once in each, so imports and math-verify's
grammar are loaded before any item's clock starts) and kept across calls.

Fork safety: the trainer's process has torch (OpenMP/CUDA threads) loaded, and forking such a process can
deadlock the child; workers are therefore started with ``spawn`` (default) or ``forkserver``, and never
import torch themselves (the length term, which needs ``g2rpo.algo``, is computed in the parent).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pebble import ProcessPool

from g2rpo.rewards.compose import (
    RewardBreakdown,
    check_weights,
    compose,
    gold_text,
    length_component,
    resolve_envelope,
    score_components,
)
from g2rpo.rewards.errors import VerifierConfigError
from g2rpo.rewards.format import check_think_tag, format_score
from g2rpo.rewards.registry import VERIFIERS, Verifier, get_verifier

if TYPE_CHECKING:
    from g2rpo.algo import Envelope

logger = logging.getLogger(__name__)

START_METHODS: tuple[str, ...] = ("spawn", "forkserver")


@dataclass(frozen=True)
class BatchScore:
    """The rewards of one batch, in input order; ``timed_out[i]`` marks items cut at the time limit."""

    breakdowns: list[RewardBreakdown]
    timed_out: list[bool]


def _score_item(
    response: str, gold: str, verifier: Verifier, think_tag: str, strict: bool, options: Mapping[str, object]
) -> tuple[float, float, float]:
    return score_components(response, gold, verifier, think_tag=think_tag, strict=strict, options=options)


_WARM_UP = {
    "multiple choice": ("<answer>(B) dog</answer>", "B"),
    "numerical": ("<answer>1,234.5 cm</answer>", "1234.5"),
    "regression": ("<answer>3.2</answer>", "3"),
    "math": ("<answer>$\\frac{1}{2}$</answer>", "0.5"),
    "ocr": ("<answer>hello world</answer>", "hello world"),
    "spatial grounding": ('<answer>{"boxes": [1, 2, 3, 4]}</answer>', '{"boxes": [1, 2, 3, 4]}'),
    "open-ended": ("<answer>a running cat</answer>", "the cat runs"),
}


def _warm_worker() -> None:
    """Pool initializer: load every built-in verifier's dependencies before the worker takes items."""
    for name, (response, gold) in _WARM_UP.items():
        score_components(response, gold, VERIFIERS[name])


def _per_item(values: Sequence | None, n: int, name: str) -> Sequence:
    if values is None:
        return [None] * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but there are {n} responses")
    return values


class BatchScorer:
    """Score many responses with :func:`~g2rpo.rewards.score_response`'s rule, in parallel and time-limited.

    Args:
        max_workers: worker processes; ``None`` → the CPUs this process may use; ``0`` → score sequentially
            in this process (debugging; no time limit there).
        timeout_s: per-item limit on the verifier work (format, extraction, structure, accuracy).
        strict: a response without an ``<answer>`` block scores accuracy 0 (recipe §4, choice).
        start_method: ``"spawn"`` (default) or ``"forkserver"``; ``fork`` is refused (see module docstring).

    Use as a context manager, or call :meth:`close`. ``n_timeouts`` / ``n_errors`` count cut items and items
    whose worker died, over the scorer's life.
    """

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        timeout_s: float = 5.0,
        strict: bool = False,
        start_method: str = "spawn",
    ) -> None:
        if max_workers is None:
            max_workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if max_workers < 0:
            raise ValueError(f"max_workers must be >= 0 (0 = sequential), got {max_workers}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if start_method not in START_METHODS:
            raise ValueError(f"unknown start_method {start_method!r}; valid: {', '.join(START_METHODS)}")
        self.max_workers = max_workers
        self.timeout_s = float(timeout_s)
        self.strict = strict
        self.n_timeouts = 0
        self.n_errors = 0
        self._pool: ProcessPool | None = None
        if max_workers > 0:
            self._pool = ProcessPool(
                max_workers=max_workers,
                initializer=_warm_worker,
                context=multiprocessing.get_context(start_method),
            )
            self._finalizer = weakref.finalize(self, self._pool.stop)

    def score(
        self,
        responses: Sequence[str],
        answers: Sequence[object],
        problem_types: Sequence[str],
        *,
        tasks: Sequence[str | None] | None = None,
        lengths: Sequence[float | None] | None = None,
        envelopes: Sequence[Envelope | None] | None = None,
        think_tag: str = "thinking",
        format_weight: float = 0.1,
        length_weight: float = 0.0,
        verifier_options: Sequence[Mapping[str, object] | None] | None = None,
    ) -> BatchScore:
        """Rewards of ``responses[i]`` against ``answers[i]`` under ``problem_types[i]``, in input order.

        ``tasks``, ``lengths``, ``envelopes`` and ``verifier_options`` are per item (``None`` entries allowed),
        with the meaning they have in :func:`~g2rpo.rewards.score_response`. Bad arguments (unknown problem
        type or task, mismatched lengths, bad weights) raise before any work starts.
        """
        n = len(responses)
        answers = _per_item(answers, n, "answers")
        problem_types = _per_item(problem_types, n, "problem_types")
        tasks, lengths = _per_item(tasks, n, "tasks"), _per_item(lengths, n, "lengths")
        envelopes, options = _per_item(envelopes, n, "envelopes"), _per_item(verifier_options, n, "verifier_options")
        check_weights(format_weight, length_weight)
        check_think_tag(think_tag)
        found: dict[str, Verifier] = {}
        verifiers = [found.get(p) or found.setdefault(p, get_verifier(p)) for p in problem_types]
        opts = [dict(o or {}) for o in options]
        for verifier, o in zip(verifiers, opts, strict=True):
            verifier.check_options(o)
        golds = [gold_text(a) for a in answers]
        ells = self._length_scores(lengths, envelopes, tasks, length_weight)

        if self._pool is None:
            parts = [
                score_components(r, g, v, think_tag=think_tag, strict=self.strict, options=o)
                for r, g, v, o in zip(responses, golds, verifiers, opts, strict=True)
            ]
            timed_out = [False] * n
        else:
            parts, timed_out = self._score_in_pool(responses, golds, verifiers, opts, think_tag, problem_types)
        breakdowns = [
            compose(a, f, s, ell, format_weight=format_weight, length_weight=length_weight)
            for (a, f, s), ell in zip(parts, ells, strict=True)
        ]
        return BatchScore(breakdowns=breakdowns, timed_out=timed_out)

    def _score_in_pool(self, responses, golds, verifiers, opts, think_tag, problem_types):
        futures = [
            self._pool.schedule(_score_item, args=(r, g, v, think_tag, self.strict, o), timeout=self.timeout_s)
            for r, g, v, o in zip(responses, golds, verifiers, opts, strict=True)
        ]
        parts: list[tuple[float, float, float]] = []
        timed_out: list[bool] = []
        for i, future in enumerate(futures):
            try:
                parts.append(future.result())
                timed_out.append(False)
                continue
            except FutureTimeout:
                self.n_timeouts += 1
                timed_out.append(True)
                logger.warning(
                    "reward item %d (problem type %r, %d characters) ran past %.1f s: worker killed, accuracy 0",
                    i, problem_types[i], len(responses[i]), self.timeout_s,
                )
            except VerifierConfigError:
                raise
            except Exception as error:  # a worker that died (ProcessExpired) or a bug in a custom verifier
                self.n_errors += 1
                timed_out.append(False)
                logger.warning("reward item %d (problem type %r) failed: %r; accuracy 0", i, problem_types[i], error)
            # No verdict on well-formedness within the limit, so structure 0; the format check is linear-time.
            parts.append((0.0, format_score(responses[i], think_tag), 0.0))
        return parts, timed_out

    @staticmethod
    def _length_scores(lengths, envelopes, tasks, length_weight) -> list[float]:
        if length_weight == 0 and all(length is None for length in lengths):
            return [0.0] * len(lengths)
        return [
            length_component(length, resolve_envelope(env, task), length_weight)
            for length, env, task in zip(lengths, envelopes, tasks, strict=True)
        ]

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        if self._pool is not None:
            self._finalizer()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> BatchScorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
