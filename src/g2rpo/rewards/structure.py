"""Well-formedness of an extracted answer for its problem type: the structure term of recipe §4.

Structure is 0.5 when the answer is well-formed for its type and 0 otherwise (and 0 whenever format is 0;
that rule lives in :mod:`g2rpo.rewards.compose`). The authors define it only for grounding (their other types
get 0.5 whenever the format passes, as ``rules="reference"`` does, :mod:`g2rpo.rewards.reference`); the
``g2rpo`` rules give every type a definition, so that a well-tagged but empty or unreadable answer earns no
structure reward:

================== =====================================================================================
problem type       well-formed answer
================== =====================================================================================
multiple choice    names one option: a letter first (``B``, ``(B)``, ``B.``, ``B) text``, ``\\boxed{B}``),
                   ``answer is B``, or (choices given) an option's text; the reward's own matcher
                   ``g2rpo.metrics.choice.lenient_option_letter`` finds a letter (right or wrong)
numerical          one number, commas, currency sign and a trailing unit allowed (``1,234.5 cm``)
regression         same as numerical
math               non-empty, at most ``MAX_MATH_CHARS`` characters, ``{``/``}`` balanced
ocr                non-empty
open-ended         non-empty
spatial grounding  a JSON object whose ``boxes`` is a list of exactly 4 finite numbers (numeric strings
                   accepted): OneThinker's strict shape check, ``g2rpo.metrics.geometry.parse_box_strict``
================== =====================================================================================
"""

from __future__ import annotations

import math

from g2rpo.metrics.choice import Choices, lenient_option_letter
from g2rpo.metrics.geometry import parse_box_strict
from g2rpo.metrics.parsing import parse_number

MAX_MATH_CHARS = 10_000
"""Longer math answers are not well-formed (math-verify itself only reads the last 4,096 characters)."""


def multiple_choice_well_formed(answer: str, *, choices: Choices = None, **_: object) -> bool:
    """The answer names some option (``g2rpo.metrics.choice.lenient_option_letter`` finds a letter)."""
    return lenient_option_letter(answer, choices) is not None


def number_well_formed(answer: str, **_: object) -> bool:
    """One finite number with optional commas, currency sign and unit."""
    value = parse_number(answer)
    return value is not None and math.isfinite(value)


def math_well_formed(answer: str, **_: object) -> bool:
    """Non-empty, not huge, and every ``}`` closes an earlier ``{``."""
    if not answer or len(answer) > MAX_MATH_CHARS:
        return False
    depth = 0
    for char in answer:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def text_well_formed(answer: str, **_: object) -> bool:
    """Non-empty after stripping."""
    return bool(answer.strip())


def grounding_well_formed(answer: str, **_: object) -> bool:
    """A JSON object whose ``boxes`` is 4 finite numbers: the strict parser of the IoU metric accepts it."""
    return parse_box_strict(answer) is not None
