"""The metric registry: one entry per scoring rule, called uniformly through :func:`compute`.

``compute(metric, prediction, gold, **options)`` extracts the answer from the raw response with the metric's
default extraction mode (the one its reference protocol uses; option ``extraction`` overrides, option
``think_tag`` sets the reasoning tag), calls the rule, and returns a :class:`MetricResult`: the score (a finite
float in the metric's range) together with the extracted answer the rule saw, so a caller that records the
answer never extracts it a second time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from g2rpo.metrics import charxiv, choice, embspatial, mathvista, mmmu, spatial, text
from g2rpo.metrics import math as math_rules
from g2rpo.metrics.extraction import extract_answer

__all__ = ["METRICS", "Metric", "MetricResult", "compute", "get_metric", "register"]


@dataclass(frozen=True)
class Metric:
    """A registered scoring rule.

    Attributes:
        name: registry key.
        fn: ``fn(answer: str, gold, **options) -> float``, called on the *extracted* answer.
        extraction: default extraction mode (see :mod:`g2rpo.metrics.extraction`).
        benchmarks: the benchmarks (or training problem types) the rule scores.
        reference: where the rule comes from (benchmarks.md section, reference script).
        low, high: the score range.
        approximation: ``None`` for the exact reference rule; else what it approximates (a judge replaced by
            a rule, a documented deviation).
    """

    name: str
    fn: Callable[..., float]
    extraction: str
    benchmarks: tuple[str, ...]
    reference: str
    low: float = 0.0
    high: float = 1.0
    approximation: str | None = None


class MetricResult(float):
    """What :func:`compute` returns for one response: the score, a ``float`` (so ``compute(...) == 1.0`` and
    arithmetic work as before), carrying the extracted answer the rule was applied to.

    Attributes:
        score: the item score as a plain ``float`` in ``[metric.low, metric.high]``.
        answer: the extracted answer (the metric's extraction mode applied to the response).
    """

    __slots__ = ("answer",)

    def __new__(cls, score: float, answer: str) -> MetricResult:
        result = super().__new__(cls, score)
        result.answer = answer
        return result

    @property
    def score(self) -> float:
        return float(self)

    def __repr__(self) -> str:
        return f"MetricResult(score={float(self)!r}, answer={self.answer!r})"

    def __reduce__(self):
        return (MetricResult, (float(self), self.answer))


METRICS: dict[str, Metric] = {}
"""All metrics by name."""


def register(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS` (a duplicate name is an error)."""
    if metric.name in METRICS:
        raise ValueError(f"metric {metric.name!r} is already registered")
    METRICS[metric.name] = metric
    return metric


def get_metric(name: str) -> Metric:
    """The metric called ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; valid metrics: {', '.join(sorted(METRICS))}") from None


def compute(metric: str, prediction: str, gold: Any, **options: Any) -> MetricResult:
    """Score one raw model response against its gold with the named metric.

    Args:
        metric: a key of :data:`METRICS`.
        prediction: the raw model response (untrusted text; any string).
        gold: the reference answer in the form the metric documents (a string, a list of strings, a box,
            a mask, a record).
        **options: ``extraction`` (override the default extraction mode), ``think_tag`` (default
            ``"thinking"``), and the metric's own keyword options.

    Returns:
        The score (a finite float in ``[metric.low, metric.high]``; a non-finite rule value counts as
        ``metric.low``) and the extracted answer.

    Raises:
        KeyError: unknown metric. TypeError / ValueError: bad options or a malformed gold (data errors);
        never for any prediction string.
    """
    spec = get_metric(metric)
    mode = options.pop("extraction", spec.extraction)
    think_tag = options.pop("think_tag", "thinking")
    answer = extract_answer(prediction, mode, think_tag)
    value = float(spec.fn(answer, gold, **options))
    score = min(spec.high, max(spec.low, value)) if math.isfinite(value) else spec.low
    return MetricResult(score, answer)


_VLMEVALKIT = "answer_tag_then_boxed"

register(
    Metric(
        "multiple_choice",
        choice.multiple_choice,
        _VLMEVALKIT,
        ("MMMU (MC)", "MMStar", "AI2D", "MathVision (MC)"),
        "benchmarks.md §2.2–2.3b; VLMEvalKit can_infer, exact matching",
        approximation="no LLM judge for unmatched answers (scored wrong, as VLMEvalKit without an API key)",
    )
)
register(
    Metric(
        "mmbench_circular",
        choice.multiple_choice,
        _VLMEVALKIT,
        ("MMBench",),
        "benchmarks.md §2.2; per-rotation can_infer; groups via mmbench_circular_accuracy",
        approximation="no LLM judge for unmatched answers",
    )
)
register(
    Metric(
        "numeric",
        math_rules.numeric,
        "answer_tag",
        ("training: numerical",),
        "recipe §4; benchmarks.md §3.1 numerical (round to 2 decimals)",
        approximation="units and currency signs are stripped (the reference only strips commas)",
    )
)
register(
    Metric(
        "math_equiv",
        math_rules.math_equiv,
        "answer_tag",
        ("MathVerse", "MathVision (free-form)", "training: math"),
        "benchmarks.md §2.5–2.6, §3.1 math: math_verify.verify(parse(gold), parse(pred))",
        approximation="replaces the GPT extraction/judge of MathVerse and MathVision; bare LaTeX is wrapped in $…$",
    )
)
register(
    Metric(
        "iou",
        spatial.iou,
        "answer_tag",
        ("RefCOCO", "RefCOCO+", "RefCOCOg", "training: spatial grounding"),
        "benchmarks.md §2.15–2.17; OneThinker eval_bench.py (typo fixed)",
    )
)
register(
    Metric(
        "acc_iou_0.5",
        spatial.acc_iou_05,
        "answer_tag",
        ("RefCOCO", "RefCOCO+", "RefCOCOg"),
        "benchmarks.md §2.15–2.17; Acc@IoU≥0.5 (OneThinker R@0.5, lmms-eval ACC@0.5)",
    )
)
register(
    Metric(
        "point_in_mask",
        spatial.point_in_mask,
        _VLMEVALKIT,
        ("RefSpatial-Bench",),
        "benchmarks.md §2.13; VLMEvalKit RefSpatialBench + Point2DParser (output='pixel')",
        approximation="off-image points count 0 (VLMEvalKit clips them onto the border)",
    )
)
register(
    Metric(
        "robospatial",
        spatial.robospatial,
        _VLMEVALKIT,
        ("RoboSpatial-Home",),
        "benchmarks.md §2.14; VLMEvalKit RoboSpatialBench / RoboSpatial-Eval",
        approximation="correct point-in-polygon (VLMEvalKit toggles on every vertical edge)",
    )
)
register(
    Metric(
        "anls",
        text.anls,
        _VLMEVALKIT,
        ("DocVQA", "InfoVQA"),
        "benchmarks.md §2.9–2.10; RRC script / VLMEvalKit anls_compute, τ = 0.5 (0.5 kept)",
    )
)
register(
    Metric(
        "relaxed_accuracy",
        text.relaxed_accuracy,
        _VLMEVALKIT,
        ("ChartQA",),
        "benchmarks.md §2.7; pix2struct relaxed_correctness (5%, max over golds)",
    )
)
register(
    Metric(
        "ocrbench",
        text.ocrbench,
        _VLMEVALKIT,
        ("OCRBench",),
        "benchmarks.md §2.11; official example.py = VLMEvalKit OCRBench.evaluate (sum over items)",
    )
)
register(
    Metric(
        "mathvista",
        mathvista.mathvista,
        _VLMEVALKIT,
        ("MathVista",),
        "benchmarks.md §2.4; VLMEvalKit post_check prefetch (rule='vlmevalkit') or calculate_score.py",
        approximation="GPT-4 answer extraction replaced by answer extraction; list answers compared",
    )
)
register(
    Metric(
        "mmmu_open",
        mmmu.mmmu_open,
        _VLMEVALKIT,
        ("MMMU (open)",),
        "benchmarks.md §2.1; VLMEvalKit MMMU_preproc + can_infer (exact matching)",
        approximation="no LLM judge for unmatched answers",
    )
)
register(
    Metric(
        "mmmu_official_mc",
        mmmu.mmmu_official_mc,
        _VLMEVALKIT,
        ("MMMU (MC, official)",),
        "benchmarks.md §2.1; MMMU eval_utils.parse_multi_choice_response",
        approximation="no random fallback: an unparsed answer is wrong",
    )
)
register(
    Metric(
        "mmmu_official_open",
        mmmu.mmmu_official_open,
        _VLMEVALKIT,
        ("MMMU (open, official)",),
        "benchmarks.md §2.1; MMMU eval_utils.parse_open_response + eval_open",
    )
)
register(
    Metric(
        "embspatial_mcq",
        embspatial.embspatial_mcq,
        _VLMEVALKIT,
        ("EmbSpatial-Bench",),
        "benchmarks.md §2.12; VLMEvalKit EmbSpatialBench can_match_option (no judge)",
    )
)
register(
    Metric(
        "charxiv",
        charxiv.charxiv,
        _VLMEVALKIT,
        ("CharXiv (reasoning)",),
        "benchmarks.md §2.8; RULE-BASED APPROXIMATION of the GPT-4o rubric (REASONING_GRADING_INST)",
        approximation="rule-based approximation of an LLM judge: not comparable with published numbers",
    )
)
