"""Aggregation rules with hand-derived numbers (benchmarks.md §2), and category averages vs the paper."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from g2rpo.evaluation.aggregate import aggregate
from g2rpo.evaluation.records import DataFormatError, ScoredItem
from g2rpo.evaluation.report import category_averages


def item(index: str, score: float, category: str = "", split: str = "", iou: float | None = None) -> ScoredItem:
    extras = {"iou": iou} if iou is not None else {}
    return ScoredItem(index, "p", "p", score, category, split, None, extras)


def test_circular_groups_need_every_rotation() -> None:
    # groups: 5 → {5: 1, 1000005: 1, 2000005: 1} all right → 1; 6 → {6: 1, 1000006: 0} → 0; 7 → {7: 1} → 1
    items = [item("5", 1), item("1000005", 1), item("2000005", 1), item("6", 1), item("1000006", 0), item("7", 1)]
    result = aggregate("circular", "MMBench_DEV_EN", items, "circular_accuracy")
    assert result.value == pytest.approx(200 / 3)  # 2 of 3 groups
    assert result.metrics["vanilla_accuracy"] == pytest.approx(500 / 6)  # 5 of 6 rows
    assert result.metrics["n_groups"] == 3


def test_circular_rejects_non_integer_index() -> None:
    with pytest.raises(DataFormatError, match="integer indices"):
        aggregate("circular", "MMBench_DEV_EN", [item("q1", 1)], "circular_accuracy")


def test_validation_split_is_the_headline() -> None:
    items = [item("1", 1, split="dev"), item("2", 1, split="dev"), item("3", 0, split="validation"), item("4", 1, split="validation")]
    result = aggregate("validation_split", "MMMU_DEV_VAL", items, "accuracy")
    assert result.value == 50.0  # validation only: (0 + 1) / 2, not the 75 of all rows
    assert result.per_split["dev"]["accuracy"] == 100.0
    only_dev = aggregate("validation_split", "MMMU_DEV_VAL", items[:2], "accuracy")
    assert only_dev.value == 100.0 and only_dev.notes


def test_ocrbench_sum_out_of_1000() -> None:
    # 1000 items, 911 right → 911 points (the paper's OCRBench number), 91.1 %
    items = [item(str(i), 1.0 if i < 911 else 0.0, category="A" if i % 2 else "B") for i in range(1000)]
    result = aggregate("sum", "OCRBench", items, "score")
    assert result.value == pytest.approx(911.0)
    assert result.metrics["points"] == 911.0
    assert result.metrics["accuracy"] == pytest.approx(91.1)
    assert result.per_category["A"]["points"] + result.per_category["B"]["points"] == 911.0
    # a 3-item subset with 2 right stays on the 1000-item scale: 1000 · 2/3; raw points 2
    subset = aggregate("sum", "OCRBench", [item("1", 1), item("2", 0), item("3", 1)], "score")
    assert subset.value == pytest.approx(2000 / 3) and subset.metrics["points"] == 2.0


def test_split_mean_refcoco() -> None:
    # val: 3/4 right, testA: 1/1, testB: 0/1 → split mean (75 + 100 + 0) / 3 = 58.33; pooled 4/6 = 66.67
    items = [item("1", 1, split="val", iou=0.9), item("2", 1, split="val", iou=0.5), item("3", 1, split="val", iou=0.6),
             item("4", 0, split="val", iou=0.1), item("5", 1, split="testA", iou=0.8), item("6", 0, split="testB", iou=0.0)]
    result = aggregate("split_mean", "RefCOCO", items, "acc@0.5")
    assert result.value == pytest.approx(175 / 3)
    assert result.metrics["acc@0.5_pooled"] == pytest.approx(400 / 6)
    assert result.metrics["miou"] == pytest.approx(100 * 2.9 / 6)
    assert result.per_split["val"]["miou"] == pytest.approx(100 * 2.1 / 4)


def test_mean_with_categories() -> None:
    items = [item("1", 1.0, "location"), item("2", 0.5, "location"), item("3", 0.0, "placement")]
    result = aggregate("mean", "RefSpatial", items, "accuracy")
    assert result.value == 50.0
    assert result.per_category["location"] == {"accuracy": 75.0, "n": 2.0}


def test_unknown_aggregation_lists_names() -> None:
    with pytest.raises(KeyError, match="circular"):
        aggregate("median", "X", [item("1", 1)], "m")


def test_category_averages_reproduce_the_paper() -> None:
    # recipe §9: full-recipe category averages are the means of the per-benchmark numbers
    ours = {"DocVQA_VAL": 96.7, "OCRBench": 911, "InfoVQA_VAL": 86.4, "RefCOCO": 93.4, "RefCOCO+": 88.2,
            "RefCOCOg": 90.4, "EmbSpatialBench": 83.1, "RefSpatial": 44.6, "RoboSpatialHome": 63.2,
            "MMMU_DEV_VAL": 71.6, "MMBench_DEV_EN": 88.2, "MMStar": 73.8}
    averages = category_averages(ours)
    assert round(averages["ocr_document"][0], 1) == 91.4  # (96.7 + 91.1 + 86.4) / 3
    assert round(averages["spatial_grounding"][0], 1) == 90.7
    assert round(averages["spatial_reasoning"][0], 1) == 63.6
    assert round(averages["general_vqa"][0], 1) == 77.9
    assert averages["general_vqa"][1] == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.booleans()), min_size=1, max_size=30, unique_by=lambda t: t[:2]))
def test_circular_matches_a_brute_force_reference(rows: list[tuple[int, int, bool]]) -> None:
    # row (question q, rotation r, right?) has VLMEvalKit index q + r·1e6
    items = [item(str(q + r * 1_000_000), float(ok)) for q, r, ok in rows]
    result = aggregate("circular", "MMBench_DEV_EN", items, "circular_accuracy")
    questions = {q for q, _, _ in rows}
    all_right = [all(ok for q2, _, ok in rows if q2 == q) for q in questions]
    assert result.value == pytest.approx(100 * sum(all_right) / len(questions))
    # a group needs every rotation: never above the per-group fraction right, averaged over groups
    # (not the row-level vanilla accuracy: groups differ in size)
    fractions = [sum(ok for q2, _, ok in rows if q2 == q) / sum(1 for q2, _, _ in rows if q2 == q) for q in questions]
    assert result.value <= 100 * sum(fractions) / len(questions) + 1e-9
