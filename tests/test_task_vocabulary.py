"""One task vocabulary: family labels, report order, envelopes and entropy bands all come from `g2rpo.tasks`."""

from __future__ import annotations

import pytest

from g2rpo.algo import Envelope
from g2rpo.evaluation import BENCHMARKS, CATEGORY_LABELS
from g2rpo.tasks import TASK_FAMILIES, entropy_band_for, envelope_for
from g2rpo.train.shaping import EnvelopeTable


def test_report_labels_are_the_papers_columns_in_its_order():
    # The paper's ablation table: General VQA | Math | Chart | Grounding | Document | Spatial.
    assert list(CATEGORY_LABELS.items()) == [
        ("general_vqa", "General VQA"), ("math", "Math"), ("chart", "Chart"),
        ("spatial_grounding", "Grounding"), ("ocr_document", "Document"), ("spatial_reasoning", "Spatial"),
    ]
    assert set(CATEGORY_LABELS) == set(TASK_FAMILIES)


def test_every_benchmark_reports_under_a_task_family():
    assert {b.category for b in BENCHMARKS.values()} <= set(TASK_FAMILIES)


def test_envelope_for_takes_an_override_or_the_default():
    assert envelope_for("math") == Envelope(150, 600, 1600, 3500)
    assert envelope_for("math", {"chart": [1, 2, 3, 4]}) == Envelope(150, 600, 1600, 3500)
    assert envelope_for("math", {"math": [10, 20, 30, 40]}) == Envelope(10.0, 20.0, 30.0, 40.0)
    assert envelope_for("ocr_document", {"ocr_document": Envelope(1, 2, 3, 4)}) == Envelope(1, 2, 3, 4)
    with pytest.raises(KeyError, match="valid task families: spatial_grounding"):
        envelope_for("maths")


def test_entropy_band_for_takes_an_override_or_the_authors_band():
    assert entropy_band_for("chart") == (0.2, 0.6)
    assert entropy_band_for("chart", {"chart": [0.1, 0.9]}) == (0.1, 0.9)
    with pytest.raises(ValueError, match=r"2 numbers \[low, high\]"):
        entropy_band_for("chart", {"chart": [0.1]})


def test_the_trainer_table_and_the_demo_resolve_envelopes_alike():
    from g2rpo.demo.rl import envelopes_for

    overrides = {"math": [5, 6, 7, 8]}
    table = EnvelopeTable("fixed", overrides)
    demo = envelopes_for({"length_envelopes": overrides})
    assert table.envelopes == demo
    assert demo["math"] == Envelope(5, 6, 7, 8) and demo["chart"] == Envelope(100, 450, 1300, 2800)
