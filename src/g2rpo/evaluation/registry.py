"""The benchmark registry: the 18 benchmarks of the paper's evaluation (recipe §9, benchmarks.md §2).

Each :class:`Benchmark` knows its report category (one of the six task families), how its prompt ends
(answer kind), its item scorer (:data:`g2rpo.evaluation.scoring.SCORERS`, each a thin adapter over
:mod:`g2rpo.metrics`; the metric applies its reference protocol's answer extraction: VLMEvalKit's
``Qwen3VLChat`` post-process for the 15 VLMEvalKit benchmarks, OneThinker's first-``<answer>`` rule for
RefCOCO/+/g), its aggregation
(:data:`g2rpo.evaluation.aggregate.AGGREGATIONS`), and the columns its files must have.

Names are VLMEvalKit's dataset names. RefCOCO, RefCOCO+ and RefCOCOg take a split suffix
(``RefCOCO_testA``, ``RefCOCOg_val`` …); without one every split in the file is evaluated and reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from g2rpo.tasks import REPORT_ORDER, TASK_FAMILIES

__all__ = [
    "BENCHMARKS",
    "CATEGORY_LABELS",
    "Benchmark",
    "BenchmarkRef",
    "benchmarks_in_category",
    "resolve_benchmark",
]

CATEGORY_LABELS: Mapping[str, str] = {name: TASK_FAMILIES[name].label for name in REPORT_ORDER}
"""The paper's six report categories (ablation table order), keyed by the task-family names of
:mod:`g2rpo.tasks` and labelled by :attr:`g2rpo.tasks.TaskFamily.label`."""


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's evaluation protocol."""

    name: str
    """VLMEvalKit dataset name (the data file is ``<data_root>/<name>.tsv`` or a directory ``<name>/``)."""
    category: str
    """Report category: a key of :data:`CATEGORY_LABELS`."""
    answer_kind: str
    """Prompt tail (:data:`g2rpo.evaluation.prompts.ANSWER_KINDS`) for items with options / for all items."""
    scorer: str
    """Item scorer name in :data:`g2rpo.evaluation.scoring.SCORERS`."""
    metric: str
    """Metric name in ``summary.json`` (``accuracy``, ``anls``, ``relaxed_accuracy``, ``score``, ``acc@0.5`` …)."""
    aggregation: str = "mean"
    """Aggregation rule name in :data:`g2rpo.evaluation.aggregate.AGGREGATIONS`."""
    open_answer_kind: str = ""
    """Prompt tail for the benchmark's other items (see :attr:`kind_rule`)."""
    kind_rule: str = "options"
    """Which items get :attr:`open_answer_kind`: ``"options"`` — items without options (MMMU, MathVista,
    MathVision); ``"yes_no"`` — items whose gold is not yes/no (RoboSpatial's context items ask for a point)."""
    required: tuple[str, ...] = ("index", "question", "answer")
    """Columns a benchmark file must have (a predictions file also needs ``prediction``)."""
    multi_answer: bool = False
    """Whether ``answer`` may hold a list literal of several golds."""
    category_field: str = "category"
    """Column that fills the per-category breakdown (falls back to ``category``; empty = no breakdown)."""
    splits: tuple[str, ...] = ()
    """Valid split suffixes (RefCOCO family)."""
    points_per_percent: float = 1.0
    """Headline unit per percent (OCRBench reports points out of 1000: 10 per percent)."""
    grounding_template: str = ""
    """Question template for referring expressions (``{expression}``)."""
    note: str = ""
    """Where the rule deviates from the reference (a rule instead of an LLM judge, a fixed reference bug)."""

    def answer_kind_for(self, has_options: bool, gold: str) -> str:
        """The prompt tail of one item (see :attr:`kind_rule`)."""
        if not self.open_answer_kind:
            return self.answer_kind
        if self.kind_rule == "yes_no":
            return self.answer_kind if gold.strip().lower() in ("yes", "no") else self.open_answer_kind
        return self.answer_kind if has_options else self.open_answer_kind


_JUDGE = "rule-based substitute for VLMEvalKit's LLM judge"

