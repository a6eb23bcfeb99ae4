"""BatchScorer faults: dead workers are re-run, a pool that cannot run is never turned into zeros, hostile math
is flagged, the batch budget holds, golds are parsed once; and the training reward reports and stops on them.

Worker processes import this module to unpickle its verifiers: keep its top-level imports light (no torch)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import g2rpo.rewards.batch as batch_module
from g2rpo.metrics import math as math_metric
from g2rpo.rewards import (
    VERIFIERS,
    BatchScore,
    BatchScorer,
    RewardBreakdown,
    RewardInfrastructureError,
    Verifier,
    register_verifier,
    score_response,
)
from g2rpo.rewards.structure import text_well_formed

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<thinking>x</thinking><answer>9^9^9^9</answer>"


def tagged(answer: str) -> str:
    return f"<thinking>look</thinking><answer>{answer}</answer>"


GOOD = [
    (tagged("(B) dog"), "B", "multiple choice"),
    (tagged("1,234.5 cm"), "1234.5", "numerical"),
    (tagged("$\\frac{1}{2}$"), "0.5", "math"),
    (tagged("hello word"), "hello world", "ocr"),
    (tagged("a cat on a mat"), "the cat sat on the mat", "open-ended"),
]


def _unzip(items):
    return [list(column) for column in zip(*items, strict=True)]


def _die_twice(prediction: str, gold: str) -> float:
    """Kills its own process (SIGKILL, as the OOM killer does) the first two times it runs; ``gold`` is the
    path of a counter file shared by the worker processes. Scores 1 on the third run."""
    path = Path(gold)
    runs = int(path.read_text()) if path.exists() else 0
    path.write_text(str(runs + 1))
    if runs < 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return 1.0


def _die_always(prediction: str, gold: str) -> float:
    os.kill(os.getpid(), signal.SIGKILL)
    return 1.0


def _hang(prediction: str, gold: str) -> float:
    time.sleep(3600)
    return 1.0


def _refuse_to_start() -> None:
    raise RuntimeError("this worker cannot start")


@pytest.fixture
def custom_verifiers():
    added = [
        register_verifier(Verifier("test die twice", _die_twice, text_well_formed, "dies twice, then 1")),
        register_verifier(Verifier("test die always", _die_always, text_well_formed, "always dies")),
        register_verifier(Verifier("test hang", _hang, text_well_formed, "sleeps for an hour")),
    ]
    try:
        yield
    finally:
        for verifier in added:
            VERIFIERS.pop(verifier.name)


@pytest.mark.slow
def test_worker_killed_mid_batch_reruns_its_items(tmp_path, custom_verifiers) -> None:
    # One chunk of 6 holds an item that SIGKILLs its worker on its first two runs: today the chunk's items were
    # re-run once and the item scored 0 on its second death. Now every item is re-run until it is scored.
    responses, answers, types = _unzip(GOOD)
    responses.insert(2, tagged("x"))
    answers.insert(2, str(tmp_path / "runs"))
    types.insert(2, "test die twice")
    with BatchScorer(max_workers=2, timeout_s=5.0, chunk_size=6) as pool:
        result = pool.score(responses, answers, types)
        assert pool.n_failures == 0
    # The sequential run of the same batch (the counter file now says 3: the item scores 1 at once).
    with BatchScorer(max_workers=0) as sequential:
        expected = sequential.score(responses, answers, types)
    assert (tmp_path / "runs").read_text() == "4"  # 3 runs in the pool (2 deaths) + 1 sequential
    assert result.breakdowns == expected.breakdowns
    assert result.breakdowns[2].accuracy == 1.0
    assert result.failed == [False] * 6 and result.timed_out == [False] * 6


@pytest.mark.slow
def test_an_item_that_always_kills_its_worker_is_a_failure_not_a_timeout(custom_verifiers) -> None:
    responses, answers, types = _unzip(GOOD)
    responses.append(tagged("x"))
    answers.append("x")
    types.append("test die always")
    with BatchScorer(max_workers=2, timeout_s=5.0, chunk_size=2) as pool:
        result = pool.score(responses, answers, types)
        assert (pool.n_failures, pool.n_timeouts) == (1, 0)
    assert result.failed == [False] * 5 + [True]
    assert result.timed_out == [False] * 6
    assert (result.n_failures, result.n_timeouts) == (1, 0)
    expected = [score_response(r, a, problem_type=t) for r, a, t in GOOD]
    assert result.breakdowns[:5] == expected
    # accuracy 0, structure 0, the format check still counts: 0.1·1
    assert result.breakdowns[5] == RewardBreakdown(0.0, 1.0, 0.0, 0.0, pytest.approx(0.1))


@pytest.mark.slow
def test_a_pool_that_cannot_start_falls_back_in_process_or_raises(monkeypatch) -> None:
    # Every worker dies while starting (as when a script without a __main__ guard re-runs itself in each
    # worker): pebble breaks the pool ("All workers expired"). Today every item then scored accuracy 0.
    monkeypatch.setattr(batch_module, "warm_up", _refuse_to_start)
    responses, answers, types = _unzip(GOOD)
    expected = [score_response(r, a, problem_type=t) for r, a, t in GOOD]
    with BatchScorer(max_workers=2, timeout_s=5.0) as scorer:
        result = scorer.score(responses, answers, types)
        assert scorer.in_process and scorer.n_pool_restarts == 1
    assert result.breakdowns == expected
    assert not any(result.failed) and not any(result.timed_out)
    scorer = BatchScorer(max_workers=2, timeout_s=5.0, pool_fallback=False)
    try:
        with pytest.raises(RewardInfrastructureError, match="__main__"):
            scorer.score(responses, answers, types)
    finally:
        scorer.close()


@pytest.mark.slow
def test_a_script_without_main_guard_still_scores(tmp_path) -> None:
    # The README's snippet as a script with no `if __name__ == "__main__":` guard: each worker re-runs the
    # script while importing it. Today: BrokenProcessPool, every item accuracy 0, exit 0.
    script = tmp_path / "score.py"
    script.write_text(
        textwrap.dedent(
            """
            from g2rpo.rewards import BatchScorer
            with BatchScorer(max_workers=2, timeout_s=5.0) as scorer:
                batch = scorer.score(["<thinking>a</thinking><answer>B</answer>", "<answer>1,234.5</answer>"],
                                     ["B", "1234.5"], ["multiple choice", "numerical"])
                print("RESULT", [b.overall for b in batch.breakdowns], batch.failed)
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result_lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT")]
    # Scored once, in the parent: 0.9·1 + 0.1·1 + 0.5 = 1.5, and 0.9·1 + 0.1·0 + 0 = 0.9 (no think block).
    assert result_lines == ["RESULT [1.5, 0.9] [False, False]"]
    assert 'if __name__ == "__main__":' in run.stderr


