"""BatchScorer: the pool gives score_response's numbers; a hung verifier is cut without stalling a batch."""

from __future__ import annotations

import os
import time

import pytest

from g2rpo.rewards import VERIFIERS, BatchScore, BatchScorer, Verifier, register_verifier, score_response
from g2rpo.rewards.structure import text_well_formed

pytestmark = pytest.mark.slow  # worker processes start (spawn) and get killed: a few seconds in all


def _hang(prediction: str, gold: str) -> float:
    """A verifier that never returns (module-level so that worker processes can import it)."""
    time.sleep(3600)
    return 1.0


def _crash(prediction: str, gold: str) -> float:
    """A verifier whose process dies (as on a segfault or the OOM killer)."""
    os._exit(1)


def tagged(answer: str) -> str:
    return f"<thinking>look</thinking><answer>{answer}</answer>"


ITEMS = [
    (tagged("(B) dog"), "B", "multiple choice"),
    (tagged("C"), "B", "MCQ"),
    (tagged("1,234.5 cm"), "1234.5", "numerical"),
    (tagged("105"), "100", "regression"),
    (tagged("$\\frac{1}{2}$"), "0.5", "math"),
    (tagged("hello word"), "hello world", "OCR"),
    (tagged('{"boxes": [0, 0, 100, 100]}'), '{"boxes": [0, 0, 100, 50]}', "spatial grounding"),
    (tagged("a cat on a mat"), "the cat sat on the mat", "open-ended"),
    ("B", "B", "multiple choice"),
    ("", "", "ocr"),
]


@pytest.fixture(scope="module")
def pool():
    # Chunks of 4; each item runs under its own 2 s limit inside its worker.
    with BatchScorer(max_workers=2, timeout_s=2.0, chunk_size=4) as scorer:
        yield scorer


@pytest.fixture
def hang_verifier():
    verifier = register_verifier(Verifier("test hang", _hang, text_well_formed, "sleeps for an hour"))
    try:
        yield verifier
    finally:
        VERIFIERS.pop("test hang")


def _unzip(items):
    return [list(column) for column in zip(*items, strict=True)]


def test_pool_and_sequential_equal_score_response(pool: BatchScorer) -> None:
    responses, answers, types = _unzip(ITEMS * 3)
    expected = [
        score_response(r, a, problem_type=t) for r, a, t in zip(responses, answers, types, strict=True)
    ]
    pooled = pool.score(responses, answers, types)
    assert pooled.breakdowns == expected
    assert pooled.timed_out == [False] * len(expected)
    with BatchScorer(max_workers=0) as sequential:
        assert sequential.score(responses, answers, types).breakdowns == expected


def test_a_hung_item_is_cut_counted_and_does_not_stall_the_batch(
    pool: BatchScorer, hang_verifier, caplog
) -> None:
    responses, answers, types = _unzip(ITEMS)
    # Two hung items share a chunk with two good ones (items 8–11): each hung item is cut at its own limit
    # inside the worker (not re-run) and counted; the good ones are scored normally.
    responses += [tagged("x"), tagged("y")]
    answers += ["x", "y"]
    types += ["test hang", "Test Hang"]
    before = pool.n_timeouts
    result = pool.score(responses, answers, types)
    assert result.timed_out == [False] * len(ITEMS) + [True, True]
    assert pool.n_timeouts - before == 2
    hung = result.breakdowns[-1]
    # Accuracy 0; the format check still counts (0.1·1); no structure verdict within the limit.
    assert (hung.accuracy, hung.format, hung.structure) == (0.0, 1.0, 0.0)
    assert hung.overall == pytest.approx(0.1)
    assert "ran past 2.0 s" in caplog.text
    # The other items are unaffected, and the pool still works afterwards.
    expected = [score_response(r, a, problem_type=t) for r, a, t in ITEMS]
    assert result.breakdowns[: len(ITEMS)] == expected
    again = pool.score(*_unzip(ITEMS))
    assert again.breakdowns == expected and not any(again.timed_out)


def test_a_dead_worker_costs_only_its_item(pool: BatchScorer) -> None:
    # The crashing item kills its worker on each of its MAX_ATTEMPTS runs: flagged failed, not timed out.
    register_verifier(Verifier("test crash", _crash, text_well_formed, "kills its process"))
    try:
        before = (pool.n_failures, pool.n_timeouts)
        result = pool.score(
            [tagged("B"), tagged("x"), tagged("C")], ["B", "x", "B"], ["mcq", "test crash", "mcq"]
        )
    finally:
        VERIFIERS.pop("test crash")
    assert [b.accuracy for b in result.breakdowns] == [1.0, 0.0, 0.0]
    assert result.timed_out == [False, False, False]
    assert result.failed == [False, True, False]
    assert (result.n_failures, result.n_timeouts) == (1, 0)
    assert (pool.n_failures - before[0], pool.n_timeouts - before[1]) == (1, 0)


def test_exploding_latex_is_cut_at_the_pool_limit(pool: BatchScorer) -> None:
    result = pool.score([tagged("$2^{2^{2^{2^{2^{2}}}}}$"), tagged("B")], ["1", "B"], ["math", "mcq"])
    # A numeric power tower: refused before sympy computes it, and flagged as timed out.
    assert result.timed_out == [True, False]
    assert result.breakdowns[0].accuracy == 0.0 and result.breakdowns[1].accuracy == 1.0


def test_per_item_lengths_envelopes_and_options() -> None:
    from g2rpo.algo import Envelope

    env = Envelope(100, 200, 400, 600)
    with BatchScorer(max_workers=0) as scorer:
        # length_weight > 0 with a missing length is an error before any scoring.
        with pytest.raises(ValueError, match="length_weight > 0 needs"):
            scorer.score(
                [tagged("B")] * 2,
                ["B"] * 2,
                ["mcq"] * 2,
                lengths=[150, None],
                envelopes=[env, env],
                length_weight=0.1,
            )
        result = scorer.score(
            [tagged("dog"), tagged("B")],
            ["B", "B"],
            ["multiple choice"] * 2,
            tasks=[None, "spatial_grounding"],
            lengths=[150, 60],
            envelopes=[env, None],
            verifier_options=[{"choices": {"A": "cat", "B": "dog"}}, None],
            length_weight=0.1,
        )
    # item 0: ℓ = (150 − 100)/100 = 0.5 → 0.8 + 0.1 + 0.5 + 0.05 = 1.45; item 1: grounding band plateau → 1.5
    assert [b.length for b in result.breakdowns] == [0.5, 1.0]
    assert [b.overall for b in result.breakdowns] == [pytest.approx(1.45), pytest.approx(1.5)]


def test_bad_batches_fail_before_scoring() -> None:
    with BatchScorer(max_workers=0) as scorer:
        assert scorer.score([], [], []) == BatchScore(breakdowns=[], timed_out=[], failed=[])
        with pytest.raises(ValueError, match="answers has 1 entries but there are 2 responses"):
            scorer.score(["a", "b"], ["a"], ["ocr", "ocr"])
        with pytest.raises(KeyError, match="valid problem types"):
            scorer.score(["a"], ["a"], ["tracking"])
        with pytest.raises(TypeError, match=r"responses\[1\] must be str"):
            scorer.score(["a", None], ["a", "a"], ["ocr", "ocr"])
        with pytest.raises(ValueError, match="think_tag"):
            scorer.score(["a"], ["a"], ["ocr"], think_tag="<think>")
    with pytest.raises(ValueError, match="forkserver, spawn"):
        BatchScorer(start_method="fork")
