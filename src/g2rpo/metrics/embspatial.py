"""EmbSpatial-Bench multiple choice (benchmarks.md §2.12): VLMEvalKit ``can_match_option`` rules."""

from __future__ import annotations

import re

__all__ = ["can_match_option", "embspatial_mcq"]

_TAIL_CHARS = 800
_ANSWER_START = re.compile(r"<answer>\s*([A-Ja-j])")
_BEFORE_CLOSE = re.compile(r"(?<![A-Za-z])\(?([A-Fa-f])\)?\s*</(?:answer|think)>")
_SINGLE_LETTER_LINE = re.compile(r"\A[\s*_`#>\-]*\(?([A-Fa-f])\)?[\s*_`.]*\Z")
_LETTER_LINE_START = re.compile(r"\A[\s*_`#>\-]*([A-F])[.)]")
_STANDALONE = re.compile(r"(?<![A-Za-z])([A-F])(?![A-Za-z])")
_PHRASE = re.compile(
    r"(?i)(?:final answer|the answer is|correct answer|answer|最终答案|正确答案|答案)"
    r"(?:\s*(?:is|:|：))?[\s*_`]*\(?([A-F])\)?(?![A-Za-z])"
)
_ENUMERATION = re.compile(r"\A\s*\(?[A-F][.):]\s+\S")


def _unique_standalone(line: str) -> str | None:
    letters = set(_STANDALONE.findall(line))
    return letters.pop() if len(letters) == 1 else None


def _from_lines(lines: list[str]) -> str | None:
    for line in reversed(lines[-6:]):
        single = _SINGLE_LETTER_LINE.match(line)
        if single and line.strip():
            return single.group(1).upper()
        start = _LETTER_LINE_START.match(line)
        if start:
            return start.group(1)
        letter = _unique_standalone(line)
        if letter:
            return letter
    return None


def can_match_option(text: str) -> str | None:
    """The option letter (A–F; A–J for an ``<answer>`` block) a response commits to, or ``None``.

    In order: (1) an ``<answer>`` block whose content starts with a letter a–j, whatever follows (so
    ``<answer>behind the chair</answer>`` → ``B``; reachable only when the tags are still in the text);
    (2) a standalone letter, optionally bracketed, right before ``</answer>`` or ``</think>`` in the last 800
    characters; (3) in the last 6 lines after the last ``</think>``, scanned from the end: a line that is a
    single letter (markdown allowed, lower case allowed), a line starting ``A.`` / ``B)``, or a line with a
    unique standalone upper-case A–F; (4) the same on the last 6 lines of the whole text; (5) the first
    ``final answer`` / ``the answer is`` / ``correct answer`` / ``answer`` (or Chinese) followed by a letter;
    (6) a unique standalone upper-case letter in the whole text once option-enumeration lines are removed.
    Inputs are scanned over at most their last 100,000 characters.
    """
    s = text[-100_000:]
    match = _ANSWER_START.search(s)
    if match:
        return match.group(1).upper()
    match = _BEFORE_CLOSE.search(s[-_TAIL_CHARS:])
    if match:
        return match.group(1).upper()
    close = s.rfind("</think>")
    if close >= 0:
        letter = _from_lines(s[close + len("</think>") :].strip().splitlines())
        if letter:
            return letter
    letter = _from_lines(s.strip().splitlines()[-6:])
    if letter:
        return letter
    match = _PHRASE.search(s)
    if match:
        return match.group(1).upper()
    kept = "\n".join(line for line in s.splitlines() if not _ENUMERATION.match(line))
    return _unique_standalone(kept)


def embspatial_mcq(pred: str, gold: str) -> float:
    """EmbSpatial-Bench item score: ``can_match_option(pred) == can_match_option(gold)`` (VLMEvalKit rule,
    no judge). Unmatched prediction → 0.

    Raises:
        ValueError: the gold is not an option letter.
    """
    gold_letter = can_match_option(gold.strip())
    if gold_letter is None:
        raise ValueError(f"EmbSpatial gold {gold!r} is not an option letter A–F")
    return 1.0 if can_match_option(pred) == gold_letter else 0.0
