"""The verifier registries: problem type → :class:`Verifier` (accuracy rule + well-formedness rule).

``VERIFIERS`` (``rules="g2rpo"``) and ``REFERENCE_VERIFIERS`` (``rules="reference"``, the authors' released
reward, :mod:`g2rpo.rewards.reference`) are the one extension point for reward kinds, one per rule set. Names are matched case-insensitively, with the
aliases of :func:`g2rpo.tasks.canonical_problem_type` (``MCQ``, ``numeric``, ``grounding``, ``open ended``,
...). A verifier is total: any exception inside it scores 0 and a result outside [0, 1] or not finite is
clamped/zeroed, so one bad sample can never break a training step.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from g2rpo.rewards import reference, structure, verifiers
from g2rpo.rewards.errors import VerifierConfigError

logger = logging.getLogger(__name__)

AccuracyFn = Callable[..., float]


WellFormedFn = Callable[..., bool]


@dataclass(frozen=True)
class Verifier:
    """One problem type's rules.

    ``accuracy(prediction, gold, **options) -> float`` grades the extracted answer; ``well_formed(prediction,
    **options) -> bool`` decides the structure term. ``options`` are the keyword options ``accuracy`` accepts
    (e.g. ``choices``; ``pred_coord``, ``gold_coord``, ``image_size``); others are an error. Both functions
    must be importable module-level functions: the batch scorer sends them to worker processes by reference.
    ``rules`` names the rule set the verifier belongs to; it also selects how the response is read
    (:func:`g2rpo.rewards.compose.score_components`).
    """

    name: str
    accuracy: AccuracyFn
    well_formed: WellFormedFn
    rule: str
    options: frozenset[str] = field(default=frozenset())
    rules: str = "g2rpo"

    @classmethod
    def from_functions(
        cls, name: str, accuracy: AccuracyFn, well_formed: WellFormedFn, rule: str, rules: str = "g2rpo"
    ) -> Verifier:
        """A verifier whose ``options`` are the keyword-only parameters of ``accuracy``."""
        params = inspect.signature(accuracy).parameters.values()
        options = frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
        return cls(
            name=name.lower(), accuracy=accuracy, well_formed=well_formed, rule=rule, options=options, rules=rules
        )

    def check_options(self, options: dict[str, object]) -> None:
        unknown = sorted(set(options) - self.options)
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise TypeError(f"verifier {self.name!r} got unknown option(s) {unknown}; valid options: {valid}")

    def __call__(self, prediction: str, gold: str, **options: object) -> float:
        """Accuracy in [0, 1], total in the text: exceptions and non-finite results give 0 (logged at debug
        level), except :class:`VerifierConfigError` (bad options), which propagates."""
        self.check_options(options)
        try:
            value = float(self.accuracy(prediction, gold, **options))
        except VerifierConfigError:
            raise
        except Exception as error:
            logger.debug("verifier %r raised %r; accuracy 0", self.name, error)
            return 0.0
        return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0

    def is_well_formed(self, prediction: str, **options: object) -> bool:
        """The structure rule, total: an exception means not well-formed."""
        try:
            return bool(self.well_formed(prediction, **options))
        except Exception as error:
            logger.debug("well-formedness of %r raised %r", self.name, error)
            return False


VERIFIERS: dict[str, Verifier] = {
    v.name: v
    for v in (
        Verifier.from_functions(
            "multiple choice",
            verifiers.multiple_choice,
            structure.multiple_choice_well_formed,
            "option letter match (`B`, `(B)`, `B.`, `B) text`) or the option text; metric `multiple_choice`",
        ),
        Verifier.from_functions(
            "numerical",
            verifiers.numerical,
            structure.number_well_formed,
            "numbers equal at 2 decimals after stripping commas/units; metric `numeric`",
        ),
        Verifier.from_functions(
            "regression",
            verifiers.regression,
            structure.number_well_formed,
            "mean relative accuracy over θ ∈ {0.50, …, 0.95} of 1[|p − g|/|g| < 1 − θ]",
        ),
        Verifier.from_functions(
            "math",
            verifiers.math_equivalence,
            structure.math_well_formed,
            "math-verify `verify(parse(gold), parse(pred))`, time-limited; metric `math_equiv`",
        ),
        Verifier.from_functions(
            "ocr",
            verifiers.ocr,
            structure.text_well_formed,
            "max(0, 1 − WER) over whitespace words (rapidfuzz Levenshtein on word lists)",
        ),
        Verifier.from_functions(
            "spatial grounding",
            verifiers.spatial_grounding,
            structure.grounding_well_formed,
            'IoU of `{"boxes": [x1, y1, x2, y2]}`, conventions rel1000/abs/coco_xywh; metric `iou`',
        ),
        Verifier.from_functions(
            "open-ended",
            verifiers.open_ended,
            structure.text_well_formed,
            "mean of ROUGE-1/2/L F1 (rouge-score tokenizer with stemming)",
        ),
    )
}
"""Problem type → :class:`Verifier` of ``rules="g2rpo"``. Add kinds with :func:`register_verifier`."""

REFERENCE_VERIFIERS: dict[str, Verifier] = {
    v.name: v
    for v in (
        Verifier.from_functions(
            "multiple choice",
            reference.multiple_choice,
            reference.any_answer,
            "mathruler `grade_answer` (normalised string equality, then sympy); `B.`, `B) dog` are wrong",
            "reference",
        ),
        Verifier.from_functions(
            "numerical",
            reference.numerical,
            reference.any_answer,
            "`float(x.replace(',', ''))` equal at 2 decimals; no unit stripping (`12 cm` is wrong)",
            "reference",
        ),
        Verifier.from_functions(
            "regression",
            reference.regression,
            reference.any_answer,
            "mean relative accuracy in float32, `|p − g| / (|g| + 1e-8) < 1 − θ`",
            "reference",
        ),
        Verifier.from_functions(
            "math",
            reference.math_equivalence,
            reference.any_answer,
            "math-verify `verify(parse(gold), parse(pred))`, `grade_answer` if it raises",
            "reference",
        ),
        Verifier.from_functions(
            "ocr", reference.ocr, reference.any_answer, "clip(1 − WER, 0, 1) over whitespace words", "reference"
        ),
        Verifier.from_functions(
            "spatial grounding",
            reference.spatial_grounding,
            reference.box_answer,
            'IoU of the `boxes` of two JSON objects `{"boxes": [x1, y1, x2, y2]}`, as written',
            "reference",
        ),
        Verifier.from_functions(
            "open-ended", reference.open_ended, reference.any_answer, "0 (as released)", "reference"
        ),
    )
}
"""Problem type → :class:`Verifier` of ``rules="reference"`` (the authors' released reward)."""

REGISTRIES: dict[str, dict[str, Verifier]] = {"g2rpo": VERIFIERS, "reference": REFERENCE_VERIFIERS}
"""Rule set name → its registry (the names of ``g2rpo.rewards.compose.REWARD_RULES``)."""


def _registry(rules: str) -> dict[str, Verifier]:
    if rules not in REGISTRIES:
        raise ValueError(f"unknown reward rules {rules!r}; choose one of: {', '.join(REGISTRIES)}")
    return REGISTRIES[rules]


def get_verifier(problem_type: str, rules: str = "g2rpo") -> Verifier:
    """The verifier for ``problem_type`` under ``rules`` (``"g2rpo"`` or ``"reference"``): case-insensitive,
    aliases accepted; unknown problem type → ``KeyError``, unknown rules → ``ValueError``."""
    registry = _registry(rules)
    key = str(problem_type).strip().lower()
    if key in registry:
        return registry[key]
    # Imported here: g2rpo.tasks pulls in torch, which batch-scorer worker processes never need.
    from g2rpo.tasks import canonical_problem_type

    try:
        canonical = canonical_problem_type(problem_type)
    except KeyError:
        canonical = None
    if canonical not in registry:
        raise KeyError(
            f"no verifier for problem type {problem_type!r} under rules {rules!r}; valid problem types: "
            f"{', '.join(registry)} (case-insensitive; aliases in g2rpo.tasks.PROBLEM_TYPE_ALIASES)"
        )
    return registry[canonical]


def register_verifier(verifier: Verifier, *, replace: bool = False) -> Verifier:
    """Add ``verifier`` under ``verifier.name`` (lower case) to the registry of ``verifier.rules``; an
    existing name needs ``replace=True``."""
    if verifier.name != verifier.name.strip().lower() or not verifier.name:
        raise ValueError(f"verifier names are non-empty, lower case and stripped; got {verifier.name!r}")
    registry = _registry(verifier.rules)
    if verifier.name in registry and not replace:
        raise KeyError(f"a verifier named {verifier.name!r} exists; pass replace=True to override it")
    registry[verifier.name] = verifier
    return verifier
