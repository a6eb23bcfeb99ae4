"""Evaluation harness: the paper's 18 benchmarks (recipe §9) with their official metrics, three generation
backends, a resumable per-item cache, per-category summaries and Markdown/HTML reports.

Data flow (one module each)::

    loaders/items (files → EvalItem) → prompts → backends (hf | vllm | openai) → cache
        → scoring (g2rpo.metrics) → aggregate → summary.json → report

Command line: ``g2rpo eval`` (:mod:`~g2rpo.evaluation.cli_eval`) and ``g2rpo score``
(:mod:`~g2rpo.evaluation.cli_score`).
"""

from g2rpo.evaluation.aggregate import AGGREGATIONS, aggregate
from g2rpo.evaluation.records import BenchmarkResult, DataFormatError, EvalItem, Generation, ScoredItem
from g2rpo.evaluation.registry import BENCHMARKS, CATEGORY_LABELS, Benchmark, resolve_benchmark

__all__ = [
    "AGGREGATIONS",
    "BENCHMARKS",
    "CATEGORY_LABELS",
    "Benchmark",
    "BenchmarkResult",
    "DataFormatError",
    "EvalItem",
    "Generation",
    "ScoredItem",
    "aggregate",
    "resolve_benchmark",
]
