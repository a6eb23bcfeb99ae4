"""The mathruler 0.1.0 grader that ``rules="reference"`` grades math with (the PRM800K / Hendrycks MATH graders):
two normalisations (:func:`mathd_normalise`, :func:`prm_normalise`), string equality under either, then
element-wise symbolic comparison that only evaluates plain arithmetic text.
"""

from __future__ import annotations

import functools
import re

# ---------------------------------------------------------------- mathruler grade_answer
# Behaviour of mathruler 0.1.0's grader (the PRM800K / Hendrycks MATH graders): two normalisations, string
# equality under either, then element-wise symbolic comparison.
_TEXT_WRAPPER = re.compile(r"^\\text\{(?P<text>.+?)\}$")
_UNITS = (
    "degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month", "year",
    "foot", "feet", "inch", "yard",
)  # fmt: skip
_UNIT_PATTERNS = tuple(re.compile(rf"{unit}(es)?(s)? *(\^[0-9]+)?") for unit in _UNITS)
_GROUPED_COMMA = re.compile(r"(\d)(,)(\d\d\d)($|\D)")
_FRACTION = re.compile(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$")
_SAFE_EXPRESSION = re.compile(r"[0-9A-Za-z+\-*/^(). ]*")
_BRACKETS = "()[]"


def _mathd_fracs(text: str) -> str:
    """``\\frac12`` → ``\\frac{1}{2}``, ``\\frac1{2}`` → ``\\frac{1}{2}``; unchanged if a part is too short."""
    head, *parts = text.split("\\frac")
    out = [head]
    for part in parts:
        out.append("\\frac")
        if part[0] == "{":
            out.append(part)
        elif len(part) < 2:
            return text
        elif part[1] != "{":
            out.append(f"{{{part[0]}}}{{{part[1]}}}{part[2:]}")
        else:
            out.append(f"{{{part[0]}}}{part[1:]}")
    return "".join(out)


def _mathd_slash(text: str) -> str:
    """``3/4`` → ``\\frac{3}{4}`` when both sides are plain integers."""
    parts = text.split("/")
    if len(parts) != 2:
        return text
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return text
    return f"\\frac{{{a}}}{{{b}}}" if text == f"{a}/{b}" else text


def _mathd_strip(s: str) -> str:
    for old, new in (("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac")):
        s = s.replace(old, new)
    for old in ("\\left", "\\right", "^{\\circ}", "^\\circ", "\\$"):
        s = s.replace(old, "")
    if "\\text{ " in s:
        unit_split = s.split("\\text{ ")
        if len(unit_split) != 2:
            raise ValueError("more than one unit")
        s = unit_split[0]
    s = s.replace("\\%", "").replace("%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        s = sides[1]
    if "\\sqrt" in s:
        head, *parts = s.split("\\sqrt")
        s = head + "".join("\\sqrt" + (p if p[0] == "{" else f"{{{p[0]}}}{p[1:]}") for p in parts)
    s = _mathd_fracs(s.replace(" ", ""))
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _mathd_slash(s)


def mathd_normalise(answer: str) -> str:
    """The Hendrycks MATH normaliser; any failure inside returns the text as it stood before it."""
    answer = answer.strip()
    wrapped = _TEXT_WRAPPER.search(answer)
    if wrapped is not None:
        answer = wrapped.group("text").strip()
    try:
        return _mathd_strip(answer)
    except (IndexError, ValueError):
        return answer


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _near_int(x: float) -> bool:
    try:
        return abs(x - round(x)) <= 1e-7
    except (OverflowError, ValueError):
        return False


def _drop_grouping_commas(text: str) -> str:
    while True:
        new = _GROUPED_COMMA.sub(r"\1\3\4", text)
        if new == text:
            return new
        text = new


def _int_text(text: str) -> str | None:
    """``str(int(x))`` when ``text`` (grouping commas dropped) is a float within 1e-7 of an integer."""
    value = _as_float(_drop_grouping_commas(text))
    if value is None or not _near_int(value):
        return None
    return str(int(float(text.replace(",", ""))))


_LATEX_SYMBOLS = {"pi": "π", "infty": "∞", "cup": "∪", "cdot": "·", "times": "×", "circ": "∘", "%": "%",
                  "$": "$", "{": "{", "}": "}", ",": " ", ";": " ", " ": " ", "!": ""}  # fmt: skip
_LATEX_MACRO = re.compile(r"\\([A-Za-z]+|.)")
_LATEX_ARG = r"(\{[^{}\\]*\}|[^\s{}\\])"
_LATEX_SQRT = re.compile(rf"\\sqrt(?:\[[^\]]*\])?\s*{_LATEX_ARG}")
_LATEX_FRAC = re.compile(rf"\\frac\s*{_LATEX_ARG}\s*{_LATEX_ARG}")


def _latex_to_text(expr: str) -> str:
    """pylatexenc's ``LatexNodes2Text`` where installed, else a small stand-in for the common macros
    (``\\frac{a}{b}`` → ``a/b``, ``\\sqrt{x}`` → ``√(x)``, symbols, other macros dropped, groups kept)."""
    try:
        from pylatexenc.latex2text import LatexNodes2Text
    except ImportError:
        text, previous = expr, None
        while text != previous:  # innermost first: \frac{\sqrt{3}}{2} → √(3)/2
            previous = text
            text = _LATEX_SQRT.sub(lambda m: f"√({_group(m.group(1))})", text)
            text = _LATEX_FRAC.sub(lambda m: f"{_group(m.group(1))}/{_group(m.group(2))}", text)
        text = _LATEX_MACRO.sub(lambda m: _LATEX_SYMBOLS.get(m.group(1), ""), text)
        return text.replace("{", "").replace("}", "").replace("$", "")
    return LatexNodes2Text().latex_to_text(expr)


def _group(arg: str) -> str:
    return arg[1:-1] if arg.startswith("{") else arg


def prm_normalise(expr: str) -> str:
    """The PRM800K normaliser: units, ``%``, ``$`` and LaTeX removed, spaces dropped, lower case."""
    wrapped = _TEXT_WRAPPER.search(expr)
    if wrapped is not None:
        expr = wrapped.group("text")
    for old, new in (("\\%", "%"), ("\\$", "$"), ("$", ""), ("%", ""), (" or ", " , "), (" and ", " , "),
                     ("million", "*10^6"), ("billion", "*10^9"), ("trillion", "*10^12")):  # fmt: skip
        expr = expr.replace(old, new)
    for pattern in _UNIT_PATTERNS:
        expr = pattern.sub("", expr)
    expr = re.sub(r"\^ *\\circ", "", expr)
    if expr and expr[0] == "{" and expr[-1] == "}":
        expr = expr[1:-1]
    expr = re.sub(r",\\! *", "", expr)
    value = _as_float(expr)
    if value is not None and _near_int(value):
        expr = str(round(value))
    if "\\" in expr:
        try:
            text = expr.replace("\\tfrac", "\\frac").replace("\\dfrac", "\\frac").replace("\\frac", " \\frac")
            text = _latex_to_text(text)
            for old, new in (("√", "sqrt"), ("π", "pi"), ("∞", "inf"), ("∪", "U"), ("·", "*"), ("×", "*")):
                text = text.replace(old, new)
            expr = text.strip()
        except Exception:  # the release ignores a LaTeX conversion failure
            pass
    expr = re.sub("- *", "-", expr)
    expr = re.sub("([0-9]) +([0-9])", r"\1+\2", expr)
    expr = expr.replace(" ", "").replace("{", "").replace("}", "").lower()
    as_int = _int_text(expr)
    return as_int if as_int is not None else expr


def _split_tuple(expr: str) -> list[str]:
    expr = _drop_grouping_commas(expr)
    if not expr:
        return []
    inner = expr[1:-1]
    if len(expr) > 2 and expr[0] in _BRACKETS and expr[-1] in _BRACKETS and not any(c in inner for c in _BRACKETS):
        return [part.strip() for part in inner.split(",")]
    return [expr]


def _evaluable(expr: str) -> bool:
    """The release's guard (≤ 2 distinct letters besides ``sqrt``/``frac``, no ``^{``, ``^(``, ``^d^`` or
    multi-digit exponent) plus ours: plain arithmetic characters only, no ``**``."""
    letters = {c for c in expr.replace("sqrt", "").replace("frac", "") if c.isalpha()}
    if len(letters) > 2 or "^{" in expr or "^(" in expr:
        return False
    if re.search(r"\^[0-9]+\^", expr) or re.search(r"\^[0-9][0-9]+", expr):
        return False
    return _SAFE_EXPRESSION.fullmatch(expr) is not None and "**" not in expr


@functools.lru_cache(maxsize=4096)
def _sympy_equal(gold: str, given: str) -> bool:
    """Whether sympy simplifies ``(gold)-(given)`` to 0 (a few ms; memoised: a group repeats its answers)."""
    expr = f"({gold})-({given})"
    if not _evaluable(expr):
        return False
    try:
        import sympy
        from sympy.parsing import sympy_parser

        transformations = (*sympy_parser.standard_transformations, sympy_parser.implicit_multiplication_application)
        difference = sympy_parser.parse_expr(expr.replace("^", "**"), transformations=transformations)
        return bool(sympy.simplify(difference) == 0)
    except Exception:
        return False


def grade_answer(given: str, gold: str) -> bool:
    """mathruler's ``grade_answer(given, gold)``: equal after :func:`mathd_normalise`, or after
    :func:`prm_normalise`, or element by element (tuples/intervals split on commas, same brackets) where
    reduced fractions must match exactly, an integer gold needs an integer answer, and anything else must
    have a symbolic difference of 0."""
    if mathd_normalise(given) == mathd_normalise(gold):
        return True
    gold_n, given_n = prm_normalise(gold), prm_normalise(given)
    if gold_n == given_n:
        return True
    if not given_n:
        return False
    gold_parts, given_parts = _split_tuple(gold_n), _split_tuple(given_n)
    if len(gold_parts) > 1 and (gold_n[0] != given_n[0] or gold_n[-1] != given_n[-1]):
        return False
    if len(gold_parts) != len(given_parts):
        return False
    for g, p in zip(gold_parts, given_parts, strict=True):
        if _FRACTION.search(g) and _FRACTION.search(p):
            equal = g == p
        elif (_int_text(g) is None) != (_int_text(p) is None):
            equal = False
        else:
            equal = _sympy_equal(g, p)
        if not equal:
            return False
    return True
