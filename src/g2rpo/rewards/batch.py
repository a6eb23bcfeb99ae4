"""Scoring many responses at once: a warm process pool, a hard per-item time limit, a batch budget, and pool
faults that are re-run, never scored.

Training scores ``N = B·G`` responses every step. :class:`BatchScorer` sends them in chunks to a pool of
worker processes (pebble's ``ProcessPool``). Inside a worker each item runs under its own ``timeout_s``
(a ``SIGALRM`` timer in the worker's main thread); an item cut there, or whose math verifier hit its own limit
or refused a power tower (:func:`g2rpo.metrics.timeouts.watch_time_limits` sees both), scores accuracy 0, is
flagged in :attr:`BatchScore.timed_out` and is never re-run. A chunk that outlives the sum of its items'
limits (a hang inside C code, which no signal interrupts) has its worker killed and its items re-run one by
one. With ``batch_budget_s`` the whole batch has a wall-clock budget: items not finished by then are flagged
and score 0, the rest keep their scores.

Infrastructure faults are not scores. A worker that dies mid-chunk (OOM killer, ``SIGKILL``, a segfault) costs
a re-run of its items, one by one, each at most :data:`MAX_ATTEMPTS` times; an item whose worker dies on every
attempt is flagged in :attr:`BatchScore.failed` (counted in ``n_failures``, apart from timeouts). A pool that
breaks as a whole (pebble's ``BrokenProcessPool``, e.g. when every worker dies while importing a script that
has no ``if __name__ == "__main__":`` guard) is restarted once per batch; if it breaks again the scorer
scores in this process from then on, with one warning (``pool_fallback=True``, the default), or raises
:class:`~g2rpo.rewards.errors.RewardInfrastructureError`. With ``max_workers <= 1`` there is no pool at all:
a one-worker pool costs its start-up and gains nothing.

Fork safety: the trainer's process has torch (OpenMP/CUDA threads) loaded, and forking such a process can
deadlock the child; workers are therefore started with ``forkserver`` (default on Linux) or ``spawn``, and
never import torch themselves (the length term, which needs ``g2rpo.algo``, is computed in the parent). The
forkserver preloads :mod:`g2rpo.rewards.preload` (all verifier dependencies, warmed), so workers and their
replacements start warm; note that this sets the process-wide forkserver preload list if the forkserver is not
running yet.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pebble import ProcessExpired, ProcessPool

from g2rpo.rewards.compose import (
    RewardBreakdown,
    check_rules,
    check_weights,
    compose,
    gold_text,
    length_components,
    resolve_envelope,
)
from g2rpo.rewards.errors import RewardInfrastructureError, VerifierConfigError
from g2rpo.rewards.format import check_think_tag, format_score
from g2rpo.rewards.registry import Verifier, get_verifier
from g2rpo.rewards.worker import (
    FAILED,
    OVER_BUDGET,
    TIMED_OUT,
    Item,
    Outcome,
    score_chunk,
    score_item,
    warm_up,
)

if TYPE_CHECKING:
    from g2rpo.algo import Envelope

logger = logging.getLogger(__name__)

MAX_AUTO_CHUNK = 32
CHUNKS_PER_WORKER = 8
"""Automatic chunking: ``min(32, N // (8 · workers))`` items per task (≥ 1), amortising the per-task cost."""

START_METHODS: tuple[str, ...] = ("forkserver", "spawn")
"""Accepted worker start methods; the first available one is the default (``fork`` is unsafe, see above)."""

MAX_ATTEMPTS = 3
"""Runs of one item whose worker dies before the item is flagged as failed."""

MAX_POOL_RESTARTS = 1
"""Restarts of a broken pool within one batch before the scorer gives the pool up."""

POOL_POLL_S = 0.25
"""How often a wait on the pool checks that the pool is still running."""
GRACE_S = 1.0
"""Slack on a chunk's backstop (the sum of its items' limits) and on the batch budget, for the round trip."""

MAX_LOGGED_ITEMS = 5
"""Per batch, at most this many timed-out or failed items are logged one by one; a summary line counts all."""



@dataclass(frozen=True)
class BatchScore:
    """The rewards of one batch, in input order.

    ``timed_out[i]``: item ``i`` hit a time limit (its own, the math verifier's, a refusal of a power tower,
    or the batch budget) and scores accuracy 0 and structure 0 (its format is still checked).
    ``failed[i]``: item ``i`` could not be scored at all (its worker died on every attempt); same reward
    parts, counted apart: an infrastructure fault, not a property of the response.
    """

    breakdowns: list[RewardBreakdown]
    timed_out: list[bool]
    failed: list[bool]

    @property
    def n_timeouts(self) -> int:
        return sum(self.timed_out)

    @property
    def n_failures(self) -> int:
        return sum(self.failed)


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


def _importing_main() -> bool:
    """Whether this process is a spawn/forkserver child still importing the parent's main module."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


class BatchScorer:
    """Score many responses with :func:`~g2rpo.rewards.score_response`'s rule, in parallel and time-limited.

    Args:
        max_workers: worker processes; ``None`` → the CPUs this process may use; ``0`` or ``1`` → score in
            this process, with the per-item limit as a ``SIGALRM`` timer when called from the main thread.
        timeout_s: per-item limit on the verifier work (format, extraction, structure, accuracy).
        strict: a response without an ``<answer>`` block scores accuracy 0 (recipe §4, choice).
        start_method: ``"forkserver"`` (default where available: workers fork from a warm server process,
            so a replacement for a killed worker starts in milliseconds) or ``"spawn"``; ``fork`` is refused.
        chunk_size: items per pool task; ``None`` → automatic (see :data:`MAX_AUTO_CHUNK`).
        batch_budget_s: wall-clock budget of one :meth:`score` call; items not finished within it are flagged
            as timed out and score 0. ``None``: no budget.
        rules: the reward rule set (``score_response``'s ``rules``); ``"g2rpo"`` by default.
        pool_fallback: when the pool cannot run (broken twice in one batch), score in this process with one
            warning (``True``) or raise :class:`~g2rpo.rewards.errors.RewardInfrastructureError` (``False``).

    Use as a context manager, or call :meth:`close`. ``n_timeouts`` / ``n_failures`` / ``n_pool_restarts``
    count over the scorer's life; :class:`BatchScore` has the per-batch flags.
    """

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        timeout_s: float = 5.0,
        strict: bool = False,
        start_method: str | None = None,
        chunk_size: int | None = None,
        batch_budget_s: float | None = None,
        rules: str = "g2rpo",
        pool_fallback: bool = True,
    ) -> None:
        if max_workers is None:
            max_workers = (
                len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            )
        if max_workers < 0:
            raise ValueError(f"max_workers must be >= 0 (0 or 1 = in this process), got {max_workers}")
        if not timeout_s > 0 or not math.isfinite(timeout_s):
            raise ValueError(f"timeout_s must be a finite number > 0, got {timeout_s}")
        if batch_budget_s is not None and not (batch_budget_s > 0 and math.isfinite(batch_budget_s)):
            raise ValueError(f"batch_budget_s must be a finite number > 0 or None, got {batch_budget_s}")
        if start_method is None:
            start_method = next(m for m in START_METHODS if m in multiprocessing.get_all_start_methods())
        if start_method not in START_METHODS:
            raise ValueError(f"unknown start_method {start_method!r}; valid: {', '.join(START_METHODS)}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1 (None = automatic), got {chunk_size}")
        if max_workers > 1 and _importing_main():
            raise RewardInfrastructureError(
                "a BatchScorer was created while a worker process imports the main module: put the script's "
                'code under `if __name__ == "__main__":` (pool workers import the main module)'
            )
        self.max_workers = max_workers
        self.timeout_s = float(timeout_s)
        self.strict = strict
        self.start_method = start_method
        self.chunk_size = chunk_size
        self.batch_budget_s = None if batch_budget_s is None else float(batch_budget_s)
        self.rules = check_rules(rules)
        self.pool_fallback = pool_fallback
        self.n_timeouts = 0
        self.n_failures = 0
        self.n_pool_restarts = 0
        self._pool: ProcessPool | None = None
        self._finalizer: weakref.finalize | None = None
        if max_workers > 1:
            self._start_pool()

    @property
    def n_errors(self) -> int:
        """Former name of :attr:`n_failures`."""
        return self.n_failures

    @property
    def in_process(self) -> bool:
        """Whether items are scored in this process (``max_workers <= 1``, or the pool was given up)."""
        return self._pool is None

    def _start_pool(self) -> None:
        self._pool = ProcessPool(
            max_workers=self.max_workers, initializer=warm_up, context=_context(self.start_method)
        )
        self._finalizer = weakref.finalize(self, self._pool.stop)

    def _stop_pool(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            self._finalizer()
            try:
                pool.join(timeout=10)
            except (TimeoutError, RuntimeError):
                logger.warning("reward worker pool did not stop within 10 s; left to exit on its own")

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
        rules: str | None = None,
    ) -> BatchScore:
        """Rewards of ``responses[i]`` against ``answers[i]`` under ``problem_types[i]``, in input order.

        ``tasks``, ``lengths``, ``envelopes`` and ``verifier_options`` are per item (``None`` entries
        allowed), with the meaning they have in :func:`~g2rpo.rewards.score_response`; ``rules`` overrides
        the scorer's rule set for this call. Bad arguments (unknown problem type or task, mismatched lengths,
        bad weights) raise before any work starts.
        """
        n = len(responses)
        rules = self.rules if rules is None else check_rules(rules)
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
        golds = self._golds(answers, rules)
        ells = self._length_scores(lengths, envelopes, tasks, length_weight)
        items = [
            (r, g, v, think_tag, self.strict, o, rules)
            for r, g, v, o in zip(responses, golds, verifiers, opts, strict=True)
        ]

        deadline = None if self.batch_budget_s is None else time.monotonic() + self.batch_budget_s
        outcomes: list[Outcome | None] = [None] * n
        if self._pool is not None:
            self._score_in_pool(items, outcomes, deadline)
        rest = [i for i in range(n) if outcomes[i] is None]
        for i in rest:  # no pool, or a pool given up part-way
            outcomes[i] = score_item(items[i], self.timeout_s, deadline)

        statuses = [status for status, _ in outcomes]  # type: ignore[misc]
        self._report(statuses, responses, problem_types)
        # Items without a verdict: accuracy 0 and no structure verdict; the format check is linear-time.
        parts = [
            part if part is not None else (0.0, format_score(responses[i], think_tag), 0.0)
            for i, (_, part) in enumerate(outcomes)  # type: ignore[misc]
        ]
        breakdowns = [
            compose(a, f, s, ell, format_weight=format_weight, length_weight=length_weight)
            for (a, f, s), ell in zip(parts, ells, strict=True)
        ]
        return BatchScore(
            breakdowns=breakdowns,
            timed_out=[s in (TIMED_OUT, OVER_BUDGET) for s in statuses],
            failed=[s == FAILED for s in statuses],
        )

    @staticmethod
    def _golds(answers: Sequence[object], rules: str) -> list[object]:
        """Each item's gold, unwrapped once per distinct answer (``g2rpo`` rules; the other rule sets get the
        answer as given, as ``score_response`` does)."""
        if rules != "g2rpo":
            return list(answers)
        unwrapped: dict[str, str] = {}
        out: list[object] = []
        for answer in answers:
            key = answer if isinstance(answer, str) else str(answer)
            if key not in unwrapped:
                unwrapped[key] = gold_text(key)
            out.append(unwrapped[key])
        return out

    def _chunk_size(self, n: int) -> int:
        if self.chunk_size is not None:
            return self.chunk_size
        return max(1, min(MAX_AUTO_CHUNK, n // (CHUNKS_PER_WORKER * self.max_workers)))

    def _score_in_pool(self, items: list[Item], outcomes: list, deadline: float | None) -> None:
        """Fill ``outcomes`` from the pool: re-run items of dead workers, restart a broken pool once, give it
        up (leaving the rest ``None`` for the caller to score here) or raise when it breaks again."""
        n = len(items)
        size = self._chunk_size(n)
        pending: deque[list[int]] = deque(list(range(s, min(s + size, n))) for s in range(0, n, size))
        active: dict[object, list[int]] = {}
        attempts = [0] * n
        restarts = 0
        while pending or active:
            broken: BaseException | None = None
            while pending and broken is None:
                unit = pending.popleft()
                try:
                    future = self._pool.schedule(  # type: ignore[union-attr]
                        score_chunk,
                        args=([items[i] for i in unit], self.timeout_s, deadline),
                        timeout=len(unit) * self.timeout_s + GRACE_S,
                    )
                except RuntimeError as error:  # pebble: the pool is not running (broken)
                    pending.appendleft(unit)
                    broken = error
                else:
                    active[future] = unit
            if broken is None:
                done, broken = self._wait_for_some(active, deadline)
            if broken is None:
                if not done:  # the batch budget ran out with these chunks still out
                    for future, unit in active.items():
                        future.cancel()  # type: ignore[attr-defined]
                        for i in unit:
                            outcomes[i] = (OVER_BUDGET, None)
                    for unit in pending:
                        for i in unit:
                            outcomes[i] = (OVER_BUDGET, None)
                    return
                for future in done:
                    unit = active.pop(future)
                    error = self._take(future, unit, outcomes, attempts, pending, active)
                    if error is not None:
                        broken = error
            if broken is not None:
                pending.extend(active.values())  # pebble aborts every task of a broken pool
                active.clear()
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    self._give_up_pool(broken)
                    return
                self.n_pool_restarts += 1
                logger.warning("reward worker pool broke (%r); restarting it and re-running its items", broken)
                self._stop_pool()
                self._start_pool()

    def _wait_for_some(self, active: dict, deadline: float | None) -> tuple[set, BaseException | None]:
        """Wait until a chunk finishes (``(done, None)``), the batch budget runs out (``(set(), None)``) or the
        pool's own threads have stopped (``(set(), error)``). The last check matters: a chunk queued just as
        pebble found the pool broken is never resolved by pebble, so an unbounded wait would hang for ever."""
        while True:
            remaining = None if deadline is None else deadline + GRACE_S - time.monotonic()
            step = POOL_POLL_S if remaining is None else max(0.0, min(POOL_POLL_S, remaining))
            done, _ = wait(list(active), timeout=step, return_when=FIRST_COMPLETED)
            if done:
                return done, None
            if remaining is not None and remaining <= POOL_POLL_S:
                return set(), None
            if not self._pool.active:  # type: ignore[union-attr]
                return set(), BrokenProcessPool("the reward pool stopped with chunks still queued")

    def _take(self, future, unit, outcomes, attempts, pending, active) -> BaseException | None:
        """Record one finished chunk; returns the error if the whole pool broke."""
        try:
            result = future.result()
        except VerifierConfigError:
            for other in active:
                other.cancel()
            raise
        except BrokenProcessPool as error:
            pending.append(unit)
            return error
        except FutureTimeout:  # the backstop: a hang no signal could interrupt
            if len(unit) > 1:
                pending.extend([i] for i in unit)
            else:
                outcomes[unit[0]] = (TIMED_OUT, None)
            return None
        except ProcessExpired as error:  # the worker died: an infrastructure fault, re-run
            for i in unit:
                attempts[i] += 1
                if attempts[i] < MAX_ATTEMPTS:
                    pending.append([i])
                else:
                    outcomes[i] = (FAILED, None)
                    logger.warning("reward item %d: its worker died %d times (%s)", i, attempts[i], error)
            return None
        except Exception as error:  # e.g. an unpicklable option: the same on any worker, not re-run
            for i in unit:
                outcomes[i] = (FAILED, None)
            logger.warning("reward items %d–%d could not be scored: %r", unit[0], unit[-1], error)
            return None
        for i, outcome in zip(unit, result, strict=True):
            outcomes[i] = outcome
        return None

    def _give_up_pool(self, error: BaseException) -> None:
        self._stop_pool()
        message = (
            f"the reward worker pool broke again after a restart ({error!r}). If this runs from a script, put "
            'its code under `if __name__ == "__main__":` (pool workers import the main module)'
        )
        if not self.pool_fallback:
            raise RewardInfrastructureError(message + "; or pass pool_fallback=True to score in this process")
        logger.warning(
            "%s. Scoring in this process from now on (per-item limits by SIGALRM in the main thread only).",
            message,
        )

    def _report(self, statuses: list[int], responses: Sequence[str], problem_types: Sequence[str]) -> None:
        cut = [i for i, s in enumerate(statuses) if s == TIMED_OUT]
        over = [i for i, s in enumerate(statuses) if s == OVER_BUDGET]
        failed = [i for i, s in enumerate(statuses) if s == FAILED]
        self.n_timeouts += len(cut) + len(over)
        self.n_failures += len(failed)
        for i in cut[:MAX_LOGGED_ITEMS]:
            logger.warning(
                "reward item %d (problem type %r, %d characters) ran past %.1f s or was refused as too costly: "
                "timed out, accuracy 0",
                i,
                problem_types[i],
                len(responses[i]),
                self.timeout_s,
            )
        if len(cut) > MAX_LOGGED_ITEMS:
            logger.warning("… %d reward items timed out in this batch", len(cut))
        if over:
            logger.warning(
                "reward batch budget of %.1f s ran out: %d of %d items not scored (timed out, accuracy 0)",
                self.batch_budget_s,
                len(over),
                len(statuses),
            )
        if failed:
            logger.warning(
                "%d of %d reward items could not be scored (worker faults; flagged failed, accuracy 0): %s",
                len(failed),
                len(statuses),
                failed[:MAX_LOGGED_ITEMS],
            )

    @staticmethod
    def _length_scores(lengths, envelopes, tasks, length_weight) -> list[float]:
        if length_weight == 0 and all(length is None for length in lengths):
            return [0.0] * len(lengths)
        resolved = [resolve_envelope(env, task) for env, task in zip(envelopes, tasks, strict=True)]
        return length_components(lengths, resolved, length_weight)

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        self._stop_pool()

    def __enter__(self) -> BatchScorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
