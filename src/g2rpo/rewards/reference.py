"""``rules="reference"``: the authors' released training reward, rule for rule (recipe §4).

The behaviour reproduced is OpenVLThinkerV2's ``compute_score`` (EasyR1 ``multitask_reward.py``) for the
image problem types; OneThinker's reward is the same with the ``<think>`` tag. Per response:

1. **Tag spacing.** Whitespace next to every ``<``, ``>`` and ``/`` is deleted
   (the authors' ``re.sub(r"\\s*(<|>|/)\\s*", r"\\1", response)``), inside the answer too: ``< answer >`` →
   ``<answer>``, ``1 / 2`` → ``1/2``, ``x < 3`` → ``x<3``. :func:`normalise_tag_spacing` does it in linear time.
2. **Format** ``f``: :func:`g2rpo.rewards.format.format_score` of the normalised response.
3. **Answer**: the first ``<answer>…</answer>`` block, stripped. Accuracy grades it, or the whole stripped
   (normalised) response when there is no block *or the block is empty*; structure sees ``""`` then.
4. **Gold**: the first ``<answer>`` block of the gold, stripped, when it is non-empty; else the gold as given.
5. **Structure** ``s``: 0.5 for every type except spatial grounding, whatever the answer (empty included);
   spatial grounding 0.5 iff the answer is a JSON object whose ``boxes`` is a list of 4 values ``float()``
   accepts (``"12"``, ``true`` and ``NaN`` included). 0 whenever ``f = 0``.
6. **Accuracy** ``a`` (any exception → 0): see the functions below, one per problem type.

Deviations, all on inputs the release cannot score or would hang on: a non-string gold is converted with
``str``; math and multiple choice run under a hard time limit (a timeout scores 0), and math refuses what
:mod:`g2rpo.metrics.math`'s cost guards refuse (numeric power towers, results of more than
``MAX_RESULT_DIGITS`` digits: 0, flagged as a timeout); the symbolic step of
``grade_answer`` only evaluates plain arithmetic text (digits, letters, ``+-*/^().`` and spaces, no ``**``)
— the release hands any text with at most two distinct letters to sympy's ``eval``-based parser;
``grade_answer``'s LaTeX-to-text step uses pylatexenc where installed, else a small stand-in; spatial grounding
needs ``pred_coord == gold_coord`` (the release converts nothing); an unknown problem type is an error (the
release scores it 0). ``open-ended`` accuracy is 0, as released (its ROUGE
import is commented out there); ``rules="g2rpo"`` scores it with ROUGE.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from g2rpo.metrics.extraction import first_answer_block
from g2rpo.metrics.math import tower_too_costly, tree_too_costly
from g2rpo.metrics.timeouts import ScoringTimeout, note_expiry, signals_available, time_limit
from g2rpo.rewards.errors import VerifierConfigError
from g2rpo.rewards.format import format_score
from g2rpo.rewards.verifiers import ocr as _ocr

if TYPE_CHECKING:
    from g2rpo.rewards.registry import Verifier

logger = logging.getLogger(__name__)

STRUCTURE_REWARD = 0.5
TIMEOUT_S = 3.0
"""Hard limit of one math or multiple-choice grading call (parsing and comparison together)."""

_TAG_CHARS = frozenset("<>/")
_WHITESPACE_RUN = re.compile(r"\s+")


# ---------------------------------------------------------------- response and gold
def normalise_tag_spacing(text: str) -> str:
    """Delete every whitespace run that touches a ``<``, ``>`` or ``/`` (step 1 of the module docstring).

    Equal to ``re.sub(r"\\s*(<|>|/)\\s*", r"\\1", text)``, whose leading ``\\s*`` is quadratic on long
    whitespace runs; here each run is visited once.
    """

    def keep(match: re.Match[str]) -> str:
        start, end = match.span()
        touches = (start > 0 and text[start - 1] in _TAG_CHARS) or (end < len(text) and text[end] in _TAG_CHARS)
        return "" if touches else match.group()

    return _WHITESPACE_RUN.sub(keep, text)


def reference_gold(answer: object) -> str:
    """The gold as the release reads it: its first ``<answer>`` block stripped if non-empty, else as given."""
    text = answer if isinstance(answer, str) else str(answer)
    block = first_answer_block(text)
    return block.strip() if block is not None and block.strip() else text


def reference_components(
    response: str,
    gold: str,
    verifier: Verifier,
    *,
    think_tag: str = "thinking",
    strict: bool = False,
    options: Mapping[str, object] | None = None,
) -> tuple[float, float, float]:
    """``(accuracy, format, structure)`` of one response under the release's rules; ``gold`` from
    :func:`reference_gold`. With ``strict=True`` a response without a non-empty answer block scores
    accuracy 0 instead of being graded as a whole."""
    opts = dict(options or {})
    text = normalise_tag_spacing(response)
    fmt = format_score(text, think_tag)
    block = first_answer_block(text)
    answer = block.strip() if block is not None else ""
    accuracy = 0.0 if strict and not answer else verifier(answer or text.strip(), gold, **opts)
    structure = STRUCTURE_REWARD if fmt and verifier.is_well_formed(answer, **opts) else 0.0
    return accuracy, fmt, structure


# ---------------------------------------------------------------- time limit
_warned_thread = False


def _limited(fn: Callable[[str, str], float], prediction: str, gold: str) -> float:
    """``fn(prediction, gold)`` under :data:`TIMEOUT_S`; on timeout 0, recorded with
    :func:`g2rpo.metrics.timeouts.note_expiry` (the batch scorer then flags the item instead of grading it).
    Off the main thread no signal timer exists: the call then runs unlimited (logged once); the batch
    scorer's workers call from their main thread, under their own per-item limit."""
    global _warned_thread
    warm_up()
    if signals_available():
        try:
            with time_limit(TIMEOUT_S):
                return fn(prediction, gold)
        except ScoringTimeout:
            note_expiry()
            return 0.0
    if not _warned_thread:
        _warned_thread = True
        logger.warning("reference math/multiple-choice grading off the main thread runs without a time limit")
    return fn(prediction, gold)


