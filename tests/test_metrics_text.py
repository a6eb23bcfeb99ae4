"""Golden tables for ANLS, relaxed accuracy, OCRBench and the CharXiv approximation (benchmarks.md §2.7–2.11).

Expected values are derived by hand in the comments."""

from __future__ import annotations

import pytest

from g2rpo.metrics import compute
from g2rpo.metrics.text import anls, ocrbench, relaxed_accuracy


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("golden gate", "golden gate", 1.0),
        ("GOLDEN   Gate", "golden gate", 1.0),  # case and inner whitespace normalised; raw len 14 → dist 0
        ("golden gat", "golden gate", 1 - 1 / 11),  # dist 1, raw max length 11
        ("abxy", "abcd", 0.5),  # dist 2 / 4 → similarity exactly 0.5 is KEPT
        ("abcxyzw", "abcdef", 0.0),  # dist 4 / 7 → 0.43 < 0.5 → 0
        ("  abxy  ", "abcd", 0.75),  # dist 2 on normalised text, denominator = raw length 8
        ("1,000", "1000", 0.8),  # punctuation-sensitive: dist 1 / 5
        ("bridge", ["golden gate", "bridge"], 1.0),  # best over golds
        ("", "", 1.0),  # both empty: NL = 0
    ],
)
def test_anls_golden(pred: str, gold: str | list[str], expected: float) -> None:
    assert anls(pred, gold) == pytest.approx(expected, abs=1e-12)


def test_anls_default_extraction_strips_answer_block() -> None:
    # answer block content is stripped by the post-process, so the raw-length effect disappears: 2/4 → 0.5
    assert compute("anls", "<thinking>…</thinking><answer>  abxy  </answer>", "abcd") == 0.5


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("0.12", "12%", 1.0),  # gold 12% → 0.12
        ("12%", "12", 0.0),  # pred 0.12 vs 12
        ("12", "12%", 0.0),  # 12 vs 0.12
        ("105", "100", 1.0),  # |5| / 100 = 0.05 exactly → passes (<=)
        ("105.1", "100", 0.0),  # 0.051
        ("0.0", "0", 0.0),  # gold 0 disables tolerance → "0.0" ≠ "0"
        ("0", "0", 1.0),
        ("2018", "2017", 1.0),  # 1/2017 < 5%
        ("$45", "45", 0.0),  # float("$45") fails → string compare
        ("1,000", "1000", 0.0),
        (" 45 ", "45", 1.0),  # prediction stripped
        ("1e3", "1000", 1.0),  # Python float accepts 1e3
        ("Yes", "yes", 1.0),  # case-insensitive string compare
        ("0.51", ["cat", "0.5"], 1.0),  # best gold: 2%
    ],
)
def test_relaxed_accuracy_golden(pred: str, gold: str | list[str], expected: float) -> None:
    assert relaxed_accuracy(pred, gold) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "hme", "expected"),
    [
        ("The CATALOG", "cat", False, 1.0),  # containment inside a longer word (pitfall)
        ("hello\nworld", "hello world", False, 1.0),  # newline → space
        ("hot dog", ["xyz", "dog"], False, 1.0),  # any gold
        ("hot", ["xyz", "dog"], False, 0.0),
        ("\\frac { a } { b }", "\\frac{a}{b}", True, 1.0),  # HME: spaces removed from both
        ("\\FRAC{a}{b}", "\\frac{a}{b}", True, 0.0),  # HME is case-sensitive
        ("\\FRAC{a}{b}", "\\frac{a}{b}", False, 1.0),
    ],
)
def test_ocrbench_golden(pred: str, gold: str | list[str], hme: bool, expected: float) -> None:
    assert ocrbench(pred, gold, hme=hme) == expected


def test_ocrbench_extract_first() -> None:
    response = "<thinking>the word might be cat</thinking><answer>dog</answer>"
    assert compute("ocrbench", response, "cat") == 0.0  # scored on the extracted answer
    assert compute("ocrbench", response, "cat", extraction="none") == 1.0  # the reference pitfall


@pytest.mark.parametrize(
    ("pred", "gold", "category", "expected"),
    [
        ("1.5e3", "1500", 3, 1.0),
        ("1,500", "1500", None, 1.0),
        ("10^{-2}", "0.01", 4, 1.0),
        ("1.5 \\times 10^3", "1500", 3, 1.0),
        ("0.012", "0.01", 3, 0.0),  # rubric: 0.012 ≠ 0.01
        ("about 3", "3", 3, 0.0),
        ("β, (a)", "a, beta", 1, 1.0),  # order-free terms, greek ≡ name, (a) ≡ a
        ("alpha", "alpha, beta", 1, 0.0),  # a missing term → 0
        ("\\text{Linear}.", "linear", 2, 1.0),
        ("linear regression", "linear", 2, 0.0),
    ],
)
def test_charxiv_approximation_golden(pred: str, gold: str, category: int | None, expected: float) -> None:
    assert compute("charxiv", f"<answer>{pred}</answer>", gold, inst_category=category) == expected


def test_charxiv_is_labelled_an_approximation() -> None:
    from g2rpo.metrics import METRICS

    assert "approximation" in (METRICS["charxiv"].approximation or "")
    assert "APPROXIMATION" in (METRICS["charxiv"].fn.__doc__ or "")
