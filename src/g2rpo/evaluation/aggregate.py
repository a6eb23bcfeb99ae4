"""Aggregation rules: per-item scores → a benchmark's reported numbers (benchmarks.md §2).

Every rule is a pure function ``(benchmark, items, metric) -> BenchmarkResult`` registered in
:data:`AGGREGATIONS`. Item scores are in [0, 1]; reported values are percent, except OCRBench's points.

* ``mean`` — mean item score × 100, with per-category and per-split means (MMStar, AI2D, MathVista,
  MathVerse, MathVision, ChartQA, CharXiv, DocVQA, InfoVQA, EmbSpatial, RefSpatial (per category:
  location / placement / unseen), RoboSpatial).
* ``circular`` — MMBench CircularEval: rows whose ``index % 1_000_000`` is equal are rotations of one
  question; a group scores 1 only if every rotation scored 1. Headline = mean over groups; the vanilla
  per-row accuracy is reported beside it; categories are counted per group.
* ``validation_split`` — MMMU_DEV_VAL: the headline is the ``validation`` split alone (dev and validation are
  reported separately, never averaged); without a ``validation`` split every row counts and a note says so.
* ``sum`` — OCRBench: the official "Final Score" is the sum of 0/1 item scores over its 1000 items. The
  headline ``score`` = 1000 × mean item score, which *is* that sum on the full benchmark and stays on the
  same scale for a ``--limit`` subset; ``points`` is the raw sum, ``accuracy`` = mean × 100 (VLMEvalKit's
  "Final Score Norm"), and categories report raw sums (as OCRBench's per-category table does).
* ``split_mean`` — RefCOCO/+/g: Acc@0.5 and mean IoU per split; the headline is the unweighted mean of the
  per-split Acc@0.5 (**choice**: the paper gives one number per dataset without saying how splits were
  combined; a single-split run gives that split's value). The item-pooled value is reported too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from statistics import fmean

from g2rpo.evaluation.records import BenchmarkResult, DataFormatError, ScoredItem

__all__ = ["AGGREGATIONS", "CIRCULAR_MODULUS", "aggregate", "group_by"]

CIRCULAR_MODULUS = 1_000_000
"""MMBench rotations of one question share ``index % CIRCULAR_MODULUS`` (VLMEvalKit's convention)."""

Aggregation = Callable[[str, Sequence[ScoredItem], str], BenchmarkResult]


def group_by(items: Sequence[ScoredItem], key: Callable[[ScoredItem], str]) -> dict[str, list[ScoredItem]]:
    """Items grouped by a non-empty key, in first-seen order (empty keys are left out)."""
    groups: dict[str, list[ScoredItem]] = defaultdict(list)
    for item in items:
        k = key(item)
        if k:
            groups[k].append(item)
    return dict(groups)


def _percent(items: Sequence[ScoredItem]) -> float:
    return 100.0 * fmean(i.score for i in items) if items else 0.0


def _breakdown(items: Sequence[ScoredItem], key: Callable[[ScoredItem], str], metric: str) -> dict[str, dict[str, float]]:
    return {k: {metric: _percent(g), "n": float(len(g))} for k, g in group_by(items, key).items()}


def _require_items(benchmark: str, items: Sequence[ScoredItem]) -> None:
    if not items:
        raise ValueError(f"{benchmark}: no scored items to aggregate")


def mean_rule(benchmark: str, items: Sequence[ScoredItem], metric: str) -> BenchmarkResult:
    """Mean item score × 100, with per-category and per-split breakdowns."""
    _require_items(benchmark, items)
    return BenchmarkResult(
        benchmark,
        metric,
        {metric: _percent(items)},
        len(items),
        per_split=_breakdown(items, lambda i: i.split, metric),
        per_category=_breakdown(items, lambda i: i.category, metric),
    )


def circular_rule(benchmark: str, items: Sequence[ScoredItem], metric: str) -> BenchmarkResult:
    """MMBench CircularEval (see module docstring). ``metric`` names the circular accuracy."""
    _require_items(benchmark, items)
    groups: dict[int, list[ScoredItem]] = defaultdict(list)
    for item in items:
        try:
            groups[int(float(item.index)) % CIRCULAR_MODULUS].append(item)
        except ValueError as err:
            raise DataFormatError(f"{benchmark}: CircularEval needs integer indices, got {item.index!r}") from err
    group_scores = {g: float(all(i.score >= 1.0 for i in rows)) for g, rows in groups.items()}
    per_category: dict[str, list[float]] = defaultdict(list)
    for g, rows in groups.items():
        if rows[0].category:
            per_category[rows[0].category].append(group_scores[g])
    return BenchmarkResult(
        benchmark,
        metric,
        {metric: 100.0 * fmean(group_scores.values()), "vanilla_accuracy": _percent(items), "n_groups": float(len(groups))},
        len(items),
        per_split=_breakdown(items, lambda i: i.split, "vanilla_accuracy"),
        per_category={c: {metric: 100.0 * fmean(s), "n_groups": float(len(s))} for c, s in per_category.items()},
    )


def validation_split_rule(benchmark: str, items: Sequence[ScoredItem], metric: str) -> BenchmarkResult:
    """MMMU: headline on the ``validation`` split only; every split reported separately."""
    _require_items(benchmark, items)
    validation = [i for i in items if i.split.lower() in ("validation", "val")]
    notes: tuple[str, ...] = ()
    if not validation:
        validation = list(items)
        notes = ("no 'validation' split in the data: the headline averages every row",)
    return BenchmarkResult(
        benchmark,
        metric,
        {metric: _percent(validation)},
        len(items),
        per_split=_breakdown(items, lambda i: i.split, metric),
        per_category=_breakdown(validation, lambda i: i.category, metric),
        notes=notes,
    )


def sum_rule(benchmark: str, items: Sequence[ScoredItem], metric: str) -> BenchmarkResult:
    """OCRBench: points on the 1000-item scale (see module docstring), raw points, percent, category sums."""
    _require_items(benchmark, items)
    per_category = {
        c: {"points": float(sum(i.score for i in g)), "n": float(len(g))}
        for c, g in group_by(items, lambda i: i.category).items()
    }
    return BenchmarkResult(
        benchmark,
        metric,
        {metric: 10.0 * _percent(items), "points": float(sum(i.score for i in items)), "accuracy": _percent(items)},
        len(items),
        per_category=per_category,
    )


def split_mean_rule(benchmark: str, items: Sequence[ScoredItem], metric: str) -> BenchmarkResult:
    """RefCOCO family: Acc@0.5 and mean IoU per split; headline = unweighted mean over splits."""
    _require_items(benchmark, items)
    splits = group_by(items, lambda i: i.split or "all")

    def miou(rows: Sequence[ScoredItem]) -> float:
        return 100.0 * fmean(r.extras.get("iou", 0.0) for r in rows)

    per_split = {s: {metric: _percent(rows), "miou": miou(rows), "n": float(len(rows))} for s, rows in splits.items()}
    return BenchmarkResult(
        benchmark,
        metric,
        {
            metric: fmean(d[metric] for d in per_split.values()),
            f"{metric}_pooled": _percent(items),
            "miou": miou(items),
        },
        len(items),
        per_split=per_split,
    )


AGGREGATIONS: dict[str, Aggregation] = {
    "mean": mean_rule,
    "circular": circular_rule,
    "validation_split": validation_split_rule,
    "sum": sum_rule,
    "split_mean": split_mean_rule,
}
"""Aggregation name → rule."""


def aggregate(rule: str, benchmark: str, items: Sequence[ScoredItem], metric: str) -> BenchmarkResult:
    """Apply the named rule; unknown name → ``KeyError`` listing the valid ones.

    Error items (:attr:`ScoredItem.error`: an undecodable image) stay in the denominator with score 0, so the
    headline is over the whole benchmark; the result counts them (``n_errors``) and a note names the first."""
    if rule not in AGGREGATIONS:
        raise KeyError(f"unknown aggregation {rule!r}; valid: {sorted(AGGREGATIONS)}")
    result = AGGREGATIONS[rule](benchmark, items, metric)
    errors = [i for i in items if i.error]
    if not errors:
        return result
    note = (
        f"{len(errors)} item(s) could not be scored and count as wrong (first: {errors[0].error}); each is "
        f"listed with its message in scores.jsonl ('error')"
    )
    return replace(result, n_errors=len(errors), notes=(*result.notes, note))
