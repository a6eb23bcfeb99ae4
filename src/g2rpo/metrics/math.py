"""Numeric equality and symbolic math equivalence (recipe §4; benchmarks.md §2.5, §2.6, §3.1).

``math_equiv`` is ``math_verify.verify(parse(gold), parse(pred))`` (gold first: the order matters), the
OneThinker / OpenVLThinkerV2 training reward for problem type ``math`` and this library's rule-based
substitute for the GPT judge of MathVerse (and the GPT extraction of MathVision's free-form answers).
"""

from __future__ import annotations

import logging
import math

from g2rpo.metrics.parsing import parse_number
from g2rpo.metrics.timeouts import call_with_time_limit

__all__ = [
    "DEFAULT_MATH_TIMEOUT_S",
    "MAX_MATH_CHARS",
    "math_equiv",
    "math_equiv_unlimited",
    "numbers_equal",
    "numeric",
    "warm_up",
]

MAX_MATH_CHARS = 4096
"""Longer inputs are cut to their LAST ``MAX_MATH_CHARS`` characters (final answers come last) before
math-verify sees them; this bounds the regex and parsing work."""

DEFAULT_MATH_TIMEOUT_S = 3.0
"""Default hard limit of one :func:`math_equiv` call, parsing and comparison together."""

_DELIMITERS = ("$", "\\[", "\\(", "\\boxed")

# math-verify warns once when its own (integer-second, signal-based) timeouts are disabled: we impose ours.
logging.getLogger("math_verify").setLevel(logging.ERROR)


def numbers_equal(pred: float, gold: float, *, decimals: int = 2) -> bool:
    """``round(pred, decimals) == round(gold, decimals)`` for finite values; non-finite values never match."""
    if not (math.isfinite(pred) and math.isfinite(gold)):
        return False
    return round(pred, decimals) == round(gold, decimals)


def numeric(pred: str, gold: str | float, *, decimals: int = 2, strip_units: bool = True) -> float:
    """Numeric equality at ``decimals`` precision (training ``numerical`` rule, recipe §4 / benchmarks §3.1).

    Both sides go through :func:`g2rpo.metrics.parsing.parse_number` (commas, currency, and — with
    ``strip_units`` — a trailing unit or ``%`` removed), then ``round(·, decimals)`` must agree.

    Deviation: the reference only removes commas (``float(x.replace(',', ''))``), so ``12 cm`` scores 0 there
    and 1 here; and the reference accepts ``inf == inf``, which scores 0 here.

    Returns:
        1.0 or 0.0.
    """
    p = parse_number(pred, strip_units=strip_units)
    g = float(gold) if isinstance(gold, int | float) else parse_number(str(gold), strip_units=strip_units)
    if p is None or g is None:
        return 0.0
    return 1.0 if numbers_equal(p, g, decimals=decimals) else 0.0


def _prepare(text: str, wrap_bare_latex: bool) -> str:
    s = text.strip()
    if len(s) > MAX_MATH_CHARS:
        s = s[-MAX_MATH_CHARS:]
    if wrap_bare_latex and "\\" in s and not any(d in s for d in _DELIMITERS):
        s = f"${s}$"
    return s


def _string_fallback(pred: str, gold: str) -> bool:
    def norm(s: str) -> str:
        return "".join(s.split()).strip("$").rstrip(".")

    p, g = norm(pred), norm(gold)
    return bool(g) and p == g


def math_equiv_unlimited(pred: str, gold: str, wrap_bare_latex: bool = True) -> float:
    """:func:`math_equiv` without the time limit. Call it only under a limit (see ``timeouts``)."""
    from math_verify import parse, verify

    p_text, g_text = _prepare(pred, wrap_bare_latex), _prepare(gold, wrap_bare_latex)
    if _string_fallback(p_text, g_text):
        return 1.0
    try:
        gold_parsed = parse(g_text, parsing_timeout=None)
        pred_parsed = parse(p_text, parsing_timeout=None)
        if not gold_parsed or not pred_parsed:
            return 0.0
        return 1.0 if verify(gold_parsed, pred_parsed, timeout_seconds=None) else 0.0
    except Exception:  # math-verify / sympy raise many types on adversarial input: that input is wrong
        return 0.0


_WARM = False


def warm_up() -> None:
    """Import math-verify and build its parsers once, outside any time limit.

    A time limit that expires during the first, lazy initialisation would leave half-initialised module state
    behind and make every later call in the process fail; :func:`math_equiv` therefore warms up first.
    """
    global _WARM
    if not _WARM:
        math_equiv_unlimited("$\\frac{1}{2}$", "0.5")
        math_equiv_unlimited("$\\{1, 2\\}$", "$x = 2$")
        _WARM = True


def math_equiv(
    pred: str,
    gold: str,
    *,
    timeout_s: float = DEFAULT_MATH_TIMEOUT_S,
    wrap_bare_latex: bool = True,
) -> float:
    """Mathematical equivalence by math-verify, under a hard time limit.

    ``1.0`` iff ``math_verify.verify(parse(gold), parse(pred))`` (sets order-free, intervals respect their
    ends, ``5%`` = 0.05, ``12 cm`` = 12, ``30^\\circ`` = 30, …) or the two answers are the same string
    modulo whitespace and ``$``; ``0.0`` otherwise, on any parse failure, and when ``timeout_s`` expires
    (including hangs in C code: off the main thread the call runs in a killable worker process, see
    :mod:`g2rpo.metrics.timeouts`). Inputs are cut to their last :data:`MAX_MATH_CHARS` characters.

    Deviations from the reference reward (``verify(parse(gt), parse(ans))``), both only ever turning a
    false 0 into a 1: (1) with ``wrap_bare_latex`` a LaTeX answer without math delimiters (``\\frac{1}{2}``,
    ``\\pi``) is wrapped in ``$…$``, since math-verify does not parse bare LaTeX reliably and a bare gold
    would make the item unwinnable; (2) identical strings count as equal even when math-verify cannot parse
    them (e.g. a gold ``B`` answered ``B``).
    """
    if not isinstance(pred, str) or not isinstance(gold, str):
        raise TypeError("math_equiv expects str prediction and gold")
    warm_up()
    return call_with_time_limit("math_equiv", [pred, gold, wrap_bare_latex], timeout_s, default=0.0)
