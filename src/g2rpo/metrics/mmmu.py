"""MMMU scoring (benchmarks.md §2.1): VLMEvalKit's open-question reformulation and the official MMMU parsers.

OpenVLThinkerV2 evaluated with VLMEvalKit: multiple-choice questions use :func:`g2rpo.metrics.choice
.multiple_choice` (``can_infer``), open questions :func:`mmmu_open`. The official MMMU rules are
:func:`mmmu_official_mc` and :func:`mmmu_official_open`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from g2rpo.metrics.choice import Choices, as_choices, can_infer, normalize_gold_letter
from g2rpo.metrics.parsing import python_float

__all__ = [
    "extract_mmmu_numbers",
    "mmmu_official_mc",
    "mmmu_official_open",
    "mmmu_open",
    "normalize_mmmu_str",
    "parse_mmmu_multi_choice",
    "parse_mmmu_open",
]

OTHER_ANSWERS = "Other Answers"
_MAX_CHARS = 200_000


def mmmu_open(pred: str, gold: str) -> float:
    """VLMEvalKit ``MMMU_preproc``: the open question becomes the MCQ ``{A: gold, B: "Other Answers"}`` with
    answer ``A``, scored by ``can_infer`` under exact matching (no judge).

    Pitfalls kept (they are the reference): containment (``"14"`` is found in ``"140"``), and a prediction
    longer than ``2 × (len(gold) + 13)`` characters is refused unless it ends with the letter ``A``."""
    choices = {"A": str(gold), "B": OTHER_ANSWERS}
    return 1.0 if can_infer(pred, choices) == "A" else 0.0


def parse_mmmu_multi_choice(response: str, choices: Mapping[str, str]) -> str | None:
    """Official ``parse_multi_choice_response``, deterministic: the predicted letter or ``None``.

    Strip ``, . ! ? ; : '`` from both ends (one character class after the other), pad with spaces; candidates
    are letters written ``(X)``; else letters written `` X ``; else, only when the response has more than 5
    whitespace tokens, options whose text occurs in it (case-insensitive); several candidates → the one
    occurring last. Deviation: the official parser picks ``random.choice`` when nothing matches; here that is
    ``None`` (scored wrong), which makes the score reproducible per item.
    """
    text = response[:_MAX_CHARS]
    for char in ",.!?;:'":
        text = text.strip(char)
    text = f" {text} "
    candidates = [c for c in choices if f"({c})" in text]
    marker = "({})"
    if not candidates:
        candidates = [c for c in choices if f" {c} " in text]
        marker = " {} "
    by_text = False
    if not candidates and len(text.split()) > 5:
        lowered = text.lower()
        candidates = [c for c, option in choices.items() if option and option.lower() in lowered]
        by_text = True
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if by_text:
        lowered = text.lower()
        positions = [lowered.rfind(choices[c].lower()) for c in candidates]
    else:
        positions = [text.rfind(marker.format(c)) for c in candidates]
    return candidates[positions.index(max(positions))]


def mmmu_official_mc(pred: str, gold: str, *, choices: Choices = None) -> float:
    """Official MMMU multiple-choice score: :func:`parse_mmmu_multi_choice` equals the gold letter."""
    if choices is None:
        raise ValueError("mmmu_official_mc needs choices (option letter → text, or a list of option texts)")
    options = as_choices(choices)
    letter = normalize_gold_letter(gold, options)
    return 1.0 if parse_mmmu_multi_choice(pred, options) == letter else 0.0


_COMMA_NUMBER = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
# The official patterns, with (?<!\d) before digit runs: a match can only start where a run starts, which gives
# the same matches without the quadratic rescans of long digit runs from every position inside them.
_SCIENTIFIC = re.compile(r"-?(?<!\d)\d+(?:\.\d+)?[eE][+-]?\d+")
_SIMPLE = re.compile(r"-?(?:(?<!\d)\d+\.\d+|\.\d+|(?<!\d)\d+)(?![eE][+-]?\d+)(?![,\d])")
_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")


def extract_mmmu_numbers(text: str) -> list[str]:
    """Official ``extract_numbers``: comma-grouped numbers, scientific notation, then simple numbers."""
    return _COMMA_NUMBER.findall(text) + _SCIENTIFIC.findall(text) + _SIMPLE.findall(text)


def normalize_mmmu_str(text: str) -> list[float | str]:
    """Official ``normalize_str``: a number → ``[round(float(x without commas), 2)]``; a string → lower-cased
    (a 1-character string gives ``[" x", "x "]`` so that it only matches as a word)."""
    s = text.strip()
    value = python_float(s.replace(",", ""))
    if value is not None:
        return [round(value, 2)]
    s = s.lower()
    return [" " + s, s + " "] if len(s) == 1 else [s]


def _key_subresponses(response: str) -> list[str]:
    text = response.strip().strip(".").lower()
    # The official parser lower-cases before splitting on r"\.\s(?=[A-Z])", so only newlines split.
    sentences = re.split(r"\.\s(?=[A-Z])|\n", text)
    keys: list[str] = []
    for index, sentence in enumerate(sentences):
        indicators = [*_INDICATORS, "="] if index == len(sentences) - 1 else list(_INDICATORS)
        shortest: str | None = None
        for indicator in indicators:
            if indicator in sentence:
                tail = sentence.split(indicator)[-1].strip()
                if shortest is None or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in (":", ",", ".", "!", "?", ";", "'"):
            keys.append(shortest)
    return keys or [text]


def parse_mmmu_open(response: str) -> list[float | str]:
    """Official ``parse_open_response``: the shortest tail after an indicator word per sentence, plus every
    number found in those tails, each normalised with :func:`normalize_mmmu_str` (deduplicated)."""
    keys = _key_subresponses(response[:_MAX_CHARS])
    candidates: list[str] = list(keys)
    for key in keys:
        candidates.extend(extract_mmmu_numbers(key))
    unique: dict[tuple[str, float | str], float | str] = {}
    for candidate in candidates:
        for value in normalize_mmmu_str(candidate):
            unique.setdefault((type(value).__name__, value), value)
    return list(unique.values())


def mmmu_official_open(pred: str, gold: str | Sequence[str]) -> float:
    """Official ``eval_open``: a number candidate must equal a normalised numeric gold (``round(·, 2)``, so
    140 ≠ 14); a string candidate is correct if any string gold is a substring of it."""
    golds = [gold] if isinstance(gold, str) else list(gold)
    norm_golds: list[float | str] = []
    for g in golds:
        norm_golds.extend(normalize_mmmu_str(str(g)))
    for candidate in parse_mmmu_open(pred):
        if isinstance(candidate, str):
            if any(isinstance(g, str) and g in candidate for g in norm_golds):
                return 1.0
        elif any(isinstance(g, float) and g == candidate for g in norm_golds):
            return 1.0
    return 0.0
