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
``grade_answer``'s (:mod:`g2rpo.rewards.answer_grader`) LaTeX-to-text step uses pylatexenc where installed, else a small stand-in; spatial grounding
needs ``pred_coord == gold_coord`` (the release converts nothing); an unknown problem type is an error (the
release scores it 0). ``open-ended`` accuracy is 0, as released (its ROUGE
import is commented out there); ``rules="g2rpo"`` scores it with ROUGE.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from g2rpo.metrics.extraction import first_answer_block
from g2rpo.metrics.math import tower_too_costly, tree_too_costly
from g2rpo.metrics.timeouts import ScoringTimeout, note_expiry, signals_available, time_limit
from g2rpo.rewards.answer_grader import grade_answer
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