_ALL: tuple[Benchmark, ...] = (
    Benchmark(
        "MMMU_DEV_VAL", "general_vqa", "multiple choice", "choice", "accuracy",
        aggregation="validation_split", open_answer_kind="short answer", category_field="category",
        note="open questions scored as VLMEvalKit does (2-way MCQ {A: gold, B: 'Other Answers'}, can_infer); "
        "exact matching, no LLM judge; headline = validation split",
    ),
    Benchmark(
        "MMBench_DEV_EN", "general_vqa", "multiple choice", "circular_choice", "circular_accuracy",
        aggregation="circular", note="CircularEval with exact matching (no ChatGPT judge for unmatched answers)",
    ),
    Benchmark("MMStar", "general_vqa", "multiple choice", "choice", "accuracy", note="exact matching, no judge"),
    Benchmark(
        "MathVista_MINI", "math", "multiple choice", "mathvista", "accuracy", open_answer_kind="numerical",
        category_field="task",
        note=f"VLMEvalKit prefetch rule only ({_JUDGE} for answer extraction); list answers compared as lists",
    ),
    Benchmark(
        "MathVerse_MINI", "math", "math", "math", "accuracy", category_field="problem_version",
        note=f"math-verify equivalence ({_JUDGE} for extraction and consistency grading)",
    ),
    Benchmark(
        "MathVision_MINI", "math", "multiple choice", "math_or_choice", "accuracy", open_answer_kind="math",
        note=f"letters via can_infer; free-form via math-verify ({_JUDGE} for extraction)",
    ),
    Benchmark("AI2D_TEST", "chart", "multiple choice", "choice", "accuracy", note="exact matching, no judge"),
    Benchmark(
        "ChartQA_TEST", "chart", "short answer", "relaxed", "relaxed_accuracy", multi_answer=True,
        category_field="split",
    ),
    Benchmark(
        "CharXiv_reasoning_val", "chart", "short answer", "charxiv", "accuracy", category_field="inst_category",
        note=f"approximate rule (numeric value equality, normalized term sets) as {_JUDGE} (GPT rubric)",
    ),
    Benchmark("DocVQA_VAL", "ocr_document", "short answer", "anls", "anls", multi_answer=True),
    Benchmark("InfoVQA_VAL", "ocr_document", "short answer", "anls", "anls", multi_answer=True),
    Benchmark(
        "OCRBench", "ocr_document", "short answer", "ocrbench", "score", aggregation="sum", multi_answer=True,
        points_per_percent=10.0,
    ),
    Benchmark("EmbSpatialBench", "spatial_reasoning", "multiple choice", "embspatial", "accuracy"),
    Benchmark(
        "RefSpatial", "spatial_reasoning", "point", "refspatial", "accuracy",
        required=("index", "question", "mask"),
        note="item score = fraction of predicted points inside the mask; per category (location/placement/unseen)",
    ),
    Benchmark(
        "RoboSpatialHome", "spatial_reasoning", "yes/no", "robospatial", "accuracy", open_answer_kind="point",
        kind_rule="yes_no",
        note="correct point-in-polygon (VLMEvalKit's vertical-edge bug not copied)",
    ),
    *(
        Benchmark(
            name, "spatial_grounding", "spatial grounding", "grounding", "acc@0.5", aggregation="split_mean",
            splits=splits, category_field="",
            grounding_template="Locate the object described by: \"{expression}\".",
            note="OneThinker eval_bench.py rule (strict {\"boxes\": [...]} JSON, 0-1000); its IoU typo fixed",
        )
        for name, splits in (
            ("RefCOCO", ("val", "testA", "testB")),
            ("RefCOCO+", ("val", "testA", "testB")),
            ("RefCOCOg", ("val", "test")),
        )
    ),
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in _ALL}
"""Benchmark name → protocol (18 entries)."""

_ALIASES: Mapping[str, str] = {
    "MMBench_DEV_EN_V11": "MMBench_DEV_EN",
    "AI2D_TEST_NO_MASK": "AI2D_TEST",
    "MathVision": "MathVision_MINI",
    "MathVerse_MINI_Vision_Only": "MathVerse_MINI",
    "DocVQA_TEST": "DocVQA_VAL",
    "InfoVQA_TEST": "InfoVQA_VAL",
}
"""Other VLMEvalKit names scored with the same protocol (the file is looked up under the given name)."""


@dataclass(frozen=True)
class BenchmarkRef:
    """A requested benchmark: ``name`` as given (also the file stem), its protocol, and a split filter."""

    name: str
    benchmark: Benchmark
    split: str = ""

    @property
    def file_stems(self) -> tuple[str, ...]:
        """File stems to look for, most specific first (``RefCOCO_testA``, then ``RefCOCO``)."""
        return (self.name, self.benchmark.name) if self.name != self.benchmark.name else (self.name,)


def valid_names() -> list[str]:
    """Every accepted name: the 18 benchmarks, their split variants and aliases."""
    names = list(BENCHMARKS)
    names += [f"{b.name}_{s}" for b in BENCHMARKS.values() for s in b.splits]
    return names + list(_ALIASES)


def resolve_benchmark(name: str) -> BenchmarkRef:
    """Look a name up; unknown → ``KeyError`` suggesting the closest valid name and listing every one."""
    name = name.strip()
    if name in BENCHMARKS:
        return BenchmarkRef(name, BENCHMARKS[name])
    if name in _ALIASES:
        return BenchmarkRef(name, BENCHMARKS[_ALIASES[name]])
    base, _, split = name.rpartition("_")
    if base in BENCHMARKS and split in BENCHMARKS[base].splits:
        return BenchmarkRef(name, BENCHMARKS[base], split)
    raise KeyError(f"unknown benchmark {name!r}{_did_you_mean(name)}; valid names: {', '.join(valid_names())}")


def _did_you_mean(name: str) -> str:
    """`` (did you mean 'MMStar'?)`` for the closest valid name (case ignored), or ``""`` when none is close."""
    names = valid_names()
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        return f" (did you mean {by_lower[name.lower()]!r}?)"
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def benchmarks_in_category(category: str) -> list[Benchmark]:
    """The registered benchmarks of one report category, in registry order."""
    if category not in CATEGORY_LABELS:
        raise KeyError(f"unknown category {category!r}; valid: {list(CATEGORY_LABELS)}")
    return [b for b in BENCHMARKS.values() if b.category == category]
