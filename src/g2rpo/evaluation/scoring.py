"""Item scorers: thin adapters from a benchmark item + raw response to a :mod:`g2rpo.metrics` call.

Each scorer picks the metric, builds its gold and options from the item's columns (options for multiple
choice, ``answer_type``/``precision`` for MathVista, the mask image for RefSpatial …) and returns an
:class:`ItemScore`. The metric does the answer extraction (its reference protocol's mode) and the rule, once
per item: the extracted answer recorded in ``scores.jsonl`` is the one :func:`g2rpo.metrics.compute` returned
with the score. The evaluation layer never re-implements a rule. A malformed gold is a data error naming the
file, row and field.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from g2rpo.evaluation.loaders import decode_image, parse_list_field
from g2rpo.evaluation.records import DataFormatError, EvalItem, Generation, ImageError, ScoredItem
from g2rpo.evaluation.registry import Benchmark

__all__ = ["SCORERS", "ItemScore", "score_item"]


@dataclass(frozen=True)
class ItemScore:
    """A scorer's output: the metric that decided, the item score in [0, 1], the extracted answer that metric
    saw, and secondary values."""

    metric: str
    score: float
    answer: str
    extras: Mapping[str, float] = field(default_factory=dict)


Scorer = Callable[[EvalItem, str, str], ItemScore]


def _score(metric: str, item: EvalItem, prediction: str, gold: Any, think_tag: str, **options: Any) -> ItemScore:
    """One :func:`g2rpo.metrics.compute` call as an :class:`ItemScore`; a gold the metric rejects is a data
    error naming the item's file, row and ``answer`` field."""
    from g2rpo.metrics import compute

    try:
        result = compute(metric, prediction, gold, think_tag=think_tag, **options)
    except (ValueError, TypeError) as err:
        raise DataFormatError(f"{item.where('answer')}: the gold cannot be scored by {metric!r} ({err})") from err
    return ItemScore(metric, result.score, result.answer)


def _choice(item: EvalItem, prediction: str, think_tag: str, metric: str = "multiple_choice") -> ItemScore:
    """Option matching; an item without options is an MMMU open question, scored as VLMEvalKit's
    ``MMMU_preproc`` does (metric ``mmmu_open``: a 2-way MCQ ``{A: gold, B: "Other Answers"}``)."""
    if item.options:
        return _score(metric, item, prediction, item.answer, think_tag, choices=dict(item.options))
    return _score("mmmu_open", item, prediction, item.answer, think_tag)


