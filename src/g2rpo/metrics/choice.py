"""Multiple-choice option matching (benchmarks.md §2.2, §2.3, §2.3b) and MMBench CircularEval.

The benchmark rule is VLMEvalKit's ``can_infer`` (the version vendored in OneThinker) under the
*exact-matching* policy: no LLM judge, an unmatched prediction counts as wrong. Where VLMEvalKit would call a
ChatGPT judge for unmatched answers (when an API key is set), this library substitutes "wrong" — the same
result VLMEvalKit gives without a key.

:func:`lenient_option_letter` is the tolerant matcher for *training* rewards (recipe §4): it accepts ``(B)``,
``B.``, ``B) text``, ``\\boxed{B}``, ``The answer is B`` and the option text itself.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "CIRCULAR_MODULUS",
    "Choices",
    "as_choices",
    "can_infer",
    "can_infer_option",
    "can_infer_text",
    "circular_group_ids",
    "lenient_option_letter",
    "mmbench_circular_accuracy",
    "mmbench_circular_group",
    "multiple_choice",
    "normalize_gold_letter",
]

Choices = Mapping[str, str] | None
"""Options as letter → text in letter order (``{"A": "cat", "B": "dog"}``, the project's one options shape,
``g2rpo.data.options``), or ``None`` (letters only, text matching disabled)."""

CIRCULAR_MODULUS = 1_000_000
"""MMBench rows whose ``index % CIRCULAR_MODULUS`` is equal are rotations of one question."""

_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_API_FAILURE = "Failed to obtain answer via API"
_SEPARATORS = str.maketrans({c: " " for c in ".()[],:;!*#{}"})


def as_choices(choices: Choices, gold: str | None = None) -> dict[str, str]:
    """Normalise ``choices`` to ``{letter: text}``.

    ``None`` gives letters ``A``–``D`` (extended up to ``gold`` when it is a later letter) with empty texts,
    which disables text matching.
    """
    if choices is None:
        last = "D"
        if gold is not None and len(gold) == 1 and gold in string.ascii_uppercase and gold > last:
            last = gold
        return {c: "" for c in string.ascii_uppercase[: ord(last) - ord("A") + 1]}
    if isinstance(choices, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in choices.items()}
    raise TypeError(
        f"choices must be a mapping letter → text, got {type(choices).__name__}; "
        "for a list of texts in A, B, … order pass dict(zip(string.ascii_uppercase, texts))"
    )


def can_infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit ``can_infer_option``: the option letter written as a token near the end, ``"Z"`` for a
    refusal, or ``None``.

    Rule: a refusal string → ``"Z"``; replace each of ``.()[],:;!*#{}`` by a space and split on whitespace;
    if exactly one option letter (case-sensitive) occurs as a token and its first occurrence is among the
    last four tokens → that letter; if no option letter occurs and ``Z`` is a token → ``"Z"``.
    """
    if _API_FAILURE in answer:
        return None
    if any(refusal in answer for refusal in _REFUSALS):
        return "Z"
    tokens = answer.translate(_SEPARATORS).split()
    present = set(tokens)
    found = [c for c in choices if c in present]
    if len(found) == 1:
        letter = found[0]
        if tokens.index(letter) > len(tokens) - 5:
            return letter
        return None
    if not found and "Z" in present:
        return "Z"
    return None


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit ``can_infer_text``: the unique option whose lower-cased text is a substring of the
    lower-cased answer, provided ``len(answer) <= 2 * sum(len(text))``; else ``None``."""
    total = sum(len(text) for text in choices.values())
    if total == 0 or len(answer) > 2 * total:
        return None
    lowered = answer.lower()
    found = [k for k, text in choices.items() if text.lower() in lowered]
    return found[0] if len(found) == 1 else None


def can_infer(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit ``can_infer``: :func:`can_infer_option`, else :func:`can_infer_text`."""
    return can_infer_option(answer, choices) or can_infer_text(answer, choices)


def normalize_gold_letter(gold: str, choices: Mapping[str, str]) -> str:
    """The gold option letter: ``"B"``, ``"(B)"``, ``"B."`` or an option's exact text (case-insensitive).

    Raises:
        ValueError: the gold is neither an option letter nor an option text (a data error).
    """
    g = str(gold).strip()
    if g in choices:
        return g
    bare = g.strip("().: ")
    if bare in choices:
        return bare
    if bare.upper() in choices and len(bare) == 1:
        return bare.upper()
    for letter, text in choices.items():
        if text and text.strip().lower() == g.lower():
            return letter
    raise ValueError(f"gold {gold!r} is neither an option letter nor an option text of {dict(choices)!r}")