def test_hostile_math_is_flagged_as_timed_out_in_process() -> None:
    # 9^(9^(9^9)): sympy would compute a number with ~10^369,693,100 digits. Today it ran into math's own
    # 3 s limit and scored 0 unflagged; now the power tower is refused at once and flagged.
    responses = [HOSTILE] * 4 + [tagged("$\\frac{2}{4}$")]
    with BatchScorer(max_workers=0) as scorer:
        result = scorer.score(responses, ["5"] * 4 + ["0.5"], ["math"] * 5)
        assert scorer.n_timeouts == 4
    assert result.timed_out == [True] * 4 + [False]
    assert [b.accuracy for b in result.breakdowns] == [0.0] * 4 + [1.0]
    # accuracy 0, structure 0 (no verdict), format 1 → overall 0.1
    assert [b.overall for b in result.breakdowns[:4]] == [pytest.approx(0.1)] * 4
    assert result.failed == [False] * 5


def test_math_verifier_limit_counts_as_a_timeout(monkeypatch) -> None:
    # math_equiv's own limit (not the per-item one) fires: the item is flagged, not graded 0 silently.
    monkeypatch.setattr(math_metric, "DEFAULT_MATH_TIMEOUT_S", 0.05)
    monkeypatch.setattr(math_metric.math_equiv, "__kwdefaults__", {"timeout_s": 0.05, "wrap_bare_latex": True})
    slow = tagged("$(x+1)^{900} - (x-1)^{900}$")  # not refused by the guards (exponent below 10^3)
    with BatchScorer(max_workers=0, timeout_s=5.0) as scorer:
        result = scorer.score([slow, tagged("B")], ["$x^2$", "B"], ["math", "mcq"])
    assert result.timed_out == [True, False]
    assert [b.accuracy for b in result.breakdowns] == [0.0, 1.0]