def choice(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _choice(item, prediction, think_tag)


def circular_choice(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _choice(item, prediction, think_tag, "mmbench_circular")


def math_or_choice(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    """MathVision: lettered options → option matching; free-form → math-verify equivalence."""
    if item.options:
        return choice(item, prediction, think_tag)
    return _score("math_equiv", item, prediction, item.answer, think_tag)


def math(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _score("math_equiv", item, prediction, item.answer, think_tag)


def mathvista(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    """MathVista: the gold record is the item's ``question_type``, ``answer_type``, ``precision`` and
    choices (option columns, or VLMEvalKit's ``choices`` list literal)."""
    choices = list(item.options.values()) or parse_list_field(item.fields.get("choices", "")) or []
    precision = item.fields.get("precision", "").strip()
    gold = {
        "answer": item.answer,
        "question_type": item.fields.get("question_type") or ("multi_choice" if choices else "free_form"),
        "answer_type": item.fields.get("answer_type") or ("text" if choices else "float"),
        "precision": int(float(precision)) if precision else None,
        "choices": choices,
    }
    return _score("mathvista", item, prediction, gold, think_tag)


def relaxed(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _score("relaxed_accuracy", item, prediction, list(item.answers), think_tag)


def anls(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _score("anls", item, prediction, list(item.answers), think_tag)


def ocrbench(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    """OCRBench: containment; the handwritten-math category compares with every space removed."""
    hme = "handwritten mathematical expression" in item.category.lower()
    return _score("ocrbench", item, prediction, list(item.answers), think_tag, hme=hme)


_CHARXIV_CATEGORIES = {"text-in-chart": 1, "text-in-general": 2, "number-in-chart": 3, "number-in-general": 4}


def charxiv(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    """CharXiv reasoning: ``inst_category`` 1–4 (or its name, e.g. ``Number-in-Chart``) selects text or number
    comparison (rule approximation of the GPT judge)."""
    category = item.category.strip()
    if category.replace(".", "", 1).isdigit():
        inst: int | None = int(float(category))
    else:
        inst = _CHARXIV_CATEGORIES.get(category.lower().replace(" ", "-"))
    return _score("charxiv", item, prediction, item.answer, think_tag, inst_category=inst)


def embspatial(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _score("embspatial_mcq", item, prediction, item.answer, think_tag)


def refspatial(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    """RefSpatial: the gold is the ``mask`` column (base64 image; a pixel > 0 is inside)."""
    import numpy as np
    from PIL import Image

    data = decode_image(item.fields.get("mask", ""), item.where("mask"))
    try:
        with Image.open(io.BytesIO(data)) as image:
            mask = np.asarray(image)
    except (OSError, ValueError) as err:  # a header PIL can read over pixel data it cannot (truncated file)
        raise ImageError(f"{item.where('mask')}: the mask image cannot be decoded ({err})") from err
    return _score("point_in_mask", item, prediction, mask, think_tag)


def robospatial(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    return _score("robospatial", item, prediction, item.answer, think_tag)


def grounding(item: EvalItem, prediction: str, think_tag: str) -> ItemScore:
    """RefCOCO/+/g: IoU of the strict ``{"boxes": [...]}`` answer, computed once; item score = Acc@IoU≥0.5
    (the ``acc_iou_0.5`` metric's own threshold rule, :func:`g2rpo.metrics.spatial.iou_hit`), IoU kept."""
    from g2rpo.metrics.spatial import iou_hit

    overlap = _score("iou", item, prediction, item.answer, think_tag)
    return ItemScore("acc_iou_0.5", iou_hit(overlap.score), overlap.answer, {"iou": overlap.score})


SCORERS: dict[str, Scorer] = {
    "choice": choice,
    "circular_choice": circular_choice,
    "math": math,
    "math_or_choice": math_or_choice,
    "mathvista": mathvista,
    "relaxed": relaxed,
    "anls": anls,
    "ocrbench": ocrbench,
    "charxiv": charxiv,
    "embspatial": embspatial,
    "refspatial": refspatial,
    "robospatial": robospatial,
    "grounding": grounding,
}
"""Scorer name (:attr:`Benchmark.scorer`) → adapter."""


def score_item(bench: Benchmark, item: EvalItem, generation: Generation, *, think_tag: str = "thinking") -> ScoredItem:
    """Score one generation for ``item`` with the benchmark's scorer; record the answer the metric extracted.

    An item whose image or mask cannot be decoded (:attr:`EvalItem.error`, or an :class:`ImageError` while
    scoring) becomes an error item: score 0, the message in ``error``."""
    if bench.scorer not in SCORERS:
        raise KeyError(f"unknown scorer {bench.scorer!r}; valid: {sorted(SCORERS)}")
    error = item.error
    if not error:
        try:
            result = SCORERS[bench.scorer](item, generation.text, think_tag)
        except ImageError as err:  # an undecodable mask: this item's error, the other items are scored
            error = str(err)
    if error:
        return ScoredItem(
            item.index, generation.text, "", 0.0, item.category, item.split, generation.n_tokens, error=error
        )
    return ScoredItem(
        index=item.index,
        prediction=generation.text,
        extracted=result.answer,
        score=result.score,
        category=item.category,
        split=item.split,
        n_tokens=generation.n_tokens,
        extras=result.extras,
    )
