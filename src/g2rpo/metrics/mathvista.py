"""MathVista testmini accuracy (benchmarks.md §2.4), rule-based.

Both reference pipelines call GPT-4 to extract the answer when their quick rules fail. Offline, this library's
answer extraction (``<answer>`` block, then the last ``\\boxed{}``) stands in for that extraction step: the
score is the reference's quick-rule path applied to the extracted answer. This is an approximation wherever a
model writes a final answer that only an LLM would isolate.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import Levenshtein

from g2rpo.metrics.choice import can_infer
from g2rpo.metrics.parsing import load_structured, python_float

__all__ = ["MATHVISTA_RULES", "MathVistaGold", "mathvista", "mathvista_official", "mathvista_vlmevalkit"]

MATHVISTA_RULES: tuple[str, ...] = ("vlmevalkit", "official")


@dataclass(frozen=True)
class MathVistaGold:
    """One MathVista item's reference fields.

    Attributes:
        answer: the gold answer string (the option TEXT for multiple choice).
        question_type: ``"multi_choice"`` or ``"free_form"``.
        answer_type: ``"text"``, ``"integer"``, ``"float"`` or ``"list"``.
        choices: option texts, in order (lettered A, B, …), for multiple choice.
        precision: decimals for ``float`` answers (official rule).
    """

    answer: str
    question_type: str
    answer_type: str
    choices: tuple[str, ...] = ()
    precision: int | None = None

    @classmethod
    def from_record(cls, record: MathVistaGold | Mapping[str, Any]) -> MathVistaGold:
        """Accept the dataclass or a mapping with the same keys (a MathVista row)."""
        if isinstance(record, MathVistaGold):
            return record
        missing = [k for k in ("answer", "question_type", "answer_type") if k not in record]
        if missing:
            raise ValueError(f"MathVista gold lacks field(s) {missing}; got keys {sorted(record)}")
        precision = record.get("precision")
        return cls(
            answer=str(record["answer"]),
            question_type=str(record["question_type"]),
            answer_type=str(record["answer_type"]),
            choices=tuple(str(c) for c in (record.get("choices") or ())),
            precision=None if precision is None or precision != precision else int(precision),
        )

    @property
    def letters(self) -> list[str]:
        return list(string.ascii_uppercase[: len(self.choices)])

    @property
    def answer_option(self) -> str:
        """The letter of the gold option (multiple choice)."""
        if self.answer not in self.choices:
            raise ValueError(f"MathVista gold answer {self.answer!r} is not one of its choices {self.choices}")
        return self.letters[self.choices.index(self.answer)]


def _python_int(text: str) -> int | None:
    try:
        return int(text)
    except (ValueError, TypeError, OverflowError):
        return None


def _as_list(text: str) -> list[Any] | None:
    value = load_structured(text)
    return list(value) if isinstance(value, list | tuple) else None


def _items_equal(a: Any, b: Any) -> bool:
    fa, fb = python_float(str(a)), python_float(str(b))
    if fa is not None and fb is not None:
        return math.isfinite(fa) and fa == fb
    return str(a).strip().lower() == str(b).strip().lower()


def mathvista_vlmevalkit(pred: str, gold: MathVistaGold) -> float:
    """VLMEvalKit ``post_check`` on the extracted answer: MC → ``can_infer(pred, choices)`` equals the gold
    letter; integer → ``int(pred) == int(gold)`` (``"14.0"`` fails); float → ``float(pred) == float(gold)``
    exactly; list → element-wise equality of the parsed lists; text → case-insensitive string equality.

    Deviation: VLMEvalKit compares ``str(None)`` for list answers (never correct); the lists are compared."""
    if gold.question_type == "multi_choice":
        choices = dict(zip(gold.letters, gold.choices, strict=True))
        return 1.0 if can_infer(pred, choices) == gold.answer_option else 0.0
    if gold.answer_type == "integer":
        p, g = _python_int(pred), _python_int(gold.answer)
        return 1.0 if p is not None and p == g else 0.0
    if gold.answer_type == "float":
        p, g = python_float(pred), python_float(gold.answer)
        return 1.0 if p is not None and g is not None and math.isfinite(p) and p == g else 0.0
    if gold.answer_type == "list":
        p_list, g_list = _as_list(pred), _as_list(gold.answer)
        if p_list is None or g_list is None or len(p_list) != len(g_list):
            return 0.0
        return 1.0 if all(_items_equal(a, b) for a, b in zip(p_list, g_list, strict=True)) else 0.0
    return 1.0 if pred.strip().lower() == gold.answer.strip().lower() else 0.0


_PAREN_LETTER = re.compile(r"\(([a-zA-Z])\)")


def _official_normalize(pred: str, gold: MathVistaGold) -> str | None:
    if gold.question_type == "multi_choice":
        extraction = pred.strip()
        letter = _PAREN_LETTER.search(extraction[:100_000])
        if letter:
            extraction = letter.group(1).upper()
        if extraction in gold.letters:
            return gold.choices[gold.letters.index(extraction)]
        if extraction in gold.choices:
            return extraction
        short = extraction[:10_000]
        distances = [Levenshtein.distance(short, c) for c in gold.choices]
        return gold.choices[distances.index(min(distances))] if distances else None
    if gold.answer_type == "integer":
        value = python_float(pred)
        if value is None or not math.isfinite(value):
            return None
        return str(int(value))
    if gold.answer_type == "float":
        value = python_float(pred)
        if value is None or not math.isfinite(value):
            return None
        return str(round(value, int(gold.precision if gold.precision is not None else 2)))
    return pred


def mathvista_official(pred: str, gold: MathVistaGold) -> float:
    """Official ``calculate_score.py``: ``normalize_extracted_answer`` then string equality with the gold.

    MC: ``(x)`` → the letter upper-cased; an option letter (case-sensitive) → its text; else the choice with
    the smallest Levenshtein distance (ties → first). Integer: ``str(int(float(x)))`` (truncates 14.6 → 14).
    Float: ``str(round(float(x), precision))``. List / text: the string itself."""
    normalized = _official_normalize(pred, gold)
    return 1.0 if normalized is not None and normalized == gold.answer else 0.0


def mathvista(pred: str, gold: MathVistaGold | Mapping[str, Any], *, rule: str = "vlmevalkit") -> float:
    """MathVista item score, 1.0 or 0.0, under ``rule`` ∈ :data:`MATHVISTA_RULES` (default VLMEvalKit, the
    pipeline OpenVLThinkerV2 used). ``gold`` is a :class:`MathVistaGold` or a MathVista row mapping.

    Approximation: the GPT-4 answer extractor of both references is replaced by the library's answer
    extraction (see the module docstring)."""
    record = MathVistaGold.from_record(gold)
    if rule == "vlmevalkit":
        return mathvista_vlmevalkit(pred, record)
    if rule == "official":
        return mathvista_official(pred, record)
    raise ValueError(f"unknown MathVista rule {rule!r}; valid: {', '.join(MATHVISTA_RULES)}")

