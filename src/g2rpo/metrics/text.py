"""Text-answer metrics: ANLS (DocVQA, InfoVQA), relaxed accuracy (ChartQA), OCRBench containment
(benchmarks.md §2.7, §2.9–2.11)."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from g2rpo.metrics.parsing import python_float

__all__ = [
    "anls",
    "anls_single",
    "as_golds",
    "ocrbench",
    "ocrbench_single",
    "relaxed_accuracy",
    "relaxed_correctness",
]


def as_golds(gold: str | Sequence[str]) -> list[str]:
    """One gold string or several as a non-empty list of strings."""
    golds = [gold] if isinstance(gold, str) else [str(g) for g in gold]
    if not golds:
        raise ValueError("at least one gold answer is required")
    return golds


def _normalize_anls(text: str) -> str:
    return " ".join(text.strip().lower().split())


def anls_single(pred: str, gold: str, *, threshold: float = 0.0) -> float:
    """``1 − NL`` for one gold: ``NL = Levenshtein(norm(gold), norm(pred)) / max(len(gold), len(pred))`` where
    ``norm`` lower-cases, strips and collapses whitespace and the lengths are of the RAW strings (0 if both
    are empty). Values below ``threshold`` may be returned as any value below it (the distance computation
    stops early); the threshold itself is not applied here."""
    length = max(len(gold), len(pred))
    if length == 0:
        return 1.0
    cutoff = int((1.0 - threshold) * length) + 1
    distance = Levenshtein.distance(_normalize_anls(gold), _normalize_anls(pred), score_cutoff=cutoff)
    return 1.0 - distance / length


def anls(pred: str, gold: str | Sequence[str], *, threshold: float = 0.5) -> float:
    """ANLS item score (DocVQA / InfoVQA; RRC script, VLMEvalKit ``anls_compute`` + ``hit_calculate``).

    ``s = max over golds of (1 − NL)``; ``s < threshold`` → 0, so a similarity of exactly 0.5 is KEPT (as
    every evaluation script does; the ST-VQA paper's ``NL < τ`` would zero it). Case- and
    whitespace-insensitive; punctuation-, currency- and thousands-separator-sensitive; the denominator uses the
    raw lengths (surrounding spaces of an unstripped prediction raise it). Range [0, 1].
    """
    best = max(anls_single(pred, g, threshold=threshold) for g in as_golds(gold))
    return best if best >= threshold else 0.0


def _chartqa_float(text: str) -> float | None:
    if text.endswith("%"):
        value = python_float(text[:-1])
        return None if value is None else value / 100.0
    return python_float(text)


def relaxed_correctness(pred: str, gold: str, *, tolerance: float = 0.05) -> bool:
    """pix2struct ``relaxed_correctness``: if ``pred`` parses as a float and ``gold`` parses as a non-zero
    float (a trailing ``%`` divides by 100; Python ``float`` otherwise), ``|p − g| / |g| <= tolerance``;
    else case-insensitive string equality."""
    p = _chartqa_float(pred)
    g = _chartqa_float(gold)
    if p is not None and g:
        return abs(p - g) / abs(g) <= tolerance
    return pred.lower() == gold.lower()


def relaxed_accuracy(pred: str, gold: str | Sequence[str], *, tolerance: float = 0.05) -> float:
    """ChartQA relaxed accuracy (VLMEvalKit / lmms-eval / pix2struct): the prediction is stripped (the gold
    is not), best over golds, 1.0 or 0.0.

    Pitfalls kept as in the reference: ``12%`` vs ``12`` is wrong (0.12 vs 12) while ``0.12`` vs ``12%`` is
    right; gold ``0`` disables the tolerance (``"0.0" ≠ "0"``); ``$``, units and thousands separators make
    ``float`` fail (string compare); years get the 5% tolerance; exactly 5% passes.
    """
    p = pred.strip()
    return 1.0 if any(relaxed_correctness(p, g, tolerance=tolerance) for g in as_golds(gold)) else 0.0


def ocrbench_single(pred: str, gold: str, *, hme: bool = False) -> bool:
    """OCRBench containment for one gold: HME (handwritten math) removes all spaces and newlines from both
    and tests case-sensitive ``gold in pred``; otherwise both are lower-cased, stripped, newlines → spaces,
    and ``gold in pred``."""
    if hme:
        return gold.replace(" ", "").replace("\n", "") in pred.replace(" ", "").replace("\n", "")
    return gold.lower().strip().replace("\n", " ") in pred.lower().strip().replace("\n", " ")


def ocrbench(pred: str, gold: str | Sequence[str], *, hme: bool = False) -> float:
    """OCRBench item score (official ``example.py`` = VLMEvalKit ``OCRBench.evaluate``): 1.0 iff any gold is
    contained in the prediction (see :func:`ocrbench_single`; ``hme=True`` for the category "Handwritten
    Mathematical Expression Recognition"). The benchmark score is the SUM over its 1000 items.

    Pitfall: containment over the whole prediction — score the extracted answer, never a chain of thought;
    short golds match inside longer words (``cat`` in ``catalog``)."""
    return 1.0 if any(ocrbench_single(pred, g, hme=hme) for g in as_golds(gold)) else 0.0
