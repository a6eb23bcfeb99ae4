"""Scoring many responses at once: a warm process pool with a hard per-item time limit.

Training scores ``N = B·G`` responses every step. :class:`BatchScorer` sends them in chunks to a pool of
worker processes (pebble's ``ProcessPool``); a chunk that runs past ``timeout_s`` has its worker killed and
replaced, and its items are re-run one per task, each under ``timeout_s``. An item that runs past the limit on
its own scores accuracy 0, is counted in ``n_timeouts`` and logged, and never stalls the rest of the batch.
Workers are started once, warmed (every built-in verifier runs once in each, so imports and math-verify's
grammar are loaded before any item's clock starts) and kept across calls.

Fork safety: the trainer's process has torch (OpenMP/CUDA threads) loaded, and forking such a process can
deadlock the child; workers are therefore started with ``forkserver`` (default on Linux) or ``spawn``, and
never import torch themselves (the length term, which needs ``g2rpo.algo``, is computed in the parent). The
forkserver preloads :mod:`g2rpo.rewards.preload` (all verifier dependencies, warmed), so workers and their
replacements start warm; note that this sets the process-wide forkserver preload list if the forkserver is not
running yet.
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
    length_components,
    resolve_envelope,
    score_components,
)
from g2rpo.rewards.errors import VerifierConfigError
from g2rpo.rewards.format import check_think_tag, format_score
from g2rpo.rewards.registry import VERIFIERS, Verifier, get_verifier

if TYPE_CHECKING:
    from g2rpo.algo import Envelope

logger = logging.getLogger(__name__)

MAX_AUTO_CHUNK = 32
CHUNKS_PER_WORKER = 8
"""Automatic chunking: ``min(32, N // (8 · workers))`` items per task (≥ 1), amortising the per-task cost."""

START_METHODS: tuple[str, ...] = ("forkserver", "spawn")
"""Accepted worker start methods; the first available one is the default (``fork`` is unsafe, see above)."""


@dataclass(frozen=True)
class BatchScore:
    """The rewards of one batch, in input order; ``timed_out[i]`` marks items cut at the time limit."""

    breakdowns: list[RewardBreakdown]
    timed_out: list[bool]


_Item = tuple[str, str, Verifier, str, bool, Mapping[str, object]]


def _score_chunk(items: list[_Item]) -> list[tuple[float, float, float]]:
    """Worker task: ``(accuracy, format, structure)`` of each ``(response, gold, verifier, think_tag, strict,
    options)``."""
    return [
        score_components(response, gold, verifier, think_tag=think_tag, strict=strict, options=options)
        for response, gold, verifier, think_tag, strict, options in items
    ]


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


def _context(start_method: str) -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        # Takes effect if this process's forkserver is not running yet; it replaces the preload list.
        context.set_forkserver_preload(["g2rpo.rewards.preload"])
    return context


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
        start_method: ``"forkserver"`` (default where available: workers fork from a warm server process,
            so a replacement for a killed worker starts in milliseconds) or ``"spawn"``; ``fork`` is refused.
        chunk_size: items per pool task; ``None`` → automatic (see :data:`MAX_AUTO_CHUNK`). A chunk must
            finish within ``timeout_s``; if it does not, its worker is killed and each of its items is re-run
            alone under its own ``timeout_s``, so the per-item limit is exact and only overrunning items
            score 0.

    Use as a context manager, or call :meth:`close`. ``n_timeouts`` / ``n_errors`` count cut items and items
    whose worker died, over the scorer's life.
    """

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        timeout_s: float = 5.0,
        strict: bool = False,
        start_method: str | None = None,
        chunk_size: int | None = None,
    ) -> None:
        if max_workers is None:
            max_workers = (
                len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            )
        if max_workers < 0:
            raise ValueError(f"max_workers must be >= 0 (0 = sequential), got {max_workers}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if start_method is None:
            start_method = next(m for m in START_METHODS if m in multiprocessing.get_all_start_methods())
        if start_method not in START_METHODS:
            raise ValueError(f"unknown start_method {start_method!r}; valid: {', '.join(START_METHODS)}")
        self.max_workers = max_workers
        self.timeout_s = float(timeout_s)
        self.strict = strict
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1 (None = automatic), got {chunk_size}")
        self.chunk_size = chunk_size
        self.n_timeouts = 0
        self.n_errors = 0
        self._pool: ProcessPool | None = None
        if max_workers > 0:
            self._pool = ProcessPool(
                max_workers=max_workers,
                initializer=warm_up,
                context=_context(start_method),
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

        ``tasks``, ``lengths``, ``envelopes`` and ``verifier_options`` are per item (``None`` entries
        allowed), with the meaning they have in :func:`~g2rpo.rewards.score_response`. Bad arguments
        (unknown problem type or task, mismatched lengths, bad weights) raise before any work starts.
        """
        n = len(responses)
        answers = _per_item(answers, n, "answers")
        problem_types = _per_item(problem_types, n, "problem_types")
        tasks, lengths = _per_item(tasks, n, "tasks"), _per_item(lengths, n, "lengths")
        envelopes, options = (
            _per_item(envelopes, n, "envelopes"),
            _per_item(verifier_options, n, "verifier_options"),
        )
        check_weights(format_weight, length_weight)
        check_think_tag(think_tag)
        for i, response in enumerate(responses):
            if not isinstance(response, str):
                raise TypeError(f"responses[{i}] must be str, got {type(response).__name__}")
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
            parts, timed_out = self._score_in_pool(
                responses, golds, verifiers, opts, think_tag, problem_types
            )
        breakdowns = [
            compose(a, f, s, ell, format_weight=format_weight, length_weight=length_weight)
            for (a, f, s), ell in zip(parts, ells, strict=True)
        ]
        return BatchScore(breakdowns=breakdowns, timed_out=timed_out)

    def _chunk_size(self, n: int) -> int:
        if self.chunk_size is not None:
            return self.chunk_size
        return max(1, min(MAX_AUTO_CHUNK, n // (CHUNKS_PER_WORKER * self.max_workers)))

    def _score_in_pool(self, responses, golds, verifiers, opts, think_tag, problem_types):
        assert self._pool is not None
        n = len(responses)
        items = [
            (r, g, v, think_tag, self.strict, o)
            for r, g, v, o in zip(responses, golds, verifiers, opts, strict=True)
        ]
        parts: list[tuple[float, float, float] | None] = [None] * n
        timed_out = [False] * n

        def submit(indices: range | list[int]):
            return self._pool.schedule(
                _score_chunk, args=([items[i] for i in indices],), timeout=self.timeout_s
            )

        size = self._chunk_size(n)
        chunks = [range(start, min(start + size, n)) for start in range(0, n, size)]
        retry: list[int] = []
        for chunk, future in [(c, submit(c)) for c in chunks]:
            outcome = self._collect(future)
            if isinstance(outcome, list):
                for i, part in zip(chunk, outcome, strict=True):
                    parts[i] = part
            elif len(chunk) > 1:
                retry.extend(chunk)  # which item overran is unknown: grade each alone, under its own limit
            else:
                self._record_failure(outcome, chunk[0], timed_out, responses, problem_types)
        for i, future in [(i, submit([i])) for i in retry]:
            outcome = self._collect(future)
            if isinstance(outcome, list):
                parts[i] = outcome[0]
            else:
                self._record_failure(outcome, i, timed_out, responses, problem_types)
        # Failed items: accuracy 0 and no structure verdict within the limit; the format check is linear-time.
        return [
            part if part is not None else (0.0, format_score(responses[i], think_tag), 0.0)
            for i, part in enumerate(parts)
        ], timed_out

    @staticmethod
    def _collect(future) -> list[tuple[float, float, float]] | BaseException:
        try:
            return future.result()
        except VerifierConfigError:
            raise
        except Exception as error:  # FutureTimeout, a dead worker (ProcessExpired), a custom verifier's bug
            return error

    def _record_failure(self, error: BaseException, i: int, timed_out, responses, problem_types) -> None:
        if isinstance(error, FutureTimeout):
            self.n_timeouts += 1
            timed_out[i] = True
            logger.warning(
                "reward item %d (problem type %r, %d characters) ran past %.1f s: worker killed, accuracy 0",
                i,
                problem_types[i],
                len(responses[i]),
                self.timeout_s,
            )
        else:
            self.n_errors += 1
            logger.warning(
                "reward item %d (problem type %r) failed: %r; accuracy 0", i, problem_types[i], error
            )

    @staticmethod
    def _length_scores(lengths, envelopes, tasks, length_weight) -> list[float]:
        if length_weight == 0 and all(length is None for length in lengths):
            return [0.0] * len(lengths)
        resolved = [resolve_envelope(env, task) for env, task in zip(envelopes, tasks, strict=True)]
        return length_components(lengths, resolved, length_weight)

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
