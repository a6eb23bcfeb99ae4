"""Total, bounded parsers for numbers and structured (JSON / Python-literal) answers.

Model output is untrusted: nothing here calls ``eval``. ``ast.literal_eval`` only builds literals, and it (like
``json.loads``) runs only on texts shorter than :data:`MAX_STRUCTURED_CHARS`; every parser returns ``None``
instead of raising on bad input.
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from typing import Any

__all__ = [
    "MAX_STRUCTURED_CHARS",
    "find_numbers",
    "load_structured",
    "parse_number",
    "python_float",
    "strip_code_fence",
]

MAX_STRUCTURED_CHARS = 100_000
"""Longest text given to ``json.loads`` / ``ast.literal_eval``. No real answer is longer; a longer text
(e.g. JSON with a million boxes) is treated as unparseable, which keeps every metric fast."""

_FENCE_HEADER = re.compile(r"[A-Za-z0-9_+\-]*[ \t]*\n?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CURRENCY = "$€£¥₹"
_UNIT_TAIL = re.compile(r"\s*(?:[%°℃℉]|[A-Za-zµμ²³/.\s^{}\\]{1,24})\s*\Z")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def python_float(text: str) -> float | None:
    """``float(text)`` with Python's exact semantics (surrounding whitespace, ``1e3``, ``1_000``, ``inf``,
    ``nan`` accepted), ``None`` where ``float`` raises. This is what the reference scripts call."""
    try:
        return float(text)
    except (ValueError, TypeError, OverflowError):
        return None


def parse_number(text: str, *, strip_units: bool = True) -> float | None:
    """A lenient number parser for short answers (the training ``numerical`` rule, recipe §4).

    Accepts what ``float`` accepts after: stripping; mapping the unicode minus ``−`` to ``-``; removing
    thousands separators (``1,000`` → 1000, only before groups of exactly three digits); dropping a leading
    currency sign; and with ``strip_units`` a short trailing unit or percent sign (``12 cm``, ``45%``,
    ``30°``; the percent sign is dropped, *not* divided by 100, because golds are written in the same unit).
    ``inf`` and ``nan`` spelled out are rejected (they are not answers); overflow to ``inf`` is kept.

    Returns:
        The value, or ``None`` when the text is not a single number.
    """
    if not isinstance(text, str):
        return None
    s = text.strip().replace("−", "-")
    if not s or len(s) > 512:
        return None
    s = _THOUSANDS.sub("", s)
    if s[0] in _CURRENCY:
        s = s[1:].lstrip()
    elif len(s) > 1 and s[0] in "+-" and s[1] in _CURRENCY:
        s = s[0] + s[2:].lstrip()
    if strip_units:
        match = _NUMBER.match(s)
        if match is not None and match.end() < len(s) and _UNIT_TAIL.fullmatch(s, match.end()):
            s = match.group(0)
    if _NUMBER.fullmatch(s) is None:
        return None
    value = python_float(s)
    if value is None or math.isnan(value):
        return None
    return value


def find_numbers(text: str, limit: int = 10_000) -> list[float]:
    """All plain decimal numbers in ``text`` (thousands separators removed), at most ``limit`` of them."""
    out: list[float] = []
    for match in _NUMBER.finditer(_THOUSANDS.sub("", text)):
        value = python_float(match.group(0))
        if value is not None:
            out.append(value)
            if len(out) >= limit:
                break
    return out


def strip_code_fence(text: str) -> str:
    """The content of the first markdown code fence (```` ```json … ``` ````), else the text unchanged.

    Same result as ``re.search(r"```[A-Za-z0-9_+-]*[ \\t]*\\n?(.*?)```", text, re.DOTALL)``, in linear time.
    """
    start = text.find("```")
    if start < 0:
        return text
    i = _FENCE_HEADER.match(text, start + 3).end()  # type: ignore[union-attr]
    end = text.find("```", i)
    return text[i:end] if end >= 0 else text


def load_structured(text: str, *, max_chars: int = MAX_STRUCTURED_CHARS) -> Any | None:
    """Parse a JSON value, else a Python literal (single quotes, tuples); ``None`` when neither parses.

    Texts longer than ``max_chars`` return ``None`` without being parsed. Deep nesting, NUL bytes and other
    garbage are caught (``RecursionError``, ``MemoryError``, ``SyntaxError``, ``ValueError`` …).
    """
    if not isinstance(text, str) or len(text) > max_chars:
        return None
    s = text.strip()
    if not s:
        return None
    try:
        return json.loads(s)
    except (ValueError, RecursionError, MemoryError, TypeError):
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning "invalid decimal literal" from the compiler
            return ast.literal_eval(s)
    except Exception:  # literal_eval raises many types on garbage; a parser must not
        return None