def test_one_worker_scores_in_process_under_the_item_limit(custom_verifiers) -> None:
    # No 1-worker pool (its start-up bought nothing); the per-item limit still holds, by SIGALRM.
    with BatchScorer(max_workers=1, timeout_s=0.2) as scorer:
        assert scorer.in_process
        result = scorer.score([tagged("x"), tagged("B")], ["x", "B"], ["test hang", "mcq"])
    assert result.timed_out == [True, False]
    assert [b.accuracy for b in result.breakdowns] == [0.0, 1.0]


def test_batch_budget_flags_the_items_left(custom_verifiers) -> None:
    # 4 hung items, 0.2 s each, against a 0.5 s budget: items 0–1 use their full limit (0.4 s), item 2 gets
    # the 0.1 s left, and from item 3 on the budget is spent: every later item is flagged, even good ones.
    responses = [tagged("x")] * 4 + [tagged("B")] * 3
    answers, types = ["x"] * 4 + ["B"] * 3, ["test hang"] * 4 + ["mcq"] * 3
    with BatchScorer(max_workers=0, timeout_s=0.2, batch_budget_s=0.5) as scorer:
        result = scorer.score(responses, answers, types)
        assert scorer.n_timeouts == 7
    assert result.timed_out == [True] * 7
    assert [b.accuracy for b in result.breakdowns] == [0.0] * 7
    with pytest.raises(ValueError, match="batch_budget_s"):
        BatchScorer(max_workers=0, batch_budget_s=0)


@pytest.mark.slow
def test_batch_budget_in_the_pool(custom_verifiers) -> None:
    # Hung items each take their full 1 s limit; a 1.5 s budget leaves the pool with unfinished chunks: they
    # are cancelled and flagged. Every item is either flagged with accuracy 0 or scored exactly.
    responses, answers, types = _unzip(GOOD)
    responses = [tagged("x")] * 6 + responses
    answers, types = ["x"] * 6 + answers, ["test hang"] * 6 + types
    expected = [None] * 6 + [score_response(r, a, problem_type=t) for r, a, t in GOOD]
    with BatchScorer(max_workers=2, timeout_s=1.0, chunk_size=1, batch_budget_s=1.5) as pool:
        result = pool.score(responses, answers, types)
    assert result.timed_out[:6] == [True] * 6
    assert any(result.timed_out[6:])  # 6 hung items on 2 workers need 3 s: the good ones come after 1.5 s
    for breakdown, cut, want in zip(result.breakdowns, result.timed_out, expected, strict=True):
        assert breakdown.accuracy == 0.0 if cut else breakdown == want


def test_gold_is_parsed_once_per_batch_with_identical_scores(monkeypatch) -> None:
    from math_verify import parse, verify

    calls: list[str] = []

    def counting_parse(text, *args, **kwargs):
        calls.append(text)
        return parse(text, *args, **kwargs)

    gold = "\\frac{13}{17}"
    preds = ["$\\frac{26}{34}$", "$\\frac{13}{17}$", "$0.7647$", "$\\frac{1}{2}$", "$13/17$", "$x$"]
    # The independent reference: math-verify itself, gold first, as the authors call it.
    reference = [1.0 if verify(parse(f"${gold}$"), parse(p)) else 0.0 for p in preds]
    math_metric._parse_gold.cache_clear()
    monkeypatch.setattr("math_verify.parse", counting_parse)
    with BatchScorer(max_workers=0) as scorer:
        result = scorer.score([tagged(p) for p in preds], [gold] * len(preds), ["math"] * len(preds))
    assert [b.accuracy for b in result.breakdowns] == reference
    # The gold once; each prediction once, except the one equal to the gold as a string, which never reaches
    # the parser: 1 + 5 calls (today the gold was parsed again for every response: 5 + 5).
    assert calls.count(f"${gold}$") == 1
    assert len(calls) == 1 + 5