_WARM = False


def warm_up() -> None:
    """Import sympy and math-verify and build their parsers once, before the first limited call (a limit that
    fires during a first import leaves half-initialised modules behind). A pool initializer may call it."""
    global _WARM
    if not _WARM:
        from g2rpo.metrics.math import warm_up as warm_math

        warm_math()
        _grade_unlimited("(B)", "B")
        _math_unlimited("$\\frac{1}{2}$", "0.5")
        _WARM = True


# ---------------------------------------------------------------- accuracy per problem type
def multiple_choice(prediction: str, gold: str, *, choices: object = None) -> float:
    """mathruler ``grade_answer(prediction, gold)`` on the stripped texts (:func:`grade_answer`).

    ``choices`` is accepted for signature compatibility with ``rules="g2rpo"`` and ignored (the release
    never sees the option texts): ``B.``, ``B) dog`` and ``the answer is B`` are wrong, ``b`` and ``(B)``
    right.
    """
    return _limited(_grade_unlimited, prediction.strip(), gold.strip())


def _grade_unlimited(prediction: str, gold: str) -> float:
    return 1.0 if grade_answer(prediction, gold) else 0.0


def parse_float(text: str) -> float | None:
    """``float(text.replace(",", ""))``, ``None`` where Python's ``float`` refuses (``12 cm``, ``50%``,
    ``$5``); ``" 12 "``, ``1e3``, ``1_000`` and ``inf`` are accepted, as ``float`` accepts them."""
    try:
        return float(text.replace(",", ""))
    except (ValueError, TypeError, AttributeError):
        return None


def numerical(prediction: str, gold: str) -> float:
    """1 iff both sides parse (:func:`parse_float`) and ``round(·, 2)`` agree (``inf`` equals ``inf``)."""
    p, g = parse_float(prediction), parse_float(gold)
    return 1.0 if p is not None and g is not None and round(p, 2) == round(g, 2) else 0.0


# torch.arange(0.5, 0.975, 0.05, dtype=float32): each 0.5 + 0.05·i computed in float64, then rounded
_MRA_THRESHOLDS = np.array([0.5 + 0.05 * i for i in range(10)]).astype(np.float32)
_MRA_TOLERANCES = np.float32(1.0) - _MRA_THRESHOLDS