def multiple_choice(pred: str, gold: str, *, choices: Choices = None) -> float:
    """VLMEvalKit multiple-choice accuracy (MMStar, AI2D, MMBench per rotation, MathVision MC).

    ``1.0`` iff ``can_infer(pred, choices) == gold letter``; ``0.0`` otherwise (unmatched → ``Z`` → wrong,
    the exact-matching policy; the optional LLM judge is not used). A bare letter is always read as the
    option letter, even when option texts are letters themselves (AI2D's masked diagrams).
    """
    options = as_choices(choices, str(gold).strip())
    letter = normalize_gold_letter(gold, options)
    return 1.0 if can_infer(pred, options) == letter else 0.0


def mmbench_circular_group(scores: Iterable[float]) -> float:
    """CircularEval group score: ``1.0`` iff every rotation scored 1 (an empty group is an error)."""
    values = list(scores)
    if not values:
        raise ValueError("a CircularEval group needs at least one rotation")
    return 1.0 if all(v >= 1.0 for v in values) else 0.0


def circular_group_ids(indices: Iterable[int]) -> list[int]:
    """MMBench group id of each row: ``index % 1_000_000`` (rotations share it)."""
    return [int(i) % CIRCULAR_MODULUS for i in indices]


def mmbench_circular_accuracy(indices: Sequence[int], scores: Sequence[float]) -> float:
    """MMBench CircularEval accuracy: mean over groups of :func:`mmbench_circular_group`.

    Args:
        indices: the MMBench ``index`` of each scored row (rotations differ by multiples of 1e6).
        scores: the per-row ``compute("mmbench_circular", …).score``, same length.
    """
    if len(indices) != len(scores):
        raise ValueError(f"indices ({len(indices)}) and scores ({len(scores)}) differ in length")
    groups: dict[int, list[float]] = {}
    for gid, score in zip(circular_group_ids(indices), scores, strict=True):
        groups.setdefault(gid, []).append(float(score))
    if not groups:
        return 0.0
    return sum(mmbench_circular_group(v) for v in groups.values()) / len(groups)


_WRAPPERS = (
    re.compile(r"\A\\boxed\{(.*)\}\Z", re.DOTALL),
    re.compile(r"\A\$+(.*?)\$+\Z", re.DOTALL),
    re.compile(r"\A\*\*(.*)\*\*\Z", re.DOTALL),
    re.compile(r"\A\\text\{(.*)\}\Z", re.DOTALL),
    re.compile(r"\A\{(.*)\}\Z", re.DOTALL),
)
_LEADING_LETTER = re.compile(r"\A(?:\(([A-Za-z])\)|([A-Za-z])(?=[.:)\]]|\Z))")
_ANSWER_IS = re.compile(r"(?i)(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Z])\)?(?![A-Za-z])")


def lenient_option_letter(text: str, choices: Choices = None) -> str | None:
    """The option letter of a short training answer, tolerant of formatting (recipe §4); ``None`` if none.

    Tries in order: unwrap ``\\boxed{}``, ``$…$``, ``**…**``, ``\\text{}``, ``{}``; a letter at the start
    (``B``, ``(B)``, ``(B) text``, ``B.``, ``B) text``, ``b`` alone; not ``B dog``); ``answer is B`` / ``Option B``; an option text equal
    to the answer (case- and trailing-punctuation-insensitive). Only letters of ``choices`` count (A–Z when
    ``choices`` is None). Only the first 1,000 characters are examined.
    """
    s = text.strip()[:1000]
    for _ in range(4):
        for wrapper in _WRAPPERS:
            match = wrapper.match(s)
            if match:
                s = match.group(1).strip()
                break
        else:
            break
    options = as_choices(choices) if choices is not None else None
    valid = set(options) if options is not None else set(string.ascii_uppercase)
    match = _LEADING_LETTER.match(s)
    if match:
        letter = match.group(1) or match.group(2)
        if letter.isupper() or len(s.strip("().")) == 1:
            letter = letter.upper()
            if letter in valid:
                return letter
    match = _ANSWER_IS.search(s)
    if match and match.group(1) in valid:
        return match.group(1)
    if options is not None:
        bare = s.strip(" .").lower()
        for letter, option_text in options.items():
            if option_text and option_text.strip(" .").lower() == bare:
                return letter
    return None