# ---------------------------------------------------------------- the training reward


class _FakeScorer:
    """Stands in for BatchScorer: returns a fixed BatchScore."""

    def __init__(self, failed: list[bool], timed_out: list[bool]) -> None:
        self.failed, self.timed_out = failed, timed_out

    def score(self, responses, answers, problem_types, **kwargs) -> BatchScore:
        n = len(responses)
        parts = [RewardBreakdown(0.0, 1.0, 0.0, 0.0, 0.1)] * n
        return BatchScore(breakdowns=parts, timed_out=self.timed_out[:n], failed=self.failed[:n])


def test_training_reward_logs_failures_and_stops_when_nothing_was_scored() -> None:
    import torch

    from g2rpo.train.reward import TaskReward

    logged: list[tuple[str, float]] = []
    reward = TaskReward(_FakeScorer([True, False, False], [False, True, False]))  # type: ignore[arg-type]
    out = reward(
        None,
        ["a", "b", "c"],
        answer=["x"] * 3,
        problem_type=["ocr"] * 3,
        task=["ocr"] * 3,
        log_metric=lambda name, value: logged.append((name, value)),
    )
    assert out == [pytest.approx(0.1)] * 3
    assert logged == [("reward/timeouts", 1.0), ("reward/failures", 1.0)]
    scored = reward.components(["a", "b"], None, ["x"] * 2, ["ocr"] * 2, ["ocr"] * 2)
    assert scored.failed.tolist() == [True, False] and scored.timed_out.dtype == torch.bool

    everything_failed = TaskReward(_FakeScorer([True] * 3, [False] * 3))  # type: ignore[arg-type]
    with pytest.raises(RewardInfrastructureError, match="none of the 3 responses"):
        everything_failed.components(["a", "b", "c"], None, ["x"] * 3, ["ocr"] * 3, ["ocr"] * 3)


def test_build_scorer_reads_the_config() -> None:
    from types import SimpleNamespace

    from g2rpo.train.reward import build_scorer

    config = SimpleNamespace(scorer_workers=0, scorer_timeout_s=2.0, reward_batch_budget_s=30.0)
    with build_scorer(config) as scorer:
        assert (scorer.in_process, scorer.timeout_s, scorer.batch_budget_s, scorer.rules) == (
            True,
            2.0,
            30.0,
            "g2rpo",
        )
    with pytest.raises(ValueError, match="reward_batch_budget_s"):
        build_scorer(SimpleNamespace(scorer_workers=0, reward_batch_budget_s=-1))


class _StalledPool:
    """A pool whose own threads stopped while a chunk was still queued: pebble never resolves that future."""

    def __init__(self) -> None:
        self.scheduled = 0

    def schedule(self, fn, args=(), timeout=None):
        from concurrent.futures import Future

        self.scheduled += 1
        return Future()  # never resolved

    @property
    def active(self) -> bool:
        return False

    def join(self, timeout=None) -> None:
        pass


def test_a_pool_that_stops_with_chunks_queued_is_restarted_not_waited_on_for_ever() -> None:
    # Seen in the suite: the no-main-guard script hung in `wait()` on a future of a pool whose threads were gone.
    import threading

    with BatchScorer(max_workers=2, timeout_s=5.0) as scorer:
        stalled = _StalledPool()
        scorer._pool = stalled  # the real pool stays owned by the finalizer, which stops it on the restart
        out: list[BatchScore] = []
        worker = threading.Thread(
            target=lambda: out.append(scorer.score([tagged("B"), tagged("C")], ["B", "B"], ["mcq", "mcq"])),
            daemon=True,
        )
        worker.start()
        worker.join(30)
        assert not worker.is_alive(), "score() waited for ever on a pool that had stopped"
        assert stalled.scheduled >= 1 and scorer.n_pool_restarts == 1
    (result,) = out
    assert [b.accuracy for b in result.breakdowns] == [1.0, 0.0]
    assert result.failed == [False, False] and result.n_failures == 0
