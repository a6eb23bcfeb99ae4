"""Mean ROUGE-1/2/L F1, the open-ended verifier of the authors' reward (benchmarks.md §3.1).

Tokenisation and stemming are ``rouge-score``'s own (``DefaultTokenizer(use_stemmer=True)``: lower-case,
non-alphanumerics to spaces, Porter stemming of tokens longer than 3 characters), so the numbers are the
reference's. The counting is ours and fast: n-gram F1 from ``Counter`` intersections (rouge-score's formula),
and the ROUGE-L longest common subsequence from rapidfuzz's bit-parallel ``LCSseq`` over token lists instead
of rouge-score's pure-Python O(n·m) table (a 2,000-token answer would take seconds there). The test suite
checks equality with ``rouge_scorer.RougeScorer`` on random texts.

Bound: each text is cut to its first ``MAX_CHARS`` characters before tokenising (stemming ~10 µs per token
would let a 10 MB answer run for seconds). An answer that long scores ≈ 0 against any realistic reference
either way.

Speed: the stemmer is built once per process (module level) and its results are memoised per word
(:data:`STEM_CACHE_SIZE` words): a training batch repeats the same vocabulary across its rollouts, and
stemming was most of an open-ended item's cost. The tokenising steps are rouge-score's own
(``rouge_score.tokenize.tokenize``: lower-case, non-alphanumerics to spaces, split, stem words longer than 3
characters, keep ``[a-z0-9]+`` tokens), with its compiled patterns.
"""

from __future__ import annotations

import functools
from collections import Counter

from rapidfuzz.distance import LCSseq
from rouge_score import tokenize as rouge_tokenize
from rouge_score.tokenizers import DefaultTokenizer

MAX_CHARS = 20_000
"""Characters of each text that are tokenised (see the module docstring)."""

STEM_CACHE_SIZE = 65_536
"""Distinct words whose Porter stem is memoised per process."""

_TOKENIZER = DefaultTokenizer(use_stemmer=True)
_stem = functools.lru_cache(maxsize=STEM_CACHE_SIZE)(_TOKENIZER._stemmer.stem)


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's tokens of the first ``MAX_CHARS`` characters of ``text`` (``DefaultTokenizer(
    use_stemmer=True).tokenize``, with memoised stems)."""
    words = rouge_tokenize.SPACES_RE.split(rouge_tokenize.NON_ALPHANUM_RE.sub(" ", text[:MAX_CHARS].lower()))
    stemmed = (_stem(w) if len(w) > 3 else w for w in words)
    return [w for w in stemmed if rouge_tokenize.VALID_TOKEN_RE.match(w)]


def _f1(overlap: int, n_pred: int, n_ref: int) -> float:
    precision = overlap / max(n_pred, 1)
    recall = overlap / max(n_ref, 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ngram_f1(ref: list[str], pred: list[str], n: int) -> float:
    ref_grams = Counter(zip(*(ref[i:] for i in range(n)), strict=False))
    pred_grams = Counter(zip(*(pred[i:] for i in range(n)), strict=False))
    overlap = sum((ref_grams & pred_grams).values())
    return _f1(overlap, sum(pred_grams.values()), sum(ref_grams.values()))


def rouge_f1(prediction: str, reference: str) -> tuple[float, float, float]:
    """``(ROUGE-1 F1, ROUGE-2 F1, ROUGE-L F1)`` of ``prediction`` against ``reference``, each in [0, 1].

    ``F1 = 2PR / (P + R)`` with ``P = overlap / |pred|``, ``R = overlap / |ref|`` (n-gram counts, or the LCS
    length for ROUGE-L); 0 when either side has no token.
    """
    ref, pred = rouge_tokens(reference), rouge_tokens(prediction)
    if not ref or not pred:
        return 0.0, 0.0, 0.0
    lcs = LCSseq.similarity(ref, pred)
    return _ngram_f1(ref, pred, 1), _ngram_f1(ref, pred, 2), _f1(lcs, len(pred), len(ref))


def mean_rouge_f1(prediction: str, reference: str) -> float:
    """Mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 (recipe §4, open-ended accuracy)."""
    return sum(rouge_f1(prediction, reference)) / 3.0