def regression(prediction: str, gold: str) -> float:
    """Mean relative accuracy in float32, as released: ``rel = |p − g| / (|g| + 1e-8)``, the mean over
    θ ∈ {0.50, …, 0.95} of ``1[rel < 1 − θ]``, the mean itself a float32 (so 3 of 10 is 0.30000001…).

    float32 matters at the edges: a relative error of exactly 5 % passes θ = 0.95 here (the float32 ``0.05``
    is below ``1 − float32(0.95)``) and fails under ``rules="g2rpo"``.
    """
    p, g = parse_float(prediction), parse_float(gold)
    if p is None or g is None:
        return 0.0
    with np.errstate(all="ignore"):
        p32, g32 = np.float32(p), np.float32(g)
        rel = np.abs(p32 - g32) / (np.abs(g32) + np.float32(1e-8))
        hits = np.count_nonzero(rel < _MRA_TOLERANCES)
    return float(np.float32(hits) / np.float32(len(_MRA_TOLERANCES)))


def math_equivalence(prediction: str, gold: str) -> float:
    """``math_verify.verify(parse(gold), parse(prediction))`` with math-verify's defaults, falling back to
    :func:`grade_answer` if that raises; no bare-LaTeX wrapping and no string shortcut (``rules="g2rpo"``
    has both)."""
    return _limited(_math_unlimited, prediction, gold)


def _math_unlimited(prediction: str, gold: str) -> float:
    from math_verify import parse, verify

    if any(("^" in x or "**" in x) and tower_too_costly(x) for x in (prediction, gold)):  # 9^{9^9}
        note_expiry()
        return 0.0
    try:
        gold_parsed = parse(gold, parsing_timeout=None)
        pred_parsed = parse(prediction, parsing_timeout=None)
        if tree_too_costly(gold_parsed) or tree_too_costly(pred_parsed):
            note_expiry()
            return 0.0
        return 1.0 if verify(gold_parsed, pred_parsed, timeout_seconds=None) else 0.0
    except Exception:
        return 1.0 if grade_answer(prediction, gold) else 0.0


def ocr(prediction: str, gold: str) -> float:
    """``clip(1 − WER(gold, prediction), 0, 1)`` over whitespace words; the rule of ``rules="g2rpo"``."""
    return _ocr(prediction, gold)


def open_ended(prediction: str, gold: str) -> float:
    """0: the release's ROUGE scorer is never imported, so every open-ended response scores 0 there."""
    return 0.0


def _floatable(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def json_box(text: str) -> list[float] | None:
    """The ``boxes`` of a JSON object if it is a list of 4 values ``float()`` accepts, else ``None``."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    boxes = obj.get("boxes") if isinstance(obj, dict) else None
    if not isinstance(boxes, list) or len(boxes) != 4 or not all(_floatable(v) for v in boxes):
        return None
    return [float(v) for v in boxes]


def box_iou(pred: list[float], gold: list[float]) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes; negative widths count as 0; 0 when the union is ≤ 1e-12."""
    x1, y1, x2, y2 = pred
    gx1, gy1, gx2, gy2 = gold
    inter = max(0.0, min(x2, gx2) - max(x1, gx1)) * max(0.0, min(y2, gy2) - max(y1, gy1))
    union = max(0.0, x2 - x1) * max(0.0, y2 - y1) + max(0.0, gx2 - gx1) * max(0.0, gy2 - gy1) - inter
    return inter / union if union > 1e-12 else 0.0


def spatial_grounding(
    prediction: str,
    gold: str,
    *,
    pred_coord: str = "rel1000",
    gold_coord: str = "rel1000",
    image_size: tuple[float, float] | None = None,
    pred_image_size: tuple[float, float] | None = None,
) -> float:
    """IoU of the ``boxes`` of two JSON objects (:func:`json_box` on both sides; a bare-list gold scores
    0), compared as written: the release converts no coordinates, so ``pred_coord`` must equal
    ``gold_coord`` (else :class:`VerifierConfigError`); ``image_size`` is then unused."""
    if pred_coord != gold_coord:
        raise VerifierConfigError(
            f"rules='reference' compares boxes as written, so pred_coord ({pred_coord!r}) must equal gold_coord "
            f"({gold_coord!r}); use rules='g2rpo' to convert coordinate conventions"
        )
    pred_box, gold_box = json_box(prediction), json_box(gold)
    if pred_box is None or gold_box is None:
        return 0.0
    return box_iou(pred_box, gold_box)


# ---------------------------------------------------------------- structure
def any_answer(answer: str, **_: object) -> bool:
    """Every answer is well-formed (the release's structure rule for non-grounding types)."""
    return True


def box_answer(answer: str, **_: object) -> bool:
    """:func:`json_box` accepts the answer."""
    return json_box(answer) is not None


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
