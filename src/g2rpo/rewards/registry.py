"""The verifier registry: problem type → :class:`Verifier` (accuracy rule + well-formedness rule).

``VERIFIERS`` is the one extension point for reward kinds. Names are matched case-insensitively, with the
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

from g2rpo.rewards import structure, verifiers
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
    """

    name: str
    accuracy: AccuracyFn
    well_formed: WellFormedFn
    rule: str
    options: frozenset[str] = field(default=frozenset())

    @classmethod
    def from_functions(
        cls, name: str, accuracy: AccuracyFn, well_formed: WellFormedFn, rule: str
    ) -> Verifier:
        """A verifier whose ``options`` are the keyword-only parameters of ``accuracy``."""
        params = inspect.signature(accuracy).parameters.values()
        options = frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
        return cls(name=name.lower(), accuracy=accuracy, well_formed=well_formed, rule=rule, options=options)

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
"""Problem type → :class:`Verifier`. Add kinds with :func:`register_verifier`."""


def get_verifier(problem_type: str) -> Verifier:
    """The verifier for ``problem_type``: case-insensitive, aliases accepted; unknown → ``KeyError``."""
    key = str(problem_type).strip().lower()
    if key in VERIFIERS:
        return VERIFIERS[key]
    # Imported here: g2rpo.tasks pulls in torch, which batch-scorer worker processes never need.
    from g2rpo.tasks import canonical_problem_type

    try:
        canonical = canonical_problem_type(problem_type)
    except KeyError:
        canonical = None
    if canonical not in VERIFIERS:
        raise KeyError(
            f"no verifier for problem type {problem_type!r}; valid problem types: {', '.join(VERIFIERS)} "
            "(case-insensitive; aliases in g2rpo.tasks.PROBLEM_TYPE_ALIASES)"
        )
    return VERIFIERS[canonical]


def register_verifier(verifier: Verifier, *, replace: bool = False) -> Verifier:
    """Add ``verifier`` under ``verifier.name`` (lower case); an existing name needs ``replace=True``."""
    if verifier.name != verifier.name.strip().lower() or not verifier.name:
        raise ValueError(f"verifier names are non-empty, lower case and stripped; got {verifier.name!r}")
    if verifier.name in VERIFIERS and not replace:
        raise KeyError(f"a verifier named {verifier.name!r} exists; pass replace=True to override it")
    VERIFIERS[verifier.name] = verifier
    return verifier
