"""CharXiv reasoning questions (benchmarks.md §2.8): a RULE-BASED APPROXIMATION of the GPT-4o rubric.

The reference grades with an LLM judge (gpt-4o-2024-05-13 officially, gpt-4o-mini in VLMEvalKit) following a
per-category rubric. Offline, this module approximates the rubric:

* numbers (categories 3, 4, and any gold that parses as a number): equal in value after parsing plain,
  thousands-separated, scientific (``1.5e3``) and power notation (``10^-2``, ``10^{-2}``, ``1.5 × 10^3``);
  ``0.012 ≠ 0.01`` (relative tolerance 1e-9, i.e. float noise only);
* text (categories 1, 2): the same set of terms after normalisation (lower case, ``(b)`` ≡ ``b``, Greek
  letters ≡ their names, surrounding ``$``/``\\text{}``/quotes/trailing period removed); terms are split on
  commas, semicolons and `` and ``; order does not matter, any differing term → 0.

A judge also accepts paraphrases with the same meaning (category 2 without options) — this rule does not.
Scores from this module are NOT comparable with published CharXiv numbers; they are a cheap proxy.
"""

from __future__ import annotations

import math
import re

from g2rpo.metrics.parsing import parse_number, python_float

__all__ = ["charxiv", "charxiv_number", "charxiv_terms"]

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}  # fmt: skip
_POWER = re.compile(
    r"\A([-+]?(?:\d+(?:\.\d*)?|\.\d+))?\s*(?:(?:[x×*]|\\times|\\cdot)\s*)?10\s*\^\s*\{?\s*([-+−]?\d+)\s*\}?\Z"
)
_TERM_SPLIT = re.compile(r"\s*(?:,|;|\band\b)\s*")
_MAX_CHARS = 2_000


def charxiv_number(text: str) -> float | None:
    """The value of a numeric answer in plain, scientific or power notation, else ``None``."""
    s = text.strip().strip("$").strip()
    if len(s) > 200:
        return None
    s = s.replace("−", "-")
    value = parse_number(s, strip_units=True)
    if value is not None:
        return value
    match = _POWER.match(s)
    if match is None:
        return None
    mantissa = python_float(match.group(1)) if match.group(1) else 1.0
    exponent = int(match.group(2).replace("−", "-"))
    if mantissa is None or abs(exponent) > 300:
        return None
    return mantissa * 10.0**exponent


def _normalize_term(term: str) -> str:
    t = term.strip().lower()
    for symbol, name in _GREEK.items():
        t = t.replace(symbol, name)
    t = re.sub(r"\\text\{([^{}]*)\}", r"\1", t)
    t = t.replace("\\", "")
    t = t.strip(" $'\"`.")
    if len(t) >= 2 and t[0] == "(" and t[-1] == ")":
        t = t[1:-1].strip()
    return " ".join(t.split())


def charxiv_terms(text: str) -> frozenset[str]:
    """The normalised set of terms of a text answer (see the module docstring)."""
    return frozenset(t for t in (_normalize_term(p) for p in _TERM_SPLIT.split(text.strip())) if t)


def charxiv(pred: str, gold: str, *, inst_category: int | None = None) -> float:
    """CharXiv reasoning item score, 1.0 or 0.0 — a rule-based APPROXIMATION of the GPT judge's rubric.

    Args:
        pred: the extracted answer.
        gold: the gold answer.
        inst_category: 1 Text-in-Chart, 2 Text-in-General, 3 Number-in-Chart, 4 Number-in-General; with 3 or
            4 the answers are compared as numbers only. ``None``: numbers if the gold parses as one.
    """
    if inst_category not in (None, 1, 2, 3, 4):
        raise ValueError(f"inst_category must be 1, 2, 3, 4 or None; got {inst_category!r}")
    p_text = pred[-_MAX_CHARS:]
    g_value = charxiv_number(gold)
    if inst_category in (3, 4) or (inst_category is None and g_value is not None):
        p_value = charxiv_number(p_text)
        if g_value is None or p_value is None or not (math.isfinite(p_value) and math.isfinite(g_value)):
            return 0.0 if inst_category in (3, 4) or p_value is not None else _terms_equal(p_text, gold)
        return 1.0 if math.isclose(p_value, g_value, rel_tol=1e-9, abs_tol=0.0) else 0.0
    return _terms_equal(p_text, gold)


def _terms_equal(pred: str, gold: str) -> float:
    g = charxiv_terms(gold)
    return 1.0 if g and charxiv_terms(pred) == g else 0.0
