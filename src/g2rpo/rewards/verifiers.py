"""Accuracy verifiers, one per problem type (recipe §4; benchmarks.md §3.1–3.2).

Each takes the *extracted* answer (see :func:`g2rpo.metrics.extraction.extract_answer`) and the gold, and
returns a float in [0, 1]. Where the rule is also an evaluation metric (option matching, numeric equality,
math equivalence, IoU) the verifier calls the :mod:`g2rpo.metrics` function behind that metric, so the
training reward and the published number share one code path. Registration, option checking and totality
(exceptions → 0) live in :mod:`g2rpo.rewards.registry`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rapidfuzz.distance import Levenshtein

from g2rpo.metrics.choice import Choices, as_choices, lenient_option_letter, normalize_gold_letter
from g2rpo.metrics.geometry import COORDINATE_CONVENTIONS
from g2rpo.metrics.math import math_equiv, numeric
from g2rpo.metrics.parsing import parse_number
from g2rpo.metrics.spatial import iou
from g2rpo.rewards.errors import VerifierConfigError
from g2rpo.rewards.rouge import mean_rouge_f1

MRA_TOLERANCES: tuple[float, ...] = tuple(k / 20 for k in range(1, 11))
"""``1 − θ`` for θ ∈ {0.95, 0.90, …, 0.50}: 0.05, 0.10, …, 0.50, each the double nearest the decimal."""


def multiple_choice(prediction: str, gold: str, *, choices: Choices = None) -> float:
    """1 if the answer names the gold option, else 0 (recipe §4).

    Tolerant of ``B``, ``(B)``, ``B.``, ``B) text``, ``\\boxed{B}``, ``The answer is B`` and, when
    ``choices`` are given, the option text itself; ``gold`` may be the letter or the option text. Both sides
    go through :mod:`g2rpo.metrics.choice` (``lenient_option_letter``, ``normalize_gold_letter``).
    """
    if choices is not None and not isinstance(choices, Mapping):
        raise VerifierConfigError(
            f"choices must be a mapping letter → text (g2rpo.data.options), got {type(choices).__name__}"
        )
    gold_letter = normalize_gold_letter(gold, as_choices(choices, str(gold).strip()))
    return 1.0 if lenient_option_letter(prediction, choices) == gold_letter else 0.0


def numerical(prediction: str, gold: str) -> float:
    """1 if both parse as numbers (commas, currency, units stripped) and agree at 2 decimals.

    The metric ``numeric`` (:func:`g2rpo.metrics.math.numeric`).
    """
    return numeric(prediction, gold)


def math_equivalence(prediction: str, gold: str) -> float:
    """1 if ``math_verify.verify(parse(gold), parse(prediction))``, under a hard time limit (default 3 s).

    The metric ``math_equiv`` (:func:`g2rpo.metrics.math.math_equiv`): SIGALRM-limited in the scoring
    process's main thread, a killable helper process elsewhere, and numeric power towers or huge exact powers
    refused before sympy sees them; the batch scorer's per-item limit is a second backstop. An expired limit
    or a refusal scores 0 here, and the batch scorer flags the item as timed out.
    """
    return math_equiv(prediction, gold)


def spatial_grounding(
    prediction: str,
    gold: str,
    *,
    pred_coord: str = "rel1000",
    gold_coord: str = "rel1000",
    image_size: tuple[float, float] | None = None,
    pred_image_size: tuple[float, float] | None = None,
) -> float:
    """IoU of the predicted and gold ``{"boxes": [x1, y1, x2, y2]}`` (:func:`g2rpo.metrics.spatial.iou`).

    The prediction is parsed strictly (OneThinker: a JSON object whose ``boxes`` is 4 numbers); the gold may
    be that JSON, a bare list or 4 numbers. ``pred_coord`` / ``gold_coord`` ∈ {``rel1000`` (Qwen3-VL),
    ``abs`` (pixels; Qwen2.5-VL), ``coco_xywh``}; ``image_size = (W, H)`` of the original image is needed
    whenever the conventions differ, and ``pred_image_size`` is the resized input a Qwen2.5-VL model saw.
    No clipping, no corner reordering (swapped corners → 0).
    """
    for name, value in (("pred_coord", pred_coord), ("gold_coord", gold_coord)):
        if value not in COORDINATE_CONVENTIONS:
            raise VerifierConfigError(
                f"{name}={value!r}; valid conventions: {', '.join(COORDINATE_CONVENTIONS)}"
            )
    if pred_coord != gold_coord and image_size is None:
        raise VerifierConfigError(
            f"comparing a {pred_coord!r} prediction with a {gold_coord!r} gold needs "
            "image_size=(width, height)"
        )
    return iou(
        prediction,
        gold,
        pred_coord=pred_coord,
        gold_coord=gold_coord,
        image_size=image_size,
        pred_image_size=pred_image_size,
        parse="strict",
    )


def regression(prediction: str, gold: str) -> float:
    """Mean relative accuracy: ``mean over θ ∈ {0.50, …, 0.95} of 1[|p − g| / |g| < 1 − θ]`` (recipe §4).

    Strict ``<`` as in the reference; ``p`` and ``g`` are read by :func:`g2rpo.metrics.parsing.parse_number`
    (the ``numerical`` rule's reader: commas, currency and a trailing unit stripped).
    Deviations from the authors' float32 ``|p − g| / (|g| + 1e-8)``: float64 and exact thresholds (so a
    relative error of exactly 0.05 fails θ = 0.95, as the formula says), and ``g = 0`` scores 1 iff ``p = 0``
    (the authors' ``+1e-8`` gives the same except for ``|p| < 5e-9``). Unparseable or non-finite → 0.
    """
    p, g = parse_number(prediction), parse_number(gold)
    if p is None or g is None:
        return 0.0
    if g == 0.0:
        return 1.0 if p == 0.0 else 0.0
    rel = abs(p - g) / abs(g)
    if not math.isfinite(rel):
        return 0.0
    return sum(rel < tol for tol in MRA_TOLERANCES) / len(MRA_TOLERANCES)


def ocr(prediction: str, gold: str) -> float:
    """``max(0, 1 − WER)`` with ``WER = word-level Levenshtein(gold, pred) / #gold words`` (recipe §4).

    Words are whitespace tokens, case- and punctuation-sensitive (the reference's ``split()``). An empty gold
    scores 1 iff the prediction has no word either (the reference divides by zero there and scores 0).
    """
    gold_words, pred_words = gold.split(), prediction.split()
    if not gold_words:
        return 1.0 if not pred_words else 0.0
    return max(0.0, 1.0 - Levenshtein.distance(gold_words, pred_words) / len(gold_words))


def open_ended(prediction: str, gold: str) -> float:
    """Mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 with rouge-score's stemming tokenizer (see :mod:`.rouge`).

    The reference (OpenVLThinkerV2) meant this rule but had the import commented out, so its open-ended
    accuracy was always 0; this one works.
    """
    return mean_rouge_f1(prediction, gold)
